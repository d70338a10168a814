// The generic HMAC scheme, for in-house senders and providers without a preset:
// one signature header over the raw body (here with a signed timestamp for
// replay protection), the event id in a body field. Every knob: header,
// algorithm, encoding, signaturePrefix, idField or idHeader, typeField or
// typeHeader, timestampHeader and toleranceMs.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 WEBHOOK_SECRET=… npx tsx examples/providers/hmac.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const acme = providers.hmac({
  secret: process.env.WEBHOOK_SECRET ?? 'example-only',
  header: 'x-acme-signature',
  encoding: 'hex',
  signaturePrefix: 'sha256=',
  timestampHeader: 'x-acme-timestamp', // signs `${timestamp}.${body}`, within 5 minutes either way
  idField: 'event_id'
})

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: acme,
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/acme',
  source: 'acme'
})

const body = JSON.stringify({ event_id: 'evt_1', type: 'order.paid', order_id: 'ord_1' })
const res = await app.inject({ method: 'POST', url: '/webhooks/acme', headers: acme.sign(body), payload: body })
console.log(res.statusCode, res.body) // 202 {"received":true}

// Pitfall: without `timestampHeader`, a captured delivery verifies forever: once its dedupe TTL has passed, a replay is applied again.
await app.close()
