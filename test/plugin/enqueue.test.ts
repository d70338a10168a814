import t, { type Test } from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { pino } from 'pino'
import { createEventProducer, type EventProducer, type ProducerInternals } from '../../plugin/enqueue.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import type { WebhookPluginOptions } from '../../plugin/options.js'
import { providers } from '../../providers/index.js'
import { JOB_NAME, type WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { cleanQueue, privateRedis, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { waitFor } from '../helpers/wait.js'

// The producer's add path on its own, over real Redis: one job per event id
// with the event as its data and the shared job options, a duplicate told
// apart without a second job, and each failure turned into its outcome (the
// gate's refusals, a Redis that does not answer within ackTimeoutMs, a Redis
// that answers with an error, too few replicas, an event JSON cannot hold).
t.setTimeout(60_000)

const silent = pino({ level: 'silent' }) as unknown as FastifyBaseLogger
const provider = providers.hmac({ secret: 'enqueue-secret' })

function event (id: string, payload: unknown = { id, n: 1 }): WebhookEvent {
  return { v: 1, id, source: 'acme', type: 'order.updated', payload, headers: { 'user-agent': 'test' }, receivedAt: 1_700_000_000_000, origin: 'webhook' }
}

function producer (t: Test, url: string, queueName: string, options: Partial<WebhookPluginOptions> = {}, internals?: ProducerInternals): EventProducer {
  const resolved = validatePluginOptions({ provider, connection: url, source: 'acme', queueName, ackTimeoutMs: 2000, ...options })
  const made = createEventProducer(resolved, silent, internals)
  t.teardown(() => made.close())
  return made
}

async function booted (t: Test, url: string, queueName: string, options: Partial<WebhookPluginOptions> = {}, internals?: ProducerInternals): Promise<EventProducer> {
  const made = producer(t, url, queueName, { requireRedisAtBoot: true, ...options }, internals)
  await made.boot()
  return made
}

function sharedQueue (t: Test, label: string): { queueName: string, redis: Redis } {
  const queueName = uniqueName(label)
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  return { queueName, redis }
}

for (const mode of ['script', 'queue'] as const) {
  t.test(`${mode}: one job with the event's id, data and options; a duplicate adds nothing`, async (t) => {
    const { queueName } = sharedQueue(t, `enqueue-${mode}`)
    const p = await booted(t, redisUrl(), queueName, {}, mode === 'queue' ? { addScript: false } : {})
    t.equal(p.addMode, mode)
    t.ok(p.ready)
    const jobId = safeJobId('acme', 'evt_1')
    const first = event('evt_1')

    t.same(await p.add(first), { ok: true, jobId, duplicate: false })
    const job = await p.queue.getJob(jobId)
    t.equal(job?.name, JOB_NAME)
    t.same(job?.data, first, 'the event is the data')
    const expected = eventJobOptions(jobId)
    t.match(job?.opts, { attempts: expected.attempts, backoff: expected.backoff, removeOnComplete: expected.removeOnComplete, removeOnFail: false })

    const redelivered = event('evt_1', { id: 'evt_1', n: 2 })
    t.same(await p.add(redelivered), { ok: true, jobId, duplicate: true })
    t.equal(await p.queue.count(), 1, 'no second job')
    t.same((await p.queue.getJob(jobId))?.data, first, 'the first delivery is kept')

    t.same(await p.add(event('evt_2')), { ok: true, jobId: safeJobId('acme', 'evt_2'), duplicate: false }, 'another id is another job')
    t.equal(await p.queue.count(), 2)
  })
}

t.test('the payload text, when given, is what is stored', async (t) => {
  const { queueName, redis } = sharedQueue(t, 'enqueue-text')
  const p = await booted(t, redisUrl(), queueName)
  const text = '{ "id": "evt_t",  "amount": 1.50 }'
  const added = await p.add(event('evt_t', JSON.parse(text)), text)
  t.ok(added.ok)
  const data = await redis.hget(p.queue.toKey(safeJobId('acme', 'evt_t')), 'data')
  t.ok(data?.includes(`"payload":${text}`), 'the verified bytes, not a re-serialization')
})

t.test('refused by the gate: the reason, and nothing added', async (t) => {
  const unreachable = producer(t, `redis://127.0.0.1:${await freePort()}`, 'enqueue-unreachable')
  await unreachable.boot()
  t.notOk(unreachable.ready)
  t.same(await unreachable.add(event('evt_u')), { ok: false, reason: 'redis_not_ready' })

  const server = await privateRedis(t, { appendonly: false })
  const refusing = producer(t, server.url, 'enqueue-refused', { persistenceCheck: 'refuse' })
  await waitFor(() => refusing.persistence !== undefined && refusing.addMode !== undefined, 10_000, 'the queue setup and the persistence check')
  t.notOk(refusing.ready)
  t.same(await refusing.add(event('evt_r')), { ok: false, reason: 'persistence_refused' })
  t.equal(await refusing.queue.count(), 0)

  const warning = producer(t, server.url, 'enqueue-warned', { persistenceCheck: 'warn' })
  await warning.boot()
  t.match(await warning.add(event('evt_w')), { ok: true, duplicate: false }, "'warn' adds on the same Redis")
})

t.test('an event JSON cannot hold: unserializable, nothing added', async (t) => {
  const { queueName } = sharedQueue(t, 'enqueue-deep')
  const p = await booted(t, redisUrl(), queueName)
  let deep: unknown = {}
  for (let i = 0; i < 100_000; i++) deep = { deep }
  const added = await p.add(event('evt_deep', deep))
  t.match(added, { ok: false, reason: 'unserializable' })
  t.type((added as { cause?: unknown }).cause, RangeError)
  t.equal(await p.queue.count(), 0)
})

t.test('a Redis that does not answer: enqueue_timeout after ackTimeoutMs; the retry finds the late job', async (t) => {
  const server = await privateRedis(t)
  const p = await booted(t, server.url, 'enqueue-frozen', { ackTimeoutMs: 400 })
  server.signal('SIGSTOP')
  t.teardown(() => { server.signal('SIGCONT') })
  const started = Date.now()
  const added = await p.add(event('evt_f'))
  const elapsed = Date.now() - started
  t.same(added, { ok: false, reason: 'enqueue_timeout' })
  t.ok(elapsed >= 390 && elapsed < 3000, `answered at the deadline (${elapsed} ms)`)
  server.signal('SIGCONT')
  // The frozen add was already written to the socket: Redis runs it first.
  t.same(await p.add(event('evt_f')), { ok: true, jobId: safeJobId('acme', 'evt_f'), duplicate: true })
  t.equal(await p.queue.count(), 1)
})

t.test('a Redis that answers with an error: enqueue_failed with the cause', async (t) => {
  const server = await privateRedis(t)
  const p = await booted(t, server.url, 'enqueue-oom')
  const admin = testClient(t, server.url)
  await admin.config('SET', 'maxmemory', '1')
  const added = await p.add(event('evt_oom'))
  t.match(added, { ok: false, reason: 'enqueue_failed' })
  t.match(String((added as { cause?: unknown }).cause), /OOM/)
  await admin.config('SET', 'maxmemory', '0')
  t.equal(await p.queue.count(), 0)
})

t.test('waitReplicas without a replica: not_replicated within ackTimeoutMs, the job on the primary', async (t) => {
  const server = await privateRedis(t)
  const p = await booted(t, server.url, 'enqueue-replicas', { ackTimeoutMs: 1500, waitReplicas: 1 })
  const started = Date.now()
  const added = await p.add(event('evt_rep'))
  const elapsed = Date.now() - started
  t.match(added, { ok: false, reason: 'not_replicated' })
  t.match(String((added as { cause?: unknown }).cause), /^Error: 0 of 1 replicas confirmed the job within \d+ ms$/)
  t.ok(elapsed < 3000, `within ackTimeoutMs (${elapsed} ms)`)
  t.equal(await p.queue.count(), 1, 'the primary has it: the retry is a duplicate')
})
