// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the raw body, JSON or
// form-encoded (the default in GitHub's UI; the JSON is then the `payload`
// field). The id is the hook id plus `X-GitHub-Delivery`; neither is signed, so
// the worker also dedupes on the signature (a captured delivery resent with a
// fresh delivery id is skipped). GitHub never redelivers by itself: poll for
// what you must not miss, and keep the default dedupe TTL.
//
// Run: REDIS_URL=redis://127.0.0.1:6379 GITHUB_WEBHOOK_SECRET=… npx tsx examples/providers/github.ts
import Fastify from 'fastify'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

const github = providers.github({ secret: process.env.GITHUB_WEBHOOK_SECRET ?? 'example-only' })

const app = Fastify({ logger: true, connectionTimeout: 30_000, requestTimeout: 15_000 })
await app.register(webhookPlugin, {
  provider: github, // raises bodyLimit: GitHub sends up to 25 MB and never redelivers a 413
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  requireRedisAtBoot: true, // this script posts at once; a server would rather boot and answer 503 until Redis is up
  path: '/webhooks/github',
  source: 'github'
})

const body = JSON.stringify({ action: 'opened', issue: { number: 1 }, repository: { full_name: 'acme/app' } })
const headers = github.sign(body, { event: 'issues', hookId: '123456' })
const res = await app.inject({ method: 'POST', url: '/webhooks/github', headers, payload: body })
console.log(res.statusCode, res.body) // 202 {"received":true}

// Pitfall: the type (`X-GitHub-Event`) is an unsigned header. Hydrate from the
// API before acting on it; never use it for authorization.
await app.close()
