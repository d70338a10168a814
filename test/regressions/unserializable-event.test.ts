import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import pino from 'pino'
import { createEventProducer } from '../../plugin/enqueue.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import { providers } from '../../providers/index.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp } from '../helpers/webhook.js'

// Regression: a verified event that cannot be serialized (nesting deep enough
// to overflow JSON.stringify, reachable through a form body whose `payload`
// field the GitHub preset decodes) was answered 503, so the sender retried a
// delivery that can never be stored, for days. It is a permanent 400 now,
// logged with the event id.
t.setTimeout(30_000)

const DEPTH = 20_000
const deep = (): string => `{"a":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`

t.test('a verified GitHub form delivery too deep to serialize is a 400 with its own code, not a 503', async (t) => {
  const provider = providers.github({ secret: 'gh secret' })
  const { app, webhookLines } = await buildApp(t, { provider })
  const payload = new URLSearchParams({ payload: deep() }).toString()
  const headers = provider.sign(payload, { contentType: 'form', id: 'deep-1', hookId: '9' })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers })
  t.equal(res.statusCode, 400, res.body)
  t.equal(res.json().code, 'FST_WEBHOOK_UNSERIALIZABLE')
  t.equal(res.headers['retry-after'], undefined)
  t.match(webhookLines(), [{ outcome: 'rejected', reason: 'unserializable', eventId: '9:deep-1', status: 400 }])
  t.equal(await app.webhooks.get('github:/v1/events')!.queue.count(), 0, 'no job')
})

t.test('the queue.add path tells an unserializable event from a Redis failure too', async (t) => {
  const queueName = uniqueName('unserializable')
  const redis = testClient(t)
  t.teardown(async () => { await cleanQueue(redis, 'bull', queueName) })
  const options = validatePluginOptions({ provider: providers.hmac({ secret: 's' }), connection: redisUrl(), queueName, requireRedisAtBoot: true })
  const producer = createEventProducer(options, pino({ level: 'silent' }) as unknown as FastifyBaseLogger, { addScript: false })
  t.teardown(() => producer.close())
  await producer.boot()
  const event = { v: 1 as const, id: 'deep', source: 'acme', type: '', payload: JSON.parse(deep()), headers: {}, receivedAt: 1, origin: 'webhook' as const }
  t.match(await producer.add(event), { ok: false, reason: 'unserializable', cause: RangeError })
  t.match(await producer.add({ ...event, id: 'flat', payload: { a: 1 } }), { ok: true, duplicate: false })
})
