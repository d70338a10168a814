import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { serveWorkerOps, type WorkerOps } from '../../worker/ops-server.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { privateRedis } from '../helpers/redis.js'
import { Queue } from 'bullmq'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { makeEvent, SHORT_LOCKS, waitFor } from '../helpers/worker.js'

// serveWorkerOps(): /metrics and /healthz of a real worker on a real Redis,
// over a real socket.
t.setTimeout(60_000)

async function serve (t: Test, options: Parameters<typeof serveWorkerOps>[0]): Promise<WorkerOps> {
  const ops = await serveWorkerOps(options)
  t.teardown(() => ops.close())
  return ops
}

t.test('/healthz and /metrics of a worker: 200 while healthy, the worker\'s metric names; Redis stopped: warn (503 with failOn: warn); back, then closed: 503', async (t) => {
  // A server of its own: the test stops it.
  const server = await privateRedis(t)
  const queueName = 'ops-events'
  const producer = new Queue(queueName, { connection: { host: server.host, port: server.port, maxRetriesPerRequest: 1 } })
  t.teardown(() => producer.disconnect())
  const registry = new Registry()
  const handle = createWebhookWorker({ connection: server.url, queueName, ...SHORT_LOCKS, metrics: registry, apply: () => {} })
  t.teardown(() => handle.close({ timeoutMs: 1000 }))
  await handle.waitUntilReady()
  const ops = await serve(t, { port: 0, host: '127.0.0.1', metrics: registry, health: handle })
  const strict = await serve(t, { port: 0, host: '127.0.0.1', health: () => handle.health(), failOn: 'warn' })
  t.match(ops.url, /^http:\/\/127\.0\.0\.1:\d+$/)

  const event = makeEvent({ id: 'ops-1' })
  await producer.add('webhook', event, eventJobOptions(safeJobId(event.source, event.id)))
  await producer.disconnect()
  await waitFor(() => handle.stats().applied === 1, 10_000, 'the event applied')

  const healthy = await fetch(`${ops.url}/healthz`)
  t.equal(healthy.status, 200)
  t.match(healthy.headers.get('content-type'), /^application\/json/)
  t.match(await healthy.json(), { status: 'pass', running: true, redis: { status: 'pass' }, stats: { applied: 1 } })
  t.equal((await fetch(`${strict.url}/healthz`)).status, 200, 'pass is 200 under failOn: warn too')

  const metrics = await fetch(`${ops.url}/metrics`)
  t.equal(metrics.status, 200)
  t.equal(metrics.headers.get('content-type'), registry.contentType)
  t.match(metrics.headers.get('content-type'), /^text\/plain; version=0\.0\.4/, 'the Prometheus text format')
  const text = await metrics.text()
  for (const name of ['webhook_worker_events_total', 'webhook_worker_retries_total', 'webhook_worker_dead_lettered_total', 'webhook_worker_apply_seconds']) {
    t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
  }
  t.match(text, /^webhook_worker_events_total\{queue="[^"]+",source="acme",result="applied"\} 1$/m, 'the applied event is counted')
  t.equal(await (await fetch(`${strict.url}/metrics`)).status, 404, 'no metrics asked for: 404')

  await server.kill()
  await waitFor(async () => (await handle.health()).status === 'warn', 10_000, 'the worker to notice')
  const down = await fetch(`${ops.url}/healthz`)
  t.equal(down.status, 200, 'a liveness probe does not restart a worker that waits out a Redis outage')
  t.match(await down.json(), { status: 'warn', redis: { status: 'warn' } })
  const strictDown = await fetch(`${strict.url}/healthz`)
  t.equal(strictDown.status, 503, 'failOn: warn answers 503 while Redis is stopped')
  t.match(await strictDown.json(), { status: 'warn', message: /Redis/ })

  // Back up before closing: a worker closed while Redis is away can leave
  // BullMQ's lock-extender timer behind, and this process would not exit.
  await server.restart()
  await waitFor(async () => (await fetch(`${strict.url}/healthz`)).status === 200, 15_000, 'healthy again')
  await handle.close({ timeoutMs: 1000 })
  const closed = await fetch(`${ops.url}/healthz`)
  t.equal(closed.status, 503)
  t.match(await closed.json(), { status: 'fail', message: 'the worker is closed' })
})

t.test('404 elsewhere, 405 for other methods, HEAD answered without a body, a throwing check is a 503', async (t) => {
  const registry = new Registry()
  let throwing = false
  const ops = await serve(t, {
    port: 0,
    host: '127.0.0.1',
    metrics: registry,
    health: async () => {
      if (throwing) throw new Error('boom')
      return { status: 'pass', running: true, redis: { status: 'pass' }, stats: {} as never }
    }
  })
  t.equal((await fetch(`${ops.url}/`)).status, 404)
  t.equal((await fetch(`${ops.url}/metricsx`)).status, 404)
  t.equal((await fetch(`${ops.url}/healthz?verbose=1`)).status, 200, 'a query string is ignored')
  const post = await fetch(`${ops.url}/metrics`, { method: 'POST' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET, HEAD')
  t.equal((await fetch(`${ops.url}/healthz`, { method: 'DELETE' })).status, 405)
  const head = await fetch(`${ops.url}/healthz`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
  throwing = true
  const failed = await fetch(`${ops.url}/healthz`)
  t.equal(failed.status, 503)
  t.match(await failed.json(), { status: 'fail', message: 'the health check threw: boom' })
})

t.test('metrics: true serves prom-client\'s default registry', async (t) => {
  const prom = await import('prom-client')
  const counter = new prom.Counter({ name: 'ops_server_test_total', help: 'a test counter' })
  t.teardown(() => prom.register.removeSingleMetric('ops_server_test_total'))
  counter.inc()
  const ops = await serve(t, { port: 0, host: '127.0.0.1', metrics: true })
  t.match(await (await fetch(`${ops.url}/metrics`)).text(), /^ops_server_test_total 1$/m)
  t.equal((await fetch(`${ops.url}/healthz`)).status, 404, 'no health asked for: 404')
})

t.test('bad options are WEBHOOK_INVALID_OPTION; a taken port is the listen error', async (t) => {
  const invalid = { code: 'WEBHOOK_INVALID_OPTION' }
  const err = await serveWorkerOps({ port: -1, metrics: true }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof TypeError, 'a TypeError, as every bad option is')
  t.match(err, { ...invalid, message: /`port`/ })
  await t.rejects(serveWorkerOps({ port: 0, metrics: 'yes' as never }), { ...invalid, message: /`metrics`/ })
  await t.rejects(serveWorkerOps({ port: 0, health: {} as never }), { ...invalid, message: /`health`/ })
  await t.rejects(serveWorkerOps({ port: 0, metrics: true, failOn: 'pass' as never }), { ...invalid, message: /`failOn`/ })
  await t.rejects(serveWorkerOps({ port: 0, metrics: true, prot: 1 } as never), { ...invalid, message: /Unknown option `prot`/ })
  await t.rejects(serveWorkerOps({ port: 0 }), { ...invalid, message: /`metrics` or `health`/ })
  const ops = await serve(t, { port: 0, host: '127.0.0.1', metrics: true })
  const port = Number(new URL(ops.url).port)
  await t.rejects(serveWorkerOps({ port, host: '127.0.0.1', metrics: true }), { code: 'EADDRINUSE' })
})
