import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import { Redis } from 'ioredis'
import pino from 'pino'
import { prepareAddScript, wrapAddStandardJob } from '../../plugin/add-script.js'
import { createEventProducer, type EventProducer, type ProducerInternals } from '../../plugin/enqueue.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import { providers } from '../../providers/index.js'
import { JOB_NAME, serializeEvent, type WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { cleanQueue, privateRedis, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

// The producer's add: BullMQ's own add script inside one of ours, which says
// whether the job already existed and takes a turn's adds in one call. Checked
// against real Redis and BullMQ: the job it writes is the job BullMQ writes,
// duplicates are told apart inside one call and across calls, each add is one
// EVALSHA and survives a Redis that lost its script cache, and a BullMQ it
// cannot match (or a Redis that will not load the script) falls back to
// queue.add with an EXISTS.
t.setTimeout(60_000)

const silent = pino({ level: 'silent' }) as unknown as FastifyBaseLogger
const provider = providers.hmac({ secret: 'add-script-secret' })

function event (id: string, payload: unknown = { id, n: 1 }): WebhookEvent {
  return { v: 1, id, source: 'acme', type: 'order.updated', payload, headers: { 'user-agent': 'test' }, receivedAt: 1_700_000_000_000, origin: 'webhook' }
}

async function producer (t: Test, url: string, queueName: string, internals?: ProducerInternals): Promise<EventProducer> {
  const options = validatePluginOptions({ provider, connection: url, source: 'acme', queueName, ackTimeoutMs: 2000, requireRedisAtBoot: true })
  const made = createEventProducer(options, silent, internals)
  t.teardown(() => made.close())
  await made.boot()
  return made
}

t.test('the script path is chosen on this BullMQ, and it tells a duplicate from a new job', async (t) => {
  const queueName = uniqueName('add-script')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const p = await producer(t, redisUrl(), queueName)
  t.equal(p.addMode, 'script')

  const first = await p.add(event('evt_1'))
  t.same(first, { ok: true, jobId: safeJobId('acme', 'evt_1'), duplicate: false })
  const again = await p.add(event('evt_1'))
  t.same(again, { ok: true, jobId: safeJobId('acme', 'evt_1'), duplicate: true })
  t.equal(await p.queue.count(), 1, 'the duplicate added nothing')
})

t.test('the job it writes is the job BullMQ writes', async (t) => {
  const queueName = uniqueName('add-script-same')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const p = await producer(t, redisUrl(), queueName)
  const ours = event('evt_ours', { nested: { list: [1, 'two', null], text: 'é ☃ \u2028' } })
  const theirs = { ...ours, id: 'evt_theirs' }
  t.ok((await p.add(ours)).ok)
  await p.queue.add(JOB_NAME, theirs, eventJobOptions(safeJobId('acme', 'evt_theirs')))

  const a = await redis.hgetall(p.queue.toKey(safeJobId('acme', 'evt_ours')))
  const b = await redis.hgetall(p.queue.toKey(safeJobId('acme', 'evt_theirs')))
  t.same(Object.keys(a).sort(), Object.keys(b).sort(), 'the same job hash fields')
  t.same(JSON.parse(a.data), ours, 'data parses to the event')
  t.equal(a.data, JSON.stringify(ours), 'data is the text BullMQ would write')
  const withoutId = (opts: string): unknown => ({ ...JSON.parse(opts), jobId: undefined })
  t.same(withoutId(a.opts), withoutId(b.opts), 'the same options')
  t.equal(a.name, b.name)
  t.ok(Math.abs(Number(a.timestamp) - Date.now()) < 60_000, 'timestamped now')

  const job = await p.queue.getJob(safeJobId('acme', 'evt_ours'))
  t.same(job?.data, ours, 'BullMQ reads it back')
  t.equal(job?.opts.attempts, eventJobOptions('x').attempts)
  t.same(await p.queue.getJobCounts('wait'), { wait: 2 }, 'both wait for a worker')
})

t.test('the payload text, when given, is stored as it is and parses to the same event', async (t) => {
  const queueName = uniqueName('add-script-text')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const p = await producer(t, redisUrl(), queueName)
  const text = '{ "id" : "evt_text",\n  "amount": 1.50, "list": [ 1, 2 ] }'
  const e = { ...event('evt_text', JSON.parse(text)), sentAt: 1_700_000_000_500, replayKey: 'rk' }
  t.ok((await p.add(e, text)).ok)
  const data = await redis.hget(p.queue.toKey(safeJobId('acme', 'evt_text')), 'data')
  t.ok(data?.includes(text), 'the verified text is kept')
  t.same(JSON.parse(data ?? ''), e, 'and it parses to the event')
})

t.test('concurrent adds, copies among them: exactly the copies are duplicates', async (t) => {
  const queueName = uniqueName('add-script-many')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const p = await producer(t, redisUrl(), queueName)
  const distinct = 150
  const ids = Array.from({ length: distinct }, (_, i) => `evt_${i}`)
  // Every tenth id twice, the copy sent after every first delivery is on its way.
  const sent = [...ids, ...ids.filter((_, i) => i % 10 === 0)]
  const outcomes = await Promise.all(sent.map(async (id) => await p.add(event(id))))
  t.ok(outcomes.every((o) => o.ok), 'every add resolved')
  const duplicates = outcomes.filter((o) => o.ok && o.duplicate).length
  t.equal(duplicates, sent.length - distinct, 'exactly the copies are duplicates')
  t.ok(outcomes.slice(0, distinct).every((o) => o.ok && !o.duplicate), 'every first delivery is new')
  t.equal(await p.queue.count(), distinct)
})

t.test('a call Redis refuses: 503, nothing half-written', async (t) => {
  const server = await privateRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => { admin.disconnect() })
  const queueName = uniqueName('add-script-oom')
  const p = await producer(t, server.url, queueName)
  await admin.config('SET', 'maxmemory', '1')
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  const outcomes = await Promise.all([p.add(event('evt_a')), p.add(event('evt_b'))])
  for (const o of outcomes) {
    t.equal(o.ok, false)
    if (!o.ok) {
      t.equal(o.reason, 'enqueue_failed')
      t.match(String((o.cause as Error).message), /OOM/)
    }
  }
  await admin.config('SET', 'maxmemory', '0')
  t.equal(await p.queue.count(), 0, 'no job was written')
  t.same(await p.add(event('evt_a')), { ok: true, jobId: safeJobId('acme', 'evt_a'), duplicate: false }, 'the retry is accepted')
})

/** The script commands (EVAL, EVALSHA, SCRIPT) clients send to the server from now on, as MONITOR reports them. */
async function scriptCommands (t: Test, url: string): Promise<string[]> {
  const monitorClient = new Redis(url)
  const monitor = await monitorClient.monitor()
  t.teardown(() => {
    monitor.disconnect()
    monitorClient.disconnect()
  })
  const seen: string[] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0]).toLowerCase()
    if (source !== 'lua' && (name === 'eval' || name === 'evalsha' || name === 'script')) seen.push(name)
  })
  return seen
}

t.test('loaded at readiness: each add is one EVALSHA', async (t) => {
  const server = await privateRedis(t)
  const p = await producer(t, server.url, uniqueName('add-script-sha'))
  t.equal(p.addMode, 'script')
  const seen = await scriptCommands(t, server.url)
  t.same(await p.add(event('evt_sha')), { ok: true, jobId: safeJobId('acme', 'evt_sha'), duplicate: false })
  t.same(await p.add(event('evt_sha')), { ok: true, jobId: safeJobId('acme', 'evt_sha'), duplicate: true })
  await waitFor(() => seen.length >= 2, 5000, 'the adds seen by MONITOR')
  t.same(seen, ['evalsha', 'evalsha'], 'one round trip per add, never an EVAL')
})

t.test('Redis lost its script cache (SCRIPT FLUSH, as after a restart): the next add still succeeds, with one EVAL', async (t) => {
  const server = await privateRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => { admin.disconnect() })
  const p = await producer(t, server.url, uniqueName('add-script-flush'))
  t.equal(p.addMode, 'script')
  t.same(await p.add(event('evt_before')), { ok: true, jobId: safeJobId('acme', 'evt_before'), duplicate: false })
  await admin.script('FLUSH')
  const seen = await scriptCommands(t, server.url)
  t.same(await p.add(event('evt_after')), { ok: true, jobId: safeJobId('acme', 'evt_after'), duplicate: false }, 'the next add succeeds')
  t.same(await p.add(event('evt_after')), { ok: true, jobId: safeJobId('acme', 'evt_after'), duplicate: true }, 'and duplicates are still told apart')
  await waitFor(() => seen.length >= 3, 5000, 'the adds seen by MONITOR')
  t.same(seen, ['evalsha', 'eval', 'evalsha'], 'NOSCRIPT, EVAL once, then EVALSHA again')
  t.equal(await p.queue.count(), 2)
})

t.test('Redis restarted: once the producer is ready again, the first add succeeds', async (t) => {
  const server = await privateRedis(t)
  const p = await producer(t, server.url, uniqueName('add-script-restart'))
  t.equal(p.addMode, 'script')
  t.ok((await p.add(event('evt_1'))).ok)
  await server.restart()
  await waitFor(() => p.ready, 15_000, 'the producer ready again')
  t.same(await p.add(event('evt_2')), { ok: true, jobId: safeJobId('acme', 'evt_2'), duplicate: false })
  t.same(await p.add(event('evt_1')), { ok: true, jobId: safeJobId('acme', 'evt_1'), duplicate: true }, 'the job from before the restart is still there (AOF)')
})

t.test('a Redis that refuses to load the script: queue.add instead', async (t) => {
  const server = await privateRedis(t, { args: ['--rename-command', 'SCRIPT', ''] })
  const p = await producer(t, server.url, uniqueName('add-script-no-load'))
  t.equal(p.addMode, 'queue')
  t.same(await p.add(event('evt_q')), { ok: true, jobId: safeJobId('acme', 'evt_q'), duplicate: false })
  t.same(await p.add(event('evt_q')), { ok: true, jobId: safeJobId('acme', 'evt_q'), duplicate: true })
})

t.test('the queue.add fallback tells duplicates apart too', async (t) => {
  const queueName = uniqueName('add-script-fallback')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const p = await producer(t, redisUrl(), queueName, { addScript: false })
  t.equal(p.addMode, 'queue')
  t.same(await p.add(event('evt_f')), { ok: true, jobId: safeJobId('acme', 'evt_f'), duplicate: false })
  t.same(await p.add(event('evt_f'), '{"id":"evt_f","n":1}'), { ok: true, jobId: safeJobId('acme', 'evt_f'), duplicate: true })
  t.same((await p.queue.getJob(safeJobId('acme', 'evt_f')))?.data, event('evt_f'))
})

t.test('a BullMQ it cannot match is not used', async (t) => {
  const url = redisUrl()
  const connection = new Redis(url, { maxRetriesPerRequest: 1 })
  t.teardown(() => { connection.disconnect() })

  // Commands BullMQ never loaded on this client: no Lua to wrap.
  const bare = new Redis(url, { maxRetriesPerRequest: 1 })
  t.teardown(() => { bare.disconnect() })
  const plain = new Queue(uniqueName('add-script-probe'), { connection })
  t.teardown(() => plain.close())
  await plain.waitUntilReady()
  t.equal(await prepareAddScript(plain, bare), undefined, 'no script on the connection')
  t.ok(await prepareAddScript(plain, connection), 'the same queue on its own connection matches')

  // Default job options change what BullMQ sends: the probe no longer matches ours.
  for (const defaultJobOptions of [{ removeOnComplete: true }, { priority: 3 }, { delay: 1000 }]) {
    const queue = new Queue(uniqueName('add-script-probe'), { connection, defaultJobOptions })
    t.teardown(() => queue.close())
    await queue.waitUntilReady()
    t.equal(await prepareAddScript(queue, connection), undefined, `not with ${JSON.stringify(defaultJobOptions)}`)
  }
})

t.test('the wrapper keeps BullMQ\'s script whole inside a function', async (t) => {
  const lua = 'local a = cmsgpack.unpack(ARGV[1])\nif ARGV[2] == "" then return -5 end\nreturn a[2] .. ""'
  const wrapped = wrapAddStandardJob(lua)
  t.ok(wrapped.includes(`local function bullmqAddStandardJob()\n${lua}\nend\n`), 'the script, unchanged, as a function body')
  t.match(wrapped, /redis\.call\('EXISTS', packed\[1\] \.\. packed\[2\]\)[\s\S]*bullmqAddStandardJob\(\)/, 'the existence check runs before the add')
})

t.test('serializeEvent with a payload text parses to the event', async (t) => {
  const e: WebhookEvent = { ...event('evt_s', { a: [1, { b: 'c' }] }), sentAt: 1, replayKey: 'k' }
  t.same(JSON.parse(serializeEvent(e, '{"a":[1,{"b":"c"}]}')), e)
  t.same(JSON.parse(serializeEvent(e, ' {\n"a" : [ 1 , { "b":"c" } ] }\n')), e)
  t.equal(serializeEvent(e), JSON.stringify(e), 'without a text it is JSON.stringify')
  const bare = event('evt_t', { x: 1 })
  t.same(JSON.parse(serializeEvent(bare, '{"x":1}')), bare, 'optional fields left out stay out')
})
