// The web process: the app with the plugin. It only verifies and enqueues, so
// run as many replicas as the traffic needs, behind any load balancer, all on
// the same Redis, queueName and prefix as the workers.
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const secret = process.env.WEBHOOK_SECRET
if (secret === undefined || secret === '') throw new Error('Set WEBHOOK_SECRET')

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: providers.hmac({ secret }),
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  queueName: 'integration-events',
  prefix: 'bull',
  healthRoute: '/ready' // for the load balancer: 503 while this replica cannot enqueue
})

await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })

// On SIGTERM stop accepting, finish the requests in flight, close the Redis connection.
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
process.once('SIGINT', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
