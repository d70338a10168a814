import t from 'tap'
import { createHmac } from 'node:crypto'
import { WebhooksHelper } from 'square'
import { providers } from '../../providers/index.js'
import type { RequestTarget } from '../../providers/provider.js'
import { SQUARE_DELIVERY } from '../../providers/square.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Square's SDK (WebhooksHelper.verifySignature) is the reference verifier;
// the documented algorithm, HMAC-SHA256 over URL + body, is the signer.
const KEY = 'Fs5y2sdTNZpI-FVzwQG7Rg'
const URL_ = 'https://example.com/webhooks/square'
const BODY = JSON.stringify({ merchant_id: '6SSW7HV8K2ST5', type: 'payment.updated', event_id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc', created_at: '2024-02-02T19:18:49Z', data: { type: 'payment', id: 'hYy9pRFVxpDsO1FB05SunFWUe9JZY', object: { payment: { note: 'Café ✓' } } } })
const target: RequestTarget = { method: 'POST', url: '/webhooks/square' }
const p = providers.square({ secret: KEY, notificationUrl: URL_ })
const theirs = (key: string, url: string, body: string): string => createHmac('sha256', key).update(url + body).digest('base64')
const headers = (signature: string): Record<string, string> => ({ 'content-type': 'application/json', 'x-square-hmacsha256-signature': signature })
const verifyWithSdk = async (body: string, signature: string, url = URL_): Promise<boolean> =>
  await WebhooksHelper.verifySignature({ requestBody: body, signatureHeader: signature, signatureKey: KEY, notificationUrl: url })

t.test('the documented signature verifies with Square\'s SDK and with the preset; ours verifies with the SDK', async (t) => {
  t.equal(p.name, 'square')
  t.same(p.contentTypes, ['json'])
  t.equal(providers.square.delivery, SQUARE_DELIVERY)
  t.same(SQUARE_DELIVERY, { retriesForMs: 72 * 3_600_000, suggestedDedupeTtlMs: 4 * 86_400_000, responseDeadlineMs: 10_000 })
  const sig = theirs(KEY, URL_, BODY)
  t.ok(await verifyWithSdk(BODY, sig), 'the SDK accepts the documented algorithm')
  t.same(p.verify({ headers: headers(sig), rawBody: Buffer.from(BODY), target }, [KEY], Date.now()), { ok: true, secretIndex: 0 })
  const ours = p.sign(BODY)
  t.same(ours, { 'content-type': 'application/json', 'user-agent': 'Square Connect v2', 'x-square-hmacsha256-signature': sig })
  t.ok(await verifyWithSdk(BODY, ours['x-square-hmacsha256-signature']), 'WebhooksHelper.verifySignature accepts our signature')
  t.notOk(await verifyWithSdk(BODY, p.sign(BODY, { secret: 'wrong' })['x-square-hmacsha256-signature']), 'a wrong key fails theirs too')
  t.notOk(await verifyWithSdk(BODY, ours['x-square-hmacsha256-signature'], 'https://example.com/other'), 'the URL is signed')
})

t.test('failures: tampered body, another key, another URL, missing, repeated and malformed headers; rotation', async (t) => {
  const sig = theirs(KEY, URL_, BODY)
  const v = (h: Record<string, string | string[]>, body = BODY, secrets = [KEY]): ReturnType<typeof p.verify> => p.verify({ headers: h, rawBody: Buffer.from(body), target }, secrets, Date.now())
  t.same(v(headers(sig), BODY.replace('✓', 'x')), { ok: false, reason: 'no_match' })
  t.same(v(headers(theirs('other', URL_, BODY))), { ok: false, reason: 'no_match' })
  t.same(v(headers(theirs(KEY, 'https://example.com/webhooks/square/', BODY))), { ok: false, reason: 'no_match' }, 'the URL must match exactly')
  t.same(v({ 'content-type': 'application/json' }), { ok: false, reason: 'missing_header', detail: 'x-square-hmacsha256-signature' })
  t.same(v({ 'content-type': 'application/json', 'x-square-signature': 'legacy' }), { ok: false, reason: 'missing_header', detail: 'x-square-hmacsha256-signature' }, 'the SHA-1 header alone is not trusted')
  t.match(v({ ...headers(sig), 'x-square-hmacsha256-signature': [sig, sig] }), { ok: false, reason: 'duplicate_header' })
  t.same(v(headers(sig.slice(0, -1))), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte base64' })
  const c = countingSecrets(['a', KEY, 'c'])
  t.same(p.verify({ headers: headers(sig), rawBody: Buffer.from(BODY), target }, c.secrets, Date.now()), { ok: true, secretIndex: 1 })
  t.same([...c.reads].sort(), [0, 1, 2])
})

t.test('the notification URL: exact string, a function, a trusted proxy, or a refusal', async (t) => {
  const sig = theirs(KEY, URL_, BODY)
  const v = (provider: typeof p, tgt?: RequestTarget): ReturnType<typeof p.verify> =>
    provider.verify({ headers: headers(sig), rawBody: Buffer.from(BODY), ...(tgt === undefined ? {} : { target: tgt }) }, [KEY], Date.now())
  t.ok(v(p).ok, 'an exact string needs no request line')
  const bare = providers.square({ secret: KEY })
  t.match(v(bare, target), { ok: false, reason: 'no_public_url' })
  t.ok(v(bare, { ...target, origin: 'https://example.com' }).ok, 'behind a trusted proxy')
  t.ok(v(providers.square({ secret: KEY, notificationUrl: (tg) => `https://example.com${tg.url}` }), target).ok)
  t.throws(() => bare.sign(BODY), /needs \{ url \}/)
  t.equal(bare.sign(BODY, { url: URL_ })['x-square-hmacsha256-signature'], sig)
})

t.test('toEvent: event_id and type from the signed body', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const req = { headers: {}, rawBody: Buffer.from(BODY) }
  t.same(p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req, ok), { ok: true, id: '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc', type: 'payment.updated' })
  t.same(p.toEvent({ kind: 'json', value: { type: 'x' } }, req, ok), { ok: false, reason: 'missing_id', detail: 'event_id' })
})

t.test('through the route', async (t) => {
  const { app, queueName } = await buildApp(t, { provider: providers.square({ secret: KEY, notificationUrl: 'https://hooks.example.com/v1/events' }) })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: BODY, headers: { ...headers(theirs(KEY, 'https://hooks.example.com/v1/events', BODY)), 'square-retry-number': '1' } })
  t.equal(res.statusCode, 202, res.body)
  const job = await app.webhooks.get('square:/v1/events')?.queue.getJob('square.6a8f5f28-54a1-4eb0-a98a-3111513fd4fc')
  t.match(job?.data, { type: 'payment.updated', headers: { 'square-retry-number': '1' } }, queueName)
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.square({ secret: [] }), /square.secret/)
  throwsOption(t, () => providers.square({ secret: KEY, notificationUrl: '/webhooks/square' }), /square.notificationUrl/)
  throwsOption(t, () => providers.square({ secret: KEY, publicUrl: URL_ } as never), /Unknown option `publicUrl`/)
  t.ok(providers.square({ secret: KEY, notificationUrl: `${URL_}?tenant=a` }).verify({ headers: headers(theirs(KEY, `${URL_}?tenant=a`, BODY)), rawBody: Buffer.from(BODY) }, [KEY], 0).ok, 'a query is part of an exact URL')
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-square-hmacsha256-signature', 'content-type'], 3000, () => headers(theirs(KEY, URL_, BODY)), target)
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
