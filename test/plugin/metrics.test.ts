import t from 'tap'
import Fastify from 'fastify'
import { Registry, register as defaultRegistry } from 'prom-client'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import { PermanentError } from '../../core/hook-errors.js'
import { createPoller } from '../../poller/poller.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { runWithoutPromClient, sample } from '../helpers/metrics.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp, signed, untilReady, waitFor } from '../helpers/webhook.js'
import { SHORT_LOCKS } from '../helpers/worker.js'

// The plugin's Prometheus metrics, scraped with registry.metrics() after real
// traffic through the route, a real worker and a real poller.
t.setTimeout(90_000)

const provider = providers.hmac({ secret: 'metrics-secret', typeHeader: 'x-event-type' })

t.test('ingress metrics after real traffic: requests by outcome and reason, ack and enqueue latencies', async (t) => {
  const registry = new Registry()
  const { app } = await buildApp(t, { provider, source: 'prom', metrics: registry, acceptTypes: ['order.paid'] })
  const post = async (body: object, type = 'order.paid', headers: Record<string, string> = {}): Promise<number> => {
    const s = signed(provider, body, { type })
    return (await app.inject({ method: 'POST', url: '/v1/events', payload: s.payload, headers: { ...s.headers, ...headers } })).statusCode
  }
  t.equal(await post({ event_id: 'm1' }), 202)
  t.equal(await post({ event_id: 'm2' }), 202)
  t.equal(await post({ event_id: 'm1' }), 202)
  t.equal(await post({ event_id: 'm3' }, 'order.viewed'), 202)
  t.equal(await post({ event_id: 'm4' }, 'order.paid', { 'x-provider-signature': 'AAAA' }), 401)
  t.equal(await post({ id: 'no-event-id' }), 400)

  const text = await registry.metrics()
  const base = { name: 'prom:/v1/events', source: 'prom' }
  t.equal(sample(text, 'webhook_ingress_requests_total', { ...base, outcome: 'accepted', reason: '' }), 2)
  t.equal(sample(text, 'webhook_ingress_requests_total', { ...base, outcome: 'duplicate' }), 1)
  t.equal(sample(text, 'webhook_ingress_requests_total', { ...base, outcome: 'ignored', reason: 'type_not_accepted' }), 1)
  t.equal(sample(text, 'webhook_ingress_requests_total', { ...base, outcome: 'rejected', reason: 'no_match' }), 1)
  t.equal(sample(text, 'webhook_ingress_requests_total', { ...base, outcome: 'rejected', reason: 'missing_id' }), 1)
  t.equal(sample(text, 'webhook_ingress_ack_seconds_count', { ...base, outcome: 'accepted' }), 2)
  t.equal(sample(text, 'webhook_ingress_ack_seconds_count', { ...base, outcome: 'rejected' }), 2)
  t.equal(sample(text, 'webhook_ingress_enqueue_seconds_count', base), 3, 'one enqueue per accepted or duplicate event')
  t.ok(sample(text, 'webhook_ingress_enqueue_seconds_sum', base)! > 0)
  t.equal(sample(text, 'webhook_ingress_ack_seconds_bucket', { ...base, outcome: 'accepted', le: '+Inf' }), 2)
  t.match(text, /# TYPE webhook_ingress_requests_total counter/)
  t.match(text, /# TYPE webhook_ingress_ack_seconds histogram/)
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) t.match(line, /^# TYPE webhook_[a-z_]+ /, 'every metric carries the webhook_ prefix')
  }
})

t.test('queue gauges: jobs by state, dead letters, oldest waiting job and poller cursor lag, from Redis at scrape time', async (t) => {
  const registry = new Registry()
  const { app, queueName } = await buildApp(t, { provider, source: 'gauges', metrics: registry })
  const post = async (id: string): Promise<number> => (await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: id }) })).statusCode
  for (const id of ['g1', 'g2', 'g3']) t.equal(await post(id), 202)
  let text = await registry.metrics()
  t.equal(sample(text, 'webhook_queue_jobs', { queue: queueName, state: 'waiting' }), 3)
  t.equal(sample(text, 'webhook_queue_jobs', { queue: queueName, state: 'delayed' }), 0)
  t.equal(sample(text, 'webhook_dead_letters', { queue: queueName }), 0)
  t.ok(sample(text, 'webhook_queue_oldest_waiting_age_seconds', { queue: queueName })! >= 0)
  t.match(text, /# TYPE webhook_queue_jobs gauge/)

  // A real worker dead-letters every event; a real poller syncs once.
  const worker = createWebhookWorker({ connection: redisUrl(), queueName, ...SHORT_LOCKS, persistenceCheck: 'off', apply: () => { throw new PermanentError('nope') } })
  t.teardown(() => worker.close())
  await waitFor(() => worker.stats().deadLettered === 3, 15_000, 'three dead letters')
  const poller = createPoller({
    connection: redisUrl(),
    queueName,
    source: 'gauges',
    initialCursor: '0',
    every: 60_000,
    fetchChanges: async () => ({ events: [], cursor: '1', hasMore: false })
  })
  t.teardown(() => poller.close())
  await poller.ready()
  await poller.runOnce()

  await new Promise((resolve) => setTimeout(resolve, 1100)) // past the one-second reuse of a sample
  text = await registry.metrics()
  t.equal(sample(text, 'webhook_queue_jobs', { queue: queueName, state: 'waiting' }), 0)
  t.equal(sample(text, 'webhook_dead_letters', { queue: queueName }), 3)
  t.equal(sample(text, 'webhook_queue_oldest_waiting_age_seconds', { queue: queueName }), 0, 'nothing waits')
  const lag = sample(text, 'webhook_poller_cursor_lag_seconds', { queue: queueName, source: 'gauges' })
  t.ok(lag !== undefined && lag >= 0 && lag < 60, `the poller's lag is exported (${lag})`)

  await app.close()
  text = await registry.metrics()
  t.equal(sample(text, 'webhook_queue_jobs', { queue: queueName }), undefined, 'a closed registration takes its queue series with it')
  t.equal(sample(text, 'webhook_ingress_requests_total', { outcome: 'accepted' }), 3, 'counters stay: they are the process\'s totals')
})

t.test('two registrations in one app share one registry without collisions; a queue is sampled once; queueMetrics: false opts out', async (t) => {
  const registry = new Registry()
  const app = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const [qa, qb] = [uniqueName('prom-a'), uniqueName('prom-b')]
  const redis = testClient(t)
  t.teardown(async () => { await app.close(); await cleanQueue(redis, 'bull', qa); await cleanQueue(redis, 'bull', qb) })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName: qa, path: '/a', source: 'alpha', metrics: registry })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName: qa, path: '/a2', source: 'alpha', metrics: registry })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName: qb, path: '/b', source: 'beta', metrics: registry, queueMetrics: false })
  await app.ready()
  for (const name of app.webhooks.keys()) await untilReady(app, name)
  for (const [url, id] of [['/a', 'x1'], ['/a2', 'x2'], ['/b', 'x3'], ['/b', 'x4']]) {
    t.equal((await app.inject({ method: 'POST', url, ...signed(provider, { event_id: id }) })).statusCode, 202)
  }
  const text = await registry.metrics()
  t.equal(sample(text, 'webhook_ingress_requests_total', { name: 'alpha:/a', outcome: 'accepted' }), 1)
  t.equal(sample(text, 'webhook_ingress_requests_total', { name: 'alpha:/a2', outcome: 'accepted' }), 1)
  t.equal(sample(text, 'webhook_ingress_requests_total', { name: 'beta:/b', outcome: 'accepted' }), 2)
  t.equal(text.split('\n').filter((l) => l.startsWith('webhook_queue_jobs{') && l.includes('state="waiting"')).length, 1, 'one series for the shared queue, none for the opted-out one')
  t.equal(sample(text, 'webhook_queue_jobs', { queue: qa, state: 'waiting' }), 2)
  t.equal(sample(text, 'webhook_queue_jobs', { queue: qb, state: 'waiting' }), undefined)
})

t.test('metrics: true uses prom-client\'s default registry', async (t) => {
  t.teardown(() => defaultRegistry.clear())
  const { app } = await buildApp(t, { provider, source: 'global', metrics: true, queueMetrics: false })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'd1' }) })).statusCode, 202)
  t.equal(sample(await defaultRegistry.metrics(), 'webhook_ingress_requests_total', { name: 'global:/v1/events', outcome: 'accepted' }), 1)
})

t.test('metrics without prom-client installed: register fails with WEBHOOK_MISSING_DEPENDENCY before connecting', async (t) => {
  const r = runWithoutPromClient(t, `
      import Fastify from 'fastify'
      import { webhookPlugin, providers } from 'fastify-hybrid-webhooks'
      const app = Fastify({ logger: false })
      app.register(webhookPlugin, { provider: providers.hmac({ secret: 's' }), connection: 'redis://127.0.0.1:1', metrics: true })
      try { await app.ready(); console.log('no error') } catch (err) { console.log(JSON.stringify({ code: err.code, typeError: err instanceof TypeError, message: err.message, cause: String(err.cause) })) }
      await app.close()`)
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.equal(out.code, 'WEBHOOK_MISSING_DEPENDENCY')
  t.equal(out.typeError, true, 'a TypeError, like every register-time option error')
  t.match(out.message, /npm install prom-client/)
  t.match(out.cause, /Cannot find package prom-client/)
})
