// Slack: `X-Slack-Signature: v0=<hex>` over `v0:${timestamp}:${rawBody}` with
// the app's Signing Secret, timestamps within 5 minutes. Events API bodies are
// JSON; slash commands and interactivity are form-encoded. `url_verification`
// is answered inline with its challenge; commands and interactivity get the
// empty 200 Slack expects (any body would be shown to the user). Slack retries
// 3 times: a dedupe TTL of an hour is enough.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 SLACK_SIGNING_SECRET=… npx tsx examples/providers/slack.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const slack = providers.slack({ secret: process.env.SLACK_SIGNING_SECRET ?? 'example-only' })

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: slack,
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/slack',
  source: 'slack'
})

// The handshake Slack sends when you set the request URL: answered with the challenge.
const handshake = JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' })
const hello = await app.inject({ method: 'POST', url: '/webhooks/slack', headers: slack.sign(handshake), payload: handshake })
console.log(hello.statusCode, hello.body) // 200, the challenge

const event = JSON.stringify({ type: 'event_callback', event_id: 'Ev0001', event: { type: 'app_mention', text: 'hi' } })
const res = await app.inject({ method: 'POST', url: '/webhooks/slack', headers: slack.sign(event), payload: event })
console.log(res.statusCode, res.body) // 202 {"received":true}

// Pitfall: the Signing Secret, not the deprecated verification token; and a server clock within 5 minutes.
await app.close()
