import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { PermanentError } from '../../core/hook-errors.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import { providers } from '../../providers/index.js'
import { drain, ready, signedRequest } from '../../testing/index.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { SHORT_LOCKS } from '../helpers/worker.js'

// drain(): with a real plugin, real BullMQ and a real worker, it resolves
// only once every event was applied, skipped or dead-lettered, retries included.
t.setTimeout(60_000)

const provider = providers.hmac({ secret: 'drain secret' })

async function setup (t: Test): Promise<{ app: FastifyInstance, queueName: string }> {
  const queueName = uniqueName('drain')
  const redis = testClient(t)
  const app = Fastify()
  t.teardown(async () => {
    await app.close()
    await cleanQueue(redis, 'bull', queueName)
    await cleanQueue(redis, 'bull', `${queueName}-dlq`)
  })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName })
  await ready(app)
  return { app, queueName }
}

t.test('resolves once every event is applied, retried or dead-lettered', async (t) => {
  const { app, queueName } = await setup(t)
  const applied: string[] = []
  const failedOnce = new Set<string>()
  const worker = createWebhookWorker({
    connection: redisUrl(),
    queueName,
    ...SHORT_LOCKS,
    retry: { attempts: 3, baseDelayMs: 200, maxDelayMs: 300 },
    apply: async (_state, event) => {
      const how = (event.payload as { how?: string }).how
      if (how === 'permanent') throw new PermanentError('never')
      if (how === 'flaky' && !failedOnce.has(event.id)) {
        failedOnce.add(event.id)
        throw new Error('once')
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
      applied.push(event.id)
    }
  })
  t.teardown(() => worker.close({ timeoutMs: 2000 }))
  await worker.waitUntilReady()

  for (const [id, how] of [['a', 'ok'], ['b', 'flaky'], ['c', 'permanent'], ['d', 'ok']]) {
    t.equal((await app.inject(signedRequest(provider, { event_id: id, how }))).statusCode, 202)
  }
  await drain({ connection: redisUrl(), queueName })
  t.same(applied.sort(), ['a', 'b', 'd'], 'every event applied, the flaky one after its retry')
  t.equal(worker.stats().retries, 1)
  t.equal(worker.stats().deadLettered, 1)
  t.equal(await worker.deadLetters.count(), 1, 'the dead letter is written by the time drain resolves')

  // The queue itself works too: the registration's own.
  t.equal((await app.inject(signedRequest(provider, { event_id: 'e' }))).statusCode, 202)
  const queue = app.webhooks.get('hmac:/v1/events')?.queue
  if (queue === undefined) throw new Error('no queue')
  await drain(queue, { timeoutMs: 5000 })
  t.ok(applied.includes('e'))
})

t.test('no worker: rejects after timeoutMs with the counts it saw', async (t) => {
  const { app, queueName } = await setup(t)
  t.equal((await app.inject(signedRequest(provider, { event_id: 'stuck' }))).statusCode, 202)
  const started = Date.now()
  const err = await drain({ connection: redisUrl(), queueName }, { timeoutMs: 500 }).then(() => undefined, (e: unknown) => e)
  const ms = Date.now() - started
  t.match(err, { code: 'WEBHOOK_TESTING_TIMEOUT', message: new RegExp(`queue ${queueName} still has jobs after 500 ms \\(waiting 1, active 0, delayed 0, prioritized 0\\)`) })
  t.ok(ms < 2000, `within the timeout (${ms} ms)`)
})

t.test('an unreachable Redis: rejects at the timeout with the last error, instead of hanging', async (t) => {
  const started = Date.now()
  const err = await drain({ connection: 'redis://127.0.0.1:1', queueName: 'nowhere' }, { timeoutMs: 600 }).then(() => undefined, (e: unknown) => e)
  const ms = Date.now() - started
  t.match(err, { code: 'WEBHOOK_TESTING_TIMEOUT', message: /queue nowhere still has jobs after 600 ms \(no counts read/ })
  t.ok(ms < 4000, `bounded (${ms} ms)`)
})

t.test('an empty queue drains at once', async (t) => {
  const started = Date.now()
  await drain({ connection: redisUrl(), queueName: uniqueName('drain-empty') })
  t.ok(Date.now() - started < 1000)
})
