// Standard Webhooks (and Svix, the same scheme): `webhook-id`,
// `webhook-timestamp`, `webhook-signature` (or the `svix-*` family), signed
// over `${id}.${timestamp}.${rawBody}` with the base64 key after `whsec_`.
// The id is `webhook-id`, signed and stable across retries (Svix retries for
// 27.6 h, the spec's schedule spans 75.6 h): dedupe for 4 days.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 WEBHOOK_SECRET=whsec_… npx tsx examples/providers/standard-webhooks.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const sender = providers.standardWebhooks({ secret: process.env.WEBHOOK_SECRET ?? 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: sender,
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/events',
  source: 'billing'
})

const body = JSON.stringify({ type: 'invoice.paid', data: { invoice_id: 'inv_1' } })
const res = await app.inject({ method: 'POST', url: '/webhooks/events', headers: sender.sign(body, { id: 'msg_example_1' }), payload: body })
console.log(res.statusCode, res.body) // 202 {"received":true}

// Pitfall: this `whsec_` secret is base64 after the prefix, unlike Stripe's, which is used as-is.
await app.close()
