// The app under test, as its own process: Fastify with the server timeouts the
// README recommends and the webhook plugin on the generic HMAC provider.
// Configured by the harness through CHAOS_CONFIG (JSON); says `ready` over IPC.
import Fastify from 'fastify'
import { webhookPlugin } from 'fastify-hybrid-webhooks'
import { chaosProvider } from './provider.mjs'

const config = JSON.parse(process.env.CHAOS_CONFIG)

// The harness going away (even by SIGKILL) closes the IPC channel: follow it.
process.on('disconnect', () => process.exit(0))

const app = Fastify({
  logger: { level: config.logLevel ?? 'warn' },
  // Slow-client protection, as the README recommends for a webhook endpoint.
  requestTimeout: config.requestTimeout,
  connectionTimeout: config.connectionTimeout,
  keepAliveTimeout: config.keepAliveTimeout
})

await app.register(webhookPlugin, {
  provider: chaosProvider(config.secret),
  connection: config.redisUrl,
  path: config.path,
  source: config.source,
  queueName: config.queueName,
  prefix: config.prefix,
  ackTimeoutMs: config.ackTimeoutMs
})

await app.listen({ host: '127.0.0.1', port: config.port })
process.send({ ready: true, port: config.port })
