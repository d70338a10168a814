import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { queueKeyBase } from '../../core/keys.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { privateRedis } from '../helpers/redis.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

t.test('two workers with different lock settings: the second refuses to start and takes no job', async (t) => {
  const q = queueFixture(t)
  let applied = 0
  await startWorker(t, q, { apply: async () => { applied++ } })
  const second = createWebhookWorker({
    connection: q.url, queueName: q.queueName, lockDuration: 2000, stalledInterval: 500, apply: async () => { throw new Error('must not run') }
  })
  t.teardown(async () => { await second.close() })
  const err = await second.waitUntilReady().catch((e: unknown) => e) as Error & { code?: string }
  t.equal(err.code, 'WEBHOOK_WORKER_LOCK_MISMATCH')
  t.match(err.message, /lockDuration=1000 stalledInterval=500 maxStalledCount=2, this one lockDuration=2000/)
  t.equal(second.worker.isRunning(), false)
  for (let i = 0; i < 5; i++) await q.add(makeEvent())
  await waitFor(() => applied === 5, 5000, 'the first worker applies everything')
})

t.test('workers with the same settings share the queue; once the others stop, new settings can start', async (t) => {
  const q = queueFixture(t)
  const a = await startWorker(t, q, { apply: async () => {} })
  const b = await startWorker(t, q, { apply: async () => {} })
  t.equal(a.worker.isRunning() && b.worker.isRunning(), true)
  await a.close()
  await b.close()
  const c = await startWorker(t, q, { maxStalledCount: 5, apply: async () => {} })
  t.equal(c.worker.isRunning(), true)
})

t.test('an entry of a worker that died without closing lapses after three heartbeats', async (t) => {
  const q = queueFixture(t)
  const key = `${queueKeyBase(q.prefix, q.queueName)}workers`
  await q.redis.hset(key, 'dead-worker', `${Date.now() - 1}|lockDuration=9 stalledInterval=9 maxStalledCount=9`)
  await q.redis.hset(key, 'live-worker', `${Date.now() + 60_000}|lockDuration=1000 stalledInterval=500 maxStalledCount=2`)
  const w = await startWorker(t, q, { apply: async () => {} })
  t.equal(w.worker.isRunning(), true)
  t.equal(await q.redis.hexists(key, 'dead-worker'), 0, 'the lapsed entry was removed')
  await w.close()
  const entries = await q.redis.hkeys(key)
  t.same(entries, ['live-worker'], 'close removed its own entry only')
})

t.test('a refusal nobody waits for is emitted as an error event', async (t) => {
  const q = queueFixture(t)
  await startWorker(t, q, { apply: async () => {} })
  const second = createWebhookWorker({ connection: q.url, queueName: q.queueName, maxStalledCount: 0, ...{ lockDuration: 1000, stalledInterval: 500 }, apply: async () => {} })
  t.teardown(async () => { await second.close() })
  const err = await new Promise<Error & { code?: string }>((resolve) => second.once('error', resolve))
  t.equal(err.code, 'WEBHOOK_WORKER_LOCK_MISMATCH')
})

t.test('persistenceCheck: refuse refuses a Redis without AOF; warn logs and starts', async (t) => {
  const server = await privateRedis(t, { appendonly: false })
  const q = queueFixture(t, server.url)
  const refused = createWebhookWorker({ connection: server.url, queueName: q.queueName, persistenceCheck: 'refuse', apply: async () => {} })
  const err = await refused.waitUntilReady().catch((e: unknown) => e) as Error & { code?: string }
  t.equal(err.code, 'WEBHOOK_PERSISTENCE')
  t.match(err.message, /appendonly is off/)
  await refused.close()

  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      cb()
    }
  })
  const warned = await startWorker(t, q, { logger: pino({ level: 'warn' }, stream), apply: async () => {} })
  t.equal(warned.worker.isRunning(), true)
  t.match(lines, [{ level: 40, msg: 'Redis persistence check', err: { message: /appendonly is off/ } }])
  await warned.close()

  const off = await startWorker(t, q, { persistenceCheck: 'off', apply: async () => {} })
  t.equal(off.worker.isRunning(), true)
  await off.close()
})

t.test('close right after create stops a start in progress without an error', async (t) => {
  const q = queueFixture(t)
  const w = createWebhookWorker({ connection: q.url, queueName: q.queueName, apply: async () => {} })
  let errors = 0
  w.on('error', () => { errors++ })
  await w.close()
  await sleep(200)
  t.equal(errors, 0)
  t.equal(w.worker.isRunning(), false)
})
