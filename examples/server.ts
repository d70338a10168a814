// The minimal server: an app with the webhook route. Every verified event is
// in Redis before the sender gets its 202; examples/worker.ts applies it.
//
//   WEBHOOK_SECRET=… REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/server.ts
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

export interface ServerExampleOptions {
  secret?: string
  connection?: string
  queueName?: string
  port?: number
  host?: string
}

export async function start (options: ServerExampleOptions = {}): Promise<FastifyInstance> {
  const secret = options.secret ?? process.env.WEBHOOK_SECRET
  if (secret === undefined || secret === '') throw new Error('Set WEBHOOK_SECRET')

  // Timeouts protect the route from slow clients; the plugin warns when they are left at 0.
  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' }, connectionTimeout: 30_000, requestTimeout: 15_000 })
  await app.register(webhookPlugin, {
    provider: providers.hmac({ secret }), // `x-provider-signature`: base64 HMAC-SHA256 of the raw body; id in `event_id`
    connection: options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queueName: options.queueName ?? 'integration-events',
    path: '/v1/events'
  })
  await app.listen({ port: options.port ?? Number(process.env.PORT ?? 3000), host: options.host ?? '127.0.0.1' })
  return app
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await start()
  process.once('SIGINT', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
