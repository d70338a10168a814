// @ts-check
// This package's ingress: the plugin with the generic HMAC preset, as a user
// registers it (verify + safe parse + durable enqueue + 202). Logging off, as
// for every server in the benchmark. BENCH_VARIANT names a user-level
// configuration tried by bench/ab.mjs; the benchmark itself runs the default.
import Fastify from 'fastify'
import { webhookPlugin, providers } from 'fastify-hybrid-webhooks/plugin'
import { corkRedisWrites } from '../lib/cork.mjs'
import { PATH, SECRET } from '../lib/events.mjs'
import { ready, serve } from '../lib/proc.mjs'

/** @type {Record<string, () => object>} */
const VARIANTS = {
  // ioredis sends the commands issued in one tick in one write
  autopipeline: () => {
    const { hostname, port } = new URL(/** @type {string} */ (process.env.BENCH_REDIS_URL))
    return { connection: { host: hostname, port: Number(port), enableAutoPipelining: true } }
  },
  // the commands of one event-loop turn leave in one write (bench/lib/cork.mjs)
  cork: () => {
    corkRedisWrites()
    return {}
  }
}
const variant = VARIANTS[process.env.BENCH_VARIANT ?? '']?.() ?? {}

const app = Fastify({ logger: false })
await app.register(webhookPlugin, {
  provider: providers.hmac({ secret: SECRET }),
  connection: /** @type {string} */ (process.env.BENCH_REDIS_URL),
  ...variant,
  path: PATH,
  source: 'acme',
  queueName: /** @type {string} */ (process.env.BENCH_QUEUE),
  requireRedisAtBoot: true
})
await app.listen({ port: 0, host: '127.0.0.1' })
serve({ stop: () => app.close() })
ready({ port: /** @type {import('node:net').AddressInfo} */ (app.server.address()).port })
