import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { WebhookPluginOptions } from '../../plugin/options.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { privateRedis } from '../helpers/redis.js'
import { signed } from '../helpers/webhook.js'

// The first requests after boot: `ready()` waits for a reachable Redis (up to
// readyTimeoutMs), so an app that just booted accepts at once; an unreachable
// or frozen one does not hold the boot up for longer than that. (The
// documented Testing example, which waits with ready(), runs in test/testing/readme-testing.test.ts.)
t.setTimeout(60_000)

const provider = providers.hmac({ secret: 'boot-secret' })
const MARGIN_MS = 1000

async function boot (t: Test, options: Partial<WebhookPluginOptions> & Pick<WebhookPluginOptions, 'connection'>): Promise<{ app: FastifyInstance, ms: number, err: unknown }> {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  const started = Date.now()
  app.register(webhookPlugin, { provider, source: 'boot', queueName: 'boot-events', ...options })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  return { app, ms: Date.now() - started, err }
}

t.test('ready() waits for a reachable Redis: the first request after it is accepted', async (t) => {
  const server = await privateRedis(t)
  const { app, err } = await boot(t, { connection: server.url })
  t.equal(err, undefined)
  t.equal(app.webhooks.get('boot:/v1/events')?.ready, true, 'ready as soon as ready() resolves')
  const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'first' }) })
  t.equal(res.statusCode, 202)
})

t.test('Redis refusing connections: ready() resolves at once, the route answers 503', async (t) => {
  const port = await freePort()
  const { app, ms, err } = await boot(t, { connection: `redis://127.0.0.1:${port}`, readyTimeoutMs: 3000 })
  t.equal(err, undefined, 'boot succeeds')
  t.ok(ms < 3000 + MARGIN_MS, `within readyTimeoutMs (${ms} ms)`)
  const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'down' }) })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_WEBHOOK_UNAVAILABLE')
})

t.test('Redis frozen (accepts, never answers): ready() resolves within readyTimeoutMs, the route answers 503; requireRedisAtBoot rejects', async (t) => {
  const server = await privateRedis(t)
  server.signal('SIGSTOP')
  t.teardown(() => server.signal('SIGCONT'))
  const readyTimeoutMs = 1500
  const { app, ms, err } = await boot(t, { connection: server.url, readyTimeoutMs, ackTimeoutMs: 500 })
  t.equal(err, undefined, 'boot succeeds')
  t.ok(ms < readyTimeoutMs + MARGIN_MS, `ready() within readyTimeoutMs + 1 s (${ms} ms)`)
  const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'frozen' }) })
  t.equal(res.statusCode, 503)

  const required = await boot(t, { connection: server.url, readyTimeoutMs, requireRedisAtBoot: true })
  t.match(required.err, { code: 'FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT' })
  // Closing a connection to a frozen server is bounded by closeClient's 2 s.
  t.ok(required.ms < readyTimeoutMs + 2000 + MARGIN_MS, `rejects soon after readyTimeoutMs (${required.ms} ms)`)
})
