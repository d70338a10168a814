import t from 'tap'
import { once } from 'node:events'
import { Registry } from 'prom-client'
import { validatePollerOptions } from '../../poller/resolve-poller-options.js'
import { runWithoutPromClient, sample } from '../helpers/metrics.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { makeEvents, pollSetup } from '../fixtures/poller-setup.js'

// The poller's metrics: runs and enqueued changes counted from real runs, and
// with queueMetrics the queue gauges with its own poll queue's cursor lag.

t.test('poller metrics: runs by result, enqueued changes, and its cursor lag on a custom poll queue', async (t) => {
  const registry = new Registry()
  const { queueName, poller } = pollSetup(t, 'poll-metrics')
  const pages = [makeEvents(3), makeEvents(2, 3)]
  let call = 0
  const p = poller({
    metrics: registry,
    queueMetrics: true,
    runOnStart: true,
    pollQueueName: `${queueName}-schedule`,
    fetchChanges: async () => {
      const page = pages[call] ?? []
      call++
      return { events: page, cursor: String(call), hasMore: call < pages.length }
    }
  })
  const [run] = await once(p, 'run')
  t.match(run, { reason: 'start', events: 5, hasMore: false })
  await p.ready()

  const text = await registry.metrics()
  const labels = { queue: queueName, source: 'acme' }
  t.equal(sample(text, 'webhook_poller_runs_total', { ...labels, result: 'completed' }), 1)
  t.equal(sample(text, 'webhook_poller_events_total', labels), 5)
  t.equal(sample(text, 'webhook_queue_jobs', { queue: queueName, state: 'waiting' }), 5, 'queue gauges from the poller that opted in')
  const lag = sample(text, 'webhook_poller_cursor_lag_seconds', labels)
  t.ok(lag !== undefined && lag >= 0 && lag < 30, `the lag is found through the custom poll queue (${lag})`)

  await p.close()
  t.equal(sample(await registry.metrics(), 'webhook_queue_jobs', { queue: queueName }), undefined, 'closing takes the gauges with it')
})

t.test('poller metrics are off by default; bad values are refused', async (t) => {
  const base = { connection: redisUrl(), source: 'acme', initialCursor: '0', fetchChanges: async () => ({ events: [], cursor: '0', hasMore: false }) }
  t.match(validatePollerOptions(base), { metrics: false, queueMetrics: false })
  t.throws(() => validatePollerOptions({ ...base, metrics: 'yes' as never }), { code: 'WEBHOOK_INVALID_OPTION', message: /`metrics` to be a boolean or a prom-client Registry/ })
  t.throws(() => validatePollerOptions({ ...base, queueMetrics: 1 as never }), { code: 'WEBHOOK_INVALID_OPTION', message: /`queueMetrics` to be a boolean/ })
})

t.test('poller metrics without prom-client: ready() rejects with a coded WEBHOOK_MISSING_DEPENDENCY', async (t) => {
  const queueName = uniqueName('nometrics')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const r = runWithoutPromClient(t, `
      import { createPoller } from 'fastify-hybrid-webhooks/worker'
      const poller = createPoller({ connection: process.env.REDIS_URL, source: 'nometrics', queueName: process.env.QUEUE_NAME, initialCursor: '0', runOnStart: false,
        fetchChanges: async () => ({ events: [], cursor: '0', hasMore: false }), metrics: true })
      const err = await poller.ready().then(() => undefined, (e) => e)
      console.log(JSON.stringify({ code: err?.code, message: err?.message, cause: String(err?.cause) }))
      await poller.close()`, { REDIS_URL: redisUrl(), QUEUE_NAME: queueName })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.equal(out.code, 'WEBHOOK_MISSING_DEPENDENCY')
  t.match(out.message, /npm install prom-client/)
  t.match(out.cause, /Cannot find package prom-client/)
})
