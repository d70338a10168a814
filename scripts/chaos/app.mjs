// @ts-check
// The app under test, as its own process: Fastify with the server timeouts
// docs/deployment.md recommends and the webhook plugin on the generic HMAC provider.
// Configured by the harness through CHAOS_CONFIG (JSON); says `ready` over IPC
// and answers `{ cmd: 'memory' }` with its resident set size.
import Fastify from 'fastify'
import { webhookPlugin } from 'fastify-hybrid-webhooks'
import { chaosConnection } from './connection.mjs'
import { chaosProvider } from './provider.mjs'

/** @type {import('./types.d.mts').AppConfig} */
const config = JSON.parse(/** @type {string} */ (process.env.CHAOS_CONFIG))

// The harness going away (even by SIGKILL) closes the IPC channel: follow it.
process.on('disconnect', () => process.exit(0))

const app = Fastify({
  logger: { level: config.logLevel ?? 'warn' },
  // Slow-client protection, as docs/deployment.md recommends for a webhook endpoint.
  requestTimeout: config.requestTimeout,
  connectionTimeout: config.connectionTimeout,
  keepAliveTimeout: config.keepAliveTimeout,
  // Node cuts a slow request off only once headersTimeout has passed too, and
  // looks for such requests every connectionsCheckingInterval (30 s by default).
  ...(config.headersTimeout || config.connectionsCheckingInterval
    ? { http: { headersTimeout: config.headersTimeout, connectionsCheckingInterval: config.connectionsCheckingInterval } }
    : {})
})

// Only the options a scenario sets: the plugin refuses unknown ones, and leaves
// the rest at their defaults.
const optional = Object.fromEntries(/** @type {const} */ (['maxBacklog', 'waitReplicas']).filter((k) => config[k] !== undefined).map((k) => [k, config[k]]))
const connection = chaosConnection(config)
await app.register(webhookPlugin, {
  provider: chaosProvider(config.secret),
  connection,
  path: config.path,
  source: config.source,
  queueName: config.queueName,
  prefix: config.prefix,
  ackTimeoutMs: config.ackTimeoutMs,
  ...optional
})

await app.listen({ host: '127.0.0.1', port: config.port })
// Ready for the harness once the intake would enqueue (what a readiness probe
// checks), so no scenario counts the 503s of a connection still being made.
const until = Date.now() + 10000
while (![...app.webhooks.values()].every((intake) => intake.ready) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
process.on('message', function onCommand (/** @type {{ cmd?: string } | undefined} */ msg) {
  if (msg?.cmd === 'memory') process.send?.({ reply: 'memory', rss: process.memoryUsage().rss })
})
process.send?.({ ready: true, port: config.port })
