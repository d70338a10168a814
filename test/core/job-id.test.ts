import t from 'tap'
import { randomBytes, randomInt } from 'node:crypto'
import { Queue } from 'bullmq'
import { safeJobId } from '../../core/job-id.js'
import { redisUrl, testClient, uniqueName, cleanQueue } from '../helpers/redis.js'

function randomId (): string {
  switch (randomInt(9)) {
    case 0: return String(randomInt(1e12)) // digits only
    case 1: return `${randomInt(1000)}:${randomInt(1000)}:x` // colons
    case 2: return `${randomInt(1e6)}.${randomInt(1e6)}` // dots, numeric-looking
    case 3: return Array.from({ length: randomInt(1, 20) }, () => String.fromCodePoint(randomInt(0x20, 0x2FFFF))).join('') // unicode
    case 4: return randomBytes(randomInt(1, 64)).toString('latin1') // arbitrary code units below 256
    case 5: return 'x'.repeat(randomInt(100, 10240)) + randomInt(1e9) // long, up to 10 KB
    case 6: return ['%3A', '%', ':', '%25', '%u', '\uD800', '\uDC00'][randomInt(7)] + randomInt(100) // escape look-alikes and lone surrogates
    case 7: return randomBytes(randomInt(0, 40)).toString('base64')
    default: return `evt_${randomBytes(12).toString('hex')}`
  }
}

t.test('shape: never integer-like, never ":", bounded, deterministic', async (t) => {
  for (const id of ['0', '123', '-1', '1e3', '00', ':', 'a:b', '', ' ', '12.5', 'x'.repeat(10240)]) {
    const jobId = safeJobId('acme', id)
    t.notOk(jobId.includes(':'), `no colon for ${JSON.stringify(id.slice(0, 20))}`)
    t.notOk(/^-?\d+$/.test(jobId), 'not integer-like')
    t.ok(Buffer.byteLength(jobId) <= 63 + 1 + 128, 'bounded')
    t.equal(safeJobId('acme', id), jobId, 'deterministic')
  }
  t.equal(safeJobId('acme', 'evt_1'), 'acme.evt_1', 'readable for ordinary ids')
  t.equal(safeJobId('acme', 'a:b%c'), 'acme.a%3Ab%25c')
})

t.test('injective over thousands of random ids, including tricky neighbours', async (t) => {
  const ids = new Set<string>()
  for (let i = 0; i < 5000; i++) ids.add(randomId())
  for (const id of ['a:b', 'a%3Ab', 'a%253Ab', '\uD800', '\uD801', '\uDC00', '%uD800', '%u', 'a', 'a%', 'x'.repeat(200), 'x'.repeat(201)]) ids.add(id)
  const seen = new Map<string, string>()
  let malformed = 0
  for (const id of ids) {
    const jobId = safeJobId('acme', id)
    const other = seen.get(jobId)
    if (other !== undefined && other !== id) t.fail(`collision: ${JSON.stringify(id.slice(0, 40))} and ${JSON.stringify(other.slice(0, 40))}`)
    seen.set(jobId, id)
    // Redis stores keys as UTF-8: distinct ids must stay distinct as bytes too.
    if (Buffer.from(jobId).toString() !== jobId) malformed++
  }
  t.equal(malformed, 0, 'every job id survives a UTF-8 round trip')
  t.equal(seen.size, ids.size, 'one job id per distinct id')
  // the same id under different sources never collides
  t.not(safeJobId('acme', 'x.y'), safeJobId('acme-x', 'y'))
})

t.test('rejects bad sources and non-string ids with a TypeError', async (t) => {
  t.throws(() => safeJobId('1acme', 'x'), TypeError)
  t.throws(() => safeJobId('ac:me', 'x'), TypeError)
  t.throws(() => safeJobId('a.b', 'x'), TypeError)
  t.throws(() => safeJobId('', 'x'), TypeError)
  t.throws(() => safeJobId('acme', 42 as unknown as string), /Expected `id` to be a string/)
})

t.test('BullMQ accepts every generated id, and dedupes on it', async (t) => {
  const queueName = uniqueName('jobid')
  const client = testClient(t)
  const queue = new Queue(queueName, { connection: { url: redisUrl() } as never })
  t.teardown(async () => {
    await queue.close()
    await cleanQueue(client, 'bull', queueName)
  })
  const ids = Array.from({ length: 2000 }, randomId)
  ids.push('0', '42', ':', '1:2', 'x'.repeat(10240))
  const distinct = new Set(ids)
  const jobs = await queue.addBulk([...distinct].map((id) => ({ name: 'webhook', data: {}, opts: { jobId: safeJobId('acme', id) } })))
  t.equal(jobs.length, distinct.size)
  t.equal(await queue.count(), distinct.size, 'every id became its own job')
  await queue.add('webhook', {}, { jobId: safeJobId('acme', '42') })
  t.equal(await queue.count(), distinct.size, 're-adding an id adds nothing')
})
