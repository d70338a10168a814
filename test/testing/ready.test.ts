import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { WebhookPluginOptions } from '../../plugin/options.js'
import { providers } from '../../providers/index.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { privateRedis, ready, signedRequest } from '../../testing/index.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'

// ready(): boots the app and waits until the route would enqueue, so the
// first request is a 202; a clear timeout when Redis never comes.
t.setTimeout(60_000)

const provider = providers.hmac({ secret: 'ready secret' })

function appWith (t: Test, options: Partial<WebhookPluginOptions> & Pick<WebhookPluginOptions, 'connection'>): FastifyInstance {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(webhookPlugin, { provider, persistenceCheck: 'off', ...options })
  return app
}

t.test('resolves once the registration is ready: the first request is accepted', async (t) => {
  const queueName = uniqueName('ready')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const app = appWith(t, { connection: redisUrl(), queueName })
  await ready(app)
  t.equal(app.webhooks.get('hmac:/v1/events')?.ready, true)
  t.equal((await app.inject(signedRequest(provider, { event_id: 'first' }))).statusCode, 202)
  await ready(app, { name: 'hmac:/v1/events' })
  t.pass('calling it again, or for one name, resolves at once')
})

t.test('waits for a Redis that comes up after boot, where the route answered 503 until then', async (t) => {
  const port = await freePort()
  const app = appWith(t, { connection: `redis://127.0.0.1:${port}`, readyTimeoutMs: 500 })
  await app.ready()
  t.equal((await app.inject(signedRequest(provider, { event_id: 'early' }))).statusCode, 503, 'without ready(): 503')
  const waiting = ready(app, { timeoutMs: 20_000 })
  const server = await privateRedis({ port })
  t.teardown(() => server.stop())
  await waiting
  t.equal((await app.inject(signedRequest(provider, { event_id: 'late' }))).statusCode, 202)
})

t.test('Redis never reachable: rejects after timeoutMs with WEBHOOK_TESTING_TIMEOUT naming the registration', async (t) => {
  const port = await freePort()
  const app = appWith(t, { connection: `redis://127.0.0.1:${port}`, readyTimeoutMs: 200, name: 'orders', queueName: 'orders-q' })
  const started = Date.now()
  const err = await ready(app, { timeoutMs: 800 }).then(() => undefined, (e: unknown) => e)
  const ms = Date.now() - started
  t.match(err, { code: 'WEBHOOK_TESTING_TIMEOUT', message: /not ready within 800 ms: orders \(queue orders-q\)\. Is Redis reachable\?/ })
  t.ok(ms >= 750 && ms < 2000, `rejected at the timeout (${ms} ms)`)
})

t.test('an app without the plugin, or an unknown name: WEBHOOK_TESTING_NO_PLUGIN', async (t) => {
  const bare = Fastify()
  t.teardown(() => bare.close())
  await t.rejects(ready(bare), { code: 'WEBHOOK_TESTING_NO_PLUGIN', message: /register webhookPlugin first/ })
  const queueName = uniqueName('ready-name')
  const redis = testClient(t)
  t.teardown(() => cleanQueue(redis, 'bull', queueName))
  const app = appWith(t, { connection: redisUrl(), queueName })
  await t.rejects(ready(app, { name: 'nope' }), { code: 'WEBHOOK_TESTING_NO_PLUGIN', message: /no registration named `nope` \(have: hmac:\/v1\/events\)/ })
})

t.test('a plugin that fails to register: the boot error, not a timeout', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(webhookPlugin, { provider, connection: redisUrl(), ackTimeoutMs: -1 })
  await t.rejects(ready(app), { code: 'WEBHOOK_INVALID_OPTION' })
})
