// Stripe: `Stripe-Signature` (t=…,v1=…) over `${t}.${rawBody}` with the
// endpoint's `whsec_…` secret used as-is. The event id is the body's `evt_…`
// id, stable across Stripe's retries (3 days): dedupe for 4 days.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 STRIPE_WEBHOOK_SECRET=whsec_… npx tsx examples/providers/stripe.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const stripe = providers.stripe({ secret: process.env.STRIPE_WEBHOOK_SECRET ?? 'whsec_example_only' })

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: stripe,
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/stripe',
  source: 'stripe'
})

// The test kit: `sign()` returns the headers Stripe sends, so a test can post
// through `app.inject` exactly what Stripe would.
const body = JSON.stringify({ id: 'evt_example_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1' } } })
const res = await app.inject({ method: 'POST', url: '/webhooks/stripe', headers: stripe.sign(body), payload: body })
console.log(res.statusCode, res.body) // 202 {"received":true}

// In the worker: createWebhookWorker({ dedupe: { ttlMs: providers.stripe.delivery.suggestedDedupeTtlMs }, … })
// Pitfall: a proxy or body parser that re-serializes the JSON breaks the signature.
await app.close()
