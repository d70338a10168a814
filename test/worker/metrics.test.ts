import t from 'tap'
import { once } from 'node:events'
import { Registry } from 'prom-client'
import { PermanentError } from '../../core/hook-errors.js'
import { validateWorkerOptions } from '../../worker/resolve-options.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { runWithoutPromClient, sample } from '../helpers/metrics.js'
import { cleanQueue, privateRedis, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { makeEvent, queueFixture, SHORT_LOCKS, startWorker, waitFor } from '../helpers/worker.js'

// The worker's metrics, from real attempts on a real queue, and its liveness check.
t.setTimeout(90_000)

interface State { id: string, v: number }

t.test('worker metrics after real attempts: applied, shared hydrate calls, stale, duplicate, retried, dead-lettered, latencies, queue gauges', async (t) => {
  const registry = new Registry()
  const q = queueFixture(t, redisUrl(), 'worker-metrics')
  const states = new Map<string, State>([['o1', { id: 'o1', v: 2 }]])
  const failedOnce = new Set<string>()
  const reports: AttemptReport[] = []
  const handle = await startWorker<State>(t, q, {
    metrics: registry,
    queueMetrics: true,
    concurrency: 1,
    retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 100 },
    objectKey: (event) => String((event.payload as { object_id: string }).object_id),
    version: (state) => state.v,
    hydrateCacheMs: 60_000,
    hydrate: (event) => states.get(String((event.payload as { object_id: string }).object_id)) ?? null,
    apply: (_state, event) => {
      const how = (event.payload as { how?: string }).how
      if (how === 'permanent') throw new PermanentError('cannot apply this one')
      if (how === 'flaky' && !failedOnce.has(event.id)) {
        failedOnce.add(event.id)
        throw new Error('try again')
      }
    }
  })
  handle.on('attempt', (report) => reports.push(report))
  const settled = async (n: number): Promise<void> => { await waitFor(() => reports.filter((r) => r.outcome !== 'retry').length >= n, 15_000, `${n} finished attempts`) }

  // Two events of one object received before its fetch: one hydrate call, one served from it.
  const early = Date.now() - 10_000
  const e1 = makeEvent({ id: 'm-e1', payload: { object_id: 'o1' }, receivedAt: early })
  await q.add(e1)
  await q.add(makeEvent({ id: 'm-e2', payload: { object_id: 'o1' }, receivedAt: early }))
  await settled(2)
  // The provider now answers an older state: skipped as stale.
  states.set('o1', { id: 'o1', v: 1 })
  await q.add(makeEvent({ id: 'm-e3', payload: { object_id: 'o1' } }))
  await settled(3)
  await q.add(e1, 'm-e1-again') // the same event under another job id: a duplicate
  states.set('o2', { id: 'o2', v: 1 })
  await q.add(makeEvent({ id: 'm-e4', payload: { object_id: 'o2', how: 'flaky' } }))
  await q.add(makeEvent({ id: 'm-e5', payload: { object_id: 'o3', how: 'permanent' } }))
  await settled(6)
  await waitFor(() => handle.stats().deadLettered === 1, 10_000, 'the dead letter')

  const text = await registry.metrics()
  const base = { queue: q.queueName, source: 'acme' }
  t.equal(sample(text, 'webhook_worker_events_total', { ...base, result: 'applied' }), 3, 'e1, e2 and e4 (after its retry)')
  t.equal(sample(text, 'webhook_worker_events_total', { ...base, result: 'stale' }), 1)
  t.equal(sample(text, 'webhook_worker_events_total', { ...base, result: 'duplicate' }), 1)
  t.equal(sample(text, 'webhook_worker_retries_total', { ...base, stage: 'apply' }), 1)
  t.equal(sample(text, 'webhook_worker_dead_lettered_total', { ...base, stage: 'apply' }), 1)
  const saved = (sample(text, 'webhook_worker_hydrate_calls_saved_total', { queue: q.queueName, reason: 'cache' }) ?? 0) +
    (sample(text, 'webhook_worker_hydrate_calls_saved_total', { queue: q.queueName, reason: 'coalesced' }) ?? 0)
  t.equal(saved, 1, 'e2 took e1\'s state')
  t.equal(saved, handle.stats().coalesced + handle.stats().cacheHits, 'the same count as the worker\'s stats')
  const hydrated = reports.filter((r) => r.hydrateMs !== undefined).length
  t.equal(sample(text, 'webhook_worker_hydrate_seconds_count', base), hydrated, 'one hydrate observation per attempt that hydrated')
  t.equal(sample(text, 'webhook_worker_apply_seconds_count', base), reports.filter((r) => r.applyMs !== undefined).length)
  t.ok(sample(text, 'webhook_worker_apply_seconds_count', base)! >= 4)
  t.equal(sample(text, 'webhook_dead_letters', { queue: q.queueName }), 1, 'queue gauges from a worker that opted in')
  t.equal(sample(text, 'webhook_queue_jobs', { queue: q.queueName, state: 'waiting' }), 0)

  await handle.close()
  t.equal(sample(await registry.metrics(), 'webhook_dead_letters', { queue: q.queueName }), undefined, 'closing takes the gauges with it')
})

t.test('worker metrics: an attempt over the rate limit counts as postponed, a dead letter without a source has an empty one', async (t) => {
  const registry = new Registry()
  const q = queueFixture(t, redisUrl(), 'worker-metrics-limit')
  const handle = await startWorker(t, q, {
    metrics: registry,
    concurrency: 1,
    rateLimit: { max: 1, duration: 60_000 },
    hydrate: (event) => event.payload,
    apply: () => {}
  })
  await q.add(makeEvent({ id: 'lim-1' }))
  await q.add(makeEvent({ id: 'lim-2' }))
  await q.queue.add('webhook', 'not an event', { jobId: 'raw.lim' })
  await waitFor(() => handle.stats().rateLimited >= 1 && handle.stats().deadLettered === 1, 15_000, 'a rate-limited attempt and a dead letter')
  const text = await registry.metrics()
  t.equal(sample(text, 'webhook_worker_postponed_total', { queue: q.queueName, source: 'acme', reason: 'rate_limited' }), handle.stats().rateLimited)
  t.equal(sample(text, 'webhook_worker_dead_lettered_total', { queue: q.queueName, source: '', stage: 'decode' }), 1)
  t.equal(sample(text, 'webhook_queue_jobs', { queue: q.queueName }), undefined, 'no queue gauges unless asked for')
})

t.test('worker metrics are off by default, queue gauges too; bad values are refused', async (t) => {
  const base = { connection: redisUrl(), apply: () => {} }
  t.match(validateWorkerOptions(base), { metrics: false, queueMetrics: false })
  t.throws(() => validateWorkerOptions({ ...base, metrics: {} as never }), { code: 'WEBHOOK_INVALID_OPTION', message: /`metrics` to be a boolean or a prom-client Registry/ })
  t.throws(() => validateWorkerOptions({ ...base, queueMetrics: 'yes' as never }), { code: 'WEBHOOK_INVALID_OPTION', message: /`queueMetrics` to be a boolean/ })
})

t.test('health(): pass while running; warn with Redis killed (the worker waits it out); fail once closed', async (t) => {
  const server = await privateRedis(t)
  const queueName = uniqueName('worker-health')
  const handle = createWebhookWorker({ connection: server.url, queueName, ...SHORT_LOCKS, apply: () => {} })
  t.teardown(() => handle.close({ timeoutMs: 1000 }))
  const starting = await handle.health()
  t.ok(['warn', 'pass'].includes(starting.status))
  await handle.waitUntilReady()
  const up = await handle.health()
  t.match(up, { status: 'pass', running: true, redis: { status: 'pass' }, stats: { applied: 0 } })
  t.notOk('message' in up)

  await server.kill()
  const started = Date.now()
  const down = await handle.health()
  t.ok(Date.now() - started < 2000, 'answered without waiting for Redis')
  t.match(down, { status: 'warn', running: true, redis: { status: 'warn', message: /Redis is not reachable|did not answer/ } })

  await server.restart()
  await waitFor(async () => (await handle.health()).status === 'pass', 15_000, 'pass again')
  await handle.close({ timeoutMs: 1000 })
  t.match(await handle.health(), { status: 'fail', message: 'the worker is closed' })
})

t.test('health(): a worker that refused to start fails', async (t) => {
  const q = queueFixture(t, redisUrl(), 'worker-health-refused')
  await startWorker(t, q, { apply: () => {} })
  const other = createWebhookWorker({ connection: redisUrl(), queueName: q.queueName, lockDuration: 5000, stalledInterval: 500, apply: () => {} })
  const [err] = await Promise.all([other.waitUntilReady().then(() => undefined, (e: unknown) => e), once(other, 'error').catch(() => undefined)])
  t.match(err, { code: 'WEBHOOK_WORKER_LOCK_MISMATCH' })
  t.match(await other.health(), { status: 'fail', running: false, message: /^the worker refused to start: / })
  await other.close()
})

t.test('worker metrics without prom-client: waitUntilReady rejects with WEBHOOK_MISSING_DEPENDENCY', async (t) => {
  const queueName = uniqueName('nometrics-worker')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const r = runWithoutPromClient(t, `
      import { createWebhookWorker } from 'fastify-hybrid-webhooks/worker'
      const handle = createWebhookWorker({ connection: process.env.REDIS_URL, queueName: process.env.QUEUE_NAME, apply: () => {}, metrics: true, persistenceCheck: 'off' })
      const err = await handle.waitUntilReady().then(() => undefined, (e) => e)
      console.log(JSON.stringify({ code: err?.code, message: err?.message, cause: String(err?.cause) }))
      await handle.close({ timeoutMs: 1000 })`, { REDIS_URL: redisUrl(), QUEUE_NAME: queueName })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.equal(out.code, 'WEBHOOK_MISSING_DEPENDENCY')
  t.match(out.message, /npm install prom-client/)
  t.match(out.cause, /Cannot find package prom-client/)
})
