// Shopify: `X-Shopify-Hmac-Sha256` (or the newer unprefixed header), base64
// HMAC of the raw body with the app's client secret. The id is
// `X-Shopify-Webhook-Id` (stable across the 8 retries over 4 h; dedupe 24 h),
// or `X-Shopify-Event-Id` with `idFrom: 'event-id'`. The shop domain is kept in
// `event.headers`. Shopify may sign with the old secret for about an hour after
// a rotation: pass both.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 SHOPIFY_CLIENT_SECRET=… npx tsx examples/providers/shopify.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const secrets = [process.env.SHOPIFY_CLIENT_SECRET ?? 'shpss_example_only', process.env.SHOPIFY_OLD_CLIENT_SECRET].filter((s): s is string => s !== undefined)
const shopify = providers.shopify({ secret: secrets })

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: shopify,
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/shopify',
  source: 'shopify'
})

// Shopify ids exceed 2^53: the signature covers the raw bytes, so nothing is lost before verification.
const body = '{"id":820982911946154508,"email":"jon@example.com"}'
const headers = shopify.sign(body, { topic: 'orders/create', shopDomain: 'example.myshopify.com' })
const res = await app.inject({ method: 'POST', url: '/webhooks/shopify', headers, payload: body })
console.log(res.statusCode, res.body) // 202 {"received":true}

// Pitfall: the secret is the app's client secret, not its API key or access token.
await app.close()
