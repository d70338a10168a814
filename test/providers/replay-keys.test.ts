import t, { type Test } from 'tap'
import { providers } from '../../providers/index.js'
import type { Provider } from '../../providers/provider.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { redisUrl } from '../helpers/redis.js'
import { SHORT_LOCKS } from '../helpers/worker.js'
import { buildApp, waitFor } from '../helpers/webhook.js'

// End to end: plugin (app.inject) → real Redis queue → real worker. A captured,
// validly signed delivery resent with its unsigned headers changed in every way
// an attacker can change them is applied once; the rest are skipped as replays.

type Headers = Record<string, string>
type Variant = (captured: Headers, fresh: string) => Headers

/** The headers with `name` removed. */
function without (headers: Headers, ...names: string[]): Headers {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k)))
}

/** The same headers with mixed-case names (`X-Github-Event`). */
function mixedCase (headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), v]))
}

interface Pipeline {
  app: Awaited<ReturnType<typeof buildApp>>['app']
  applied: Array<{ id: string, type: string }>
  reports: AttemptReport[]
}

async function pipeline (t: Test, provider: Provider): Promise<Pipeline> {
  const { app, queueName } = await buildApp(t, { provider })
  const applied: Array<{ id: string, type: string }> = []
  const reports: AttemptReport[] = []
  const worker = createWebhookWorker({
    connection: redisUrl(),
    queueName,
    ...SHORT_LOCKS,
    apply: async (_state, event) => { applied.push({ id: event.id, type: event.type }) }
  })
  worker.on('attempt', (r) => reports.push(r))
  t.teardown(() => worker.close({ timeoutMs: 2000 }))
  await worker.waitUntilReady()
  return { app, applied, reports }
}

const FINAL = new Set(['applied', 'duplicate', 'replay'])

async function post (t: Test, p: Pipeline, payload: string, headers: Headers, label: string): Promise<void> {
  const res = await p.app.inject({ method: 'POST', url: '/v1/events', payload, headers })
  t.equal(res.statusCode, 202, `${label}: verifies and is accepted (${res.body})`)
}

async function appliedOnce (t: Test, provider: Provider, captured: Headers, variants: Record<string, Variant>): Promise<void> {
  const p = await pipeline(t, provider)
  const body = JSON.stringify({ id: 7001, action: 'created', note: 'one signed delivery' })
  await post(t, p, body, captured, 'the original')
  await waitFor(() => p.applied.length === 1, 10_000, 'the original to be applied')

  let n = 0
  for (const [label, vary] of Object.entries(variants)) {
    n++
    await post(t, p, body, vary(captured, `attacker-chosen-${n}`), label)
  }
  // Every resend has a fresh id, so each is a job of its own that the worker finishes.
  await waitFor(() => p.reports.filter((r) => FINAL.has(r.outcome)).length === n + 1, 15_000, `${n + 1} finished attempts`)
  t.equal(p.applied.length, 1, `${provider.name}: applied once, not ${p.applied.length} times (${JSON.stringify(p.applied)})`)
  t.equal(p.reports.filter((r) => r.outcome === 'replay').length, n, 'every resend is skipped as a replay')
}

t.test('GitHub: one signed body, every unsigned header varied, is applied once', async (t) => {
  const github = providers.github({ secret: 'gh-secret' })
  const captured = github.sign(JSON.stringify({ id: 7001, action: 'created', note: 'one signed delivery' }), { event: 'issues', id: 'guid-original', hookId: '42' })
  const id = 'x-github-delivery'
  await appliedOnce(t, github, captured, {
    'a fresh delivery id': (h, fresh) => ({ ...h, [id]: fresh }),
    'X-GitHub-Event Pull_Request': (h, fresh) => ({ ...h, [id]: fresh, 'x-github-event': 'Pull_Request' }),
    'X-GitHub-Event push': (h, fresh) => ({ ...h, [id]: fresh, 'x-github-event': 'push' }),
    'X-GitHub-Event absent': (h, fresh) => ({ ...without(h, 'x-github-event'), [id]: fresh }),
    'X-GitHub-Event in upper case': (h, fresh) => ({ ...h, [id]: fresh, 'x-github-event': 'ISSUES' }),
    'another hook id': (h, fresh) => ({ ...h, [id]: fresh, 'x-github-hook-id': '43' }),
    'no hook id': (h, fresh) => ({ ...without(h, 'x-github-hook-id'), [id]: fresh }),
    'a hook id with a colon': (h, fresh) => ({ ...h, [id]: fresh, 'x-github-hook-id': '42:x' }),
    'other installation target, user agent, no SHA-1 header': (h, fresh) => ({
      ...without(h, 'x-hub-signature'),
      [id]: fresh,
      'x-github-hook-installation-target-type': 'organization',
      'x-github-hook-installation-target-id': '999',
      'user-agent': 'curl/8.0',
      'x-extra': 'anything'
    }),
    'the signature in upper-case hex': (h, fresh) => ({ ...h, [id]: fresh, 'x-hub-signature-256': `sha256=${h['x-hub-signature-256'].slice(7).toUpperCase()}` }),
    'mixed-case header names': (h, fresh) => mixedCase({ ...h, [id]: fresh, 'x-github-event': 'pull_request' })
  })
})

t.test('Shopify: one signed body, every unsigned header varied, is applied once', async (t) => {
  const shopify = providers.shopify({ secret: 'shpss-secret' })
  const captured = shopify.sign(JSON.stringify({ id: 7001, action: 'created', note: 'one signed delivery' }), { topic: 'orders/create', id: 'wh-original' })
  const id = 'x-shopify-webhook-id'
  await appliedOnce(t, shopify, captured, {
    'a fresh webhook id': (h, fresh) => ({ ...h, [id]: fresh }),
    'another topic': (h, fresh) => ({ ...h, [id]: fresh, 'x-shopify-topic': 'orders/paid' }),
    'no topic': (h, fresh) => ({ ...without(h, 'x-shopify-topic'), [id]: fresh }),
    'the topic in upper case': (h, fresh) => ({ ...h, [id]: fresh, 'x-shopify-topic': 'ORDERS/CREATE' }),
    'another shop, event id, time and API version': (h, fresh) => ({
      ...h,
      [id]: fresh,
      'x-shopify-shop-domain': 'other.myshopify.com',
      'x-shopify-event-id': 'ev-other',
      'x-shopify-triggered-at': '2020-01-01T00:00:00.000Z',
      'x-shopify-api-version': '2020-01',
      'x-extra': 'anything'
    }),
    'the unprefixed header family': (h, fresh) => ({
      'content-type': h['content-type'],
      'shopify-hmac-sha256': h['x-shopify-hmac-sha256'],
      'shopify-webhook-id': fresh,
      'shopify-topic': 'products/update'
    }),
    'mixed-case header names': (h, fresh) => mixedCase({ ...h, [id]: fresh, 'x-shopify-topic': 'app/uninstalled' })
  })
})

t.test('generic HMAC with idHeader: one signed body, every unsigned header varied, is applied once', async (t) => {
  const hmac = providers.hmac({
    secret: 'h-secret',
    idHeader: 'x-delivery-id',
    typeHeader: 'x-event-type',
    timestampHeader: 'x-sent-at',
    signedContent: '{body}',
    encoding: 'hex',
    signaturePrefix: 'sha256='
  })
  const captured = hmac.sign(JSON.stringify({ id: 7001, action: 'created', note: 'one signed delivery' }), { id: 'd-original', type: 'thing.created' })
  const id = 'x-delivery-id'
  await appliedOnce(t, hmac, captured, {
    'a fresh id': (h, fresh) => ({ ...h, [id]: fresh }),
    'another type': (h, fresh) => ({ ...h, [id]: fresh, 'x-event-type': 'thing.deleted' }),
    'no type': (h, fresh) => ({ ...without(h, 'x-event-type'), [id]: fresh }),
    'the type in upper case': (h, fresh) => ({ ...h, [id]: fresh, 'x-event-type': 'THING.CREATED' }),
    'another (unsigned) timestamp': (h, fresh) => ({ ...h, [id]: fresh, 'x-sent-at': String(Number(h['x-sent-at']) - 60) }),
    'the signature in upper-case hex': (h, fresh) => ({ ...h, [id]: fresh, 'x-provider-signature': `sha256=${h['x-provider-signature'].slice(7).toUpperCase()}` }),
    'extra headers': (h, fresh) => ({ ...h, [id]: fresh, 'user-agent': 'curl/8.0', 'x-extra': 'anything' }),
    'mixed-case header names': (h, fresh) => mixedCase({ ...h, [id]: fresh, 'x-event-type': 'thing.updated' })
  })
})

t.test('generic HMAC signing the timestamp: a capture resent with unsigned headers varied is applied once', async (t) => {
  const hmac = providers.hmac({ secret: 'h-secret', idHeader: 'x-delivery-id', typeHeader: 'x-event-type', timestampHeader: 'x-sent-at' })
  const captured = hmac.sign(JSON.stringify({ id: 7001, action: 'created', note: 'one signed delivery' }), { id: 'd-original', type: 'thing.created' })
  const id = 'x-delivery-id'
  await appliedOnce(t, hmac, captured, {
    'a fresh id': (h, fresh) => ({ ...h, [id]: fresh }),
    'another type': (h, fresh) => ({ ...h, [id]: fresh, 'x-event-type': 'thing.deleted' }),
    'no type': (h, fresh) => ({ ...without(h, 'x-event-type'), [id]: fresh })
  })
})

t.test('Twilio: one signed form, its idempotency token and parameter order varied, is applied once', async (t) => {
  const twilio = providers.twilio({ secret: 'tw-token', publicUrl: 'https://hooks.example.com' })
  const form = 'id=7001&action=created&note=one+signed+delivery'
  const captured = twilio.sign(form, { url: 'https://hooks.example.com/v1/events', id: 'token-original' })
  const id = 'i-twilio-idempotency-token'
  await appliedOnceRaw(t, twilio, form, captured, {
    'a fresh idempotency token': (h, fresh) => [form, { ...h, [id]: fresh }],
    'no token': (h) => [form, without(h, id)],
    'the parameters reordered': (h, fresh) => ['note=one+signed+delivery&action=created&id=7001', { ...h, [id]: fresh }],
    'spaces as %20': (h, fresh) => ['id=7001&action=created&note=one%20signed%20delivery', { ...h, [id]: fresh }],
    'another user agent, mixed-case names': (h, fresh) => [form, mixedCase({ ...h, [id]: fresh, 'user-agent': 'curl/8.0' })]
  })
})

t.test('Linear: one signed body, Linear-Delivery and Linear-Event varied, is applied once', async (t) => {
  const linear = providers.linear({ secret: 'lin-secret' })
  const body = JSON.stringify({ id: 7001, action: 'create', type: 'Issue', webhookTimestamp: Date.now() })
  const captured = linear.sign(body, { id: 'delivery-original' })
  const id = 'linear-delivery'
  await appliedOnceRaw(t, linear, body, captured, {
    'a fresh delivery id': (h, fresh) => [body, { ...h, [id]: fresh }],
    'no delivery id': (h) => [body, without(h, id)],
    'another Linear-Event': (h, fresh) => [body, { ...h, [id]: fresh, 'linear-event': 'Comment' }],
    'mixed-case header names': (h, fresh) => [body, mixedCase({ ...h, [id]: fresh })]
  })
})

t.test('Mailgun: one signed token, its unsigned event rewritten, is applied once', async (t) => {
  const mailgun = providers.mailgun({ secret: 'mg-key' })
  const body = mailgun.signBody(JSON.stringify({ 'event-data': { id: 'ev-original', event: 'delivered' } }))
  const rewritten = (id: string, event: string): string => body.replace('ev-original', id).replace('delivered', event)
  await appliedOnceRaw(t, mailgun, body, mailgun.sign(body), {
    'a fresh event id': (h, fresh) => [rewritten(fresh, 'delivered'), h],
    'another event type': (h, fresh) => [rewritten(fresh, 'unsubscribed'), h],
    'mixed-case header names': (h, fresh) => [rewritten(fresh, 'opened'), mixedCase(h)]
  })
})

/** As `appliedOnce`, for a scheme whose signed bytes may be re-encoded: each variant gives its own body too. */
async function appliedOnceRaw (t: Test, provider: Provider, body: string, captured: Headers, variants: Record<string, (captured: Headers, fresh: string) => [string, Headers]>): Promise<void> {
  const p = await pipeline(t, provider)
  await post(t, p, body, captured, 'the original')
  await waitFor(() => p.applied.length === 1, 10_000, 'the original to be applied')
  let n = 0
  for (const [label, vary] of Object.entries(variants)) {
    n++
    const [payload, headers] = vary(captured, `attacker-chosen-${n}`)
    await post(t, p, payload, headers, label)
  }
  // Every variant has an id of its own (a fresh token, or the replay key without one): a job the worker finishes.
  await waitFor(() => p.reports.filter((r) => FINAL.has(r.outcome)).length === n + 1, 15_000, `${n + 1} finished attempts`)
  t.equal(p.applied.length, 1, `${provider.name}: applied once, not ${p.applied.length} times (${JSON.stringify(p.applied)})`)
  t.equal(p.reports.filter((r) => r.outcome === 'replay').length, n, 'every resend is skipped as a replay')
}

t.test('GitHub: (hook, delivery) pairs that read alike joined by a colon are different events, all applied', async (t) => {
  const github = providers.github({ secret: 'gh-secret' })
  const p = await pipeline(t, github)
  const pairs: Array<[string | undefined, string]> = [
    ['1', '2:3-guid'],
    ['1:2', '3-guid'],
    [undefined, '1:2:3-guid'],
    ['1%3A2', '3-guid'],
    [undefined, '1%3A2:3-guid']
  ]
  for (const [i, [hookId, delivery]] of pairs.entries()) {
    const body = JSON.stringify({ id: 8000 + i, action: 'created' })
    const headers = github.sign(body, { event: 'issues', id: delivery, hookId: hookId ?? 'unused' })
    await post(t, p, body, hookId === undefined ? without(headers, 'x-github-hook-id') : headers, `hook ${String(hookId)}, delivery ${delivery}`)
  }
  // A pair whose id collides with another's is a duplicate job that never runs: wait for the applies, then count them.
  await waitFor(() => p.applied.length === pairs.length, 5_000, `${pairs.length} applies`).catch(() => {})
  t.equal(p.applied.length, pairs.length, `every pair is applied: ${JSON.stringify(p.applied)}`)
  t.equal(new Set(p.applied.map((a) => a.id)).size, pairs.length, 'under distinct ids')
  t.match(p.applied.find((a) => a.id.endsWith('2:3-guid') && a.id.startsWith('1:')), { id: '1:2:3-guid' }, 'an ordinary numeric hook id keeps the plain form')
})
