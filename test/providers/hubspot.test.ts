import t from 'tap'
import { createHmac } from 'node:crypto'
import hubspotSdk from '@hubspot/api-client'
import { providers } from '../../providers/index.js'
import type { RequestTarget } from '../../providers/provider.js'
import { HUBSPOT_DELIVERY, hubspotUri } from '../../providers/hubspot.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// @hubspot/api-client's Signature (getSignature and isValid, version v3) is
// the reference signer and verifier.
const { Signature } = hubspotSdk
const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy'
const ORIGIN = 'https://www.example.com'
const PATH = '/webhook_uri?portal=62515'
const URL_ = ORIGIN + PATH
const target: RequestTarget = { method: 'POST', url: PATH }
const BATCH = JSON.stringify([
  { eventId: 100, subscriptionId: 1, portalId: 62515, occurredAt: 1700000000000, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 123, changeSource: 'CRM' },
  { eventId: 101, subscriptionId: 1, portalId: 62515, occurredAt: 1700000000001, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 124, note: 'Grüße ✓' }
])
const p = providers.hubspot({ secret: SECRET, publicUrl: ORIGIN })
const theirs = (timestamp: number, body = BATCH, url = URL_, method = 'POST', secret = SECRET): string =>
  Signature.getSignature(method, 'v3', { signature: '', clientSecret: secret, requestBody: body, url, timestamp })
const headers = (signature: string, timestamp: number): Record<string, string> =>
  ({ 'content-type': 'application/json', 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': String(timestamp) })
const req = (h: Record<string, string | string[]>, body = BATCH, tgt: RequestTarget | undefined = target): Parameters<typeof p.verify>[0] =>
  ({ headers: h, rawBody: Buffer.from(body), ...(tgt === undefined ? {} : { target: tgt }) })

t.test('HubSpot\'s SDK signs, we verify; we sign, its isValid accepts', async (t) => {
  t.equal(p.name, 'hubspot')
  t.equal(p.jsonArrays, true)
  t.equal(providers.hubspot.delivery, HUBSPOT_DELIVERY)
  t.same(HUBSPOT_DELIVERY, { retriesForMs: 86_400_000, suggestedDedupeTtlMs: 2 * 86_400_000, responseDeadlineMs: 5_000 })
  const now = Date.now()
  const sig = theirs(now)
  t.equal(sig, createHmac('sha256', SECRET).update(`POST${URL_}${BATCH}${now}`).digest('base64'), 'the documented algorithm')
  t.same(p.verify(req(headers(sig, now)), [SECRET], now), { ok: true, secretIndex: 0, timestampMs: now })
  const ours = p.sign(BATCH, { url: URL_ })
  t.match(ours, { 'content-type': 'application/json', 'x-hubspot-request-timestamp': /^\d{13}$/, 'x-hubspot-signature-v3': /^[A-Za-z0-9+/]{43}=$/, 'x-hubspot-signature-version': 'v1' })
  t.ok(Signature.isValid({ signatureVersion: 'v3', signature: ours['x-hubspot-signature-v3'], clientSecret: SECRET, requestBody: BATCH, url: URL_, method: 'POST', timestamp: Number(ours['x-hubspot-request-timestamp']) }),
    'Signature.isValid accepts our v3 signature')
  t.ok(Signature.isValid({ signatureVersion: 'v1', signature: ours['x-hubspot-signature'], clientSecret: SECRET, requestBody: BATCH }), 'and the v1 one sent beside it')
  t.notOk(Signature.isValid({ signatureVersion: 'v3', signature: p.sign(BATCH, { url: URL_, secret: 'wrong' })['x-hubspot-signature-v3'], clientSecret: SECRET, requestBody: BATCH, url: URL_, method: 'POST', timestamp: Date.now() }),
    'a wrong secret fails theirs too')
  t.throws(() => Signature.isValid({ signatureVersion: 'v3', signature: ours['x-hubspot-signature-v3'], clientSecret: SECRET, requestBody: BATCH, url: URL_, method: 'POST', timestamp: Date.now() - 600_000 }),
    /Timestamp is invalid/, 'the SDK refuses a stale timestamp too')
})

t.test('the URI as HubSpot signs it: the listed escapes decoded', async (t) => {
  t.equal(hubspotUri('https://x.example/a%3Ab%2fc?q=%40%21%24%27%28%29%2A%2C%3B%3F&r=%20%26'), 'https://x.example/a:b/c?q=@!$\'()*,;?&r=%20%26')
  const now = Date.now()
  const path = '/hooks?return=https%3A%2F%2Fapp.example%2Fdone'
  const sig = theirs(now, BATCH, `${ORIGIN}/hooks?return=https://app.example/done`)
  t.ok(p.verify(req(headers(sig, now), BATCH, { method: 'POST', url: path }), [SECRET], now).ok, 'HubSpot signs the decoded form')
  t.equal(p.sign(BATCH, { url: `${ORIGIN}${path}`, timestampSec: now / 1000 })['x-hubspot-signature-v3'], sig)
})

t.test('failures: tampered body, another secret or method or URL, stale and malformed timestamps, missing and repeated headers', async (t) => {
  const now = 1_700_000_000_000
  const sig = theirs(now)
  const v = (h: Record<string, string | string[]>, body = BATCH, tgt: RequestTarget | undefined = target, at = now): ReturnType<typeof p.verify> => p.verify(req(h, body, tgt), [SECRET], at)
  t.same(v(headers(sig, now), BATCH.replace('✓', 'x')), { ok: false, reason: 'no_match' })
  t.same(v(headers(theirs(now, BATCH, URL_, 'POST', 'other'), now)), { ok: false, reason: 'no_match' })
  t.same(v(headers(sig, now), BATCH, { method: 'PUT', url: PATH }), { ok: false, reason: 'no_match' }, 'the method is signed')
  t.same(v(headers(sig, now), BATCH, { method: 'POST', url: '/webhook_uri' }), { ok: false, reason: 'no_match' }, 'the query is signed')
  t.same(v(headers(sig, now + 1)), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(v(headers(sig, now), BATCH, target, now + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(v(headers(sig, now), BATCH, target, now - 301_000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  for (const bad of [`${now / 1000}`.replace(/\d$/, '.5'), '1.7e12', '-1', '', `${now}0000`]) {
    t.match(v({ ...headers(sig, now), 'x-hubspot-request-timestamp': bad }), { ok: false }, `timestamp ${bad}`)
  }
  t.same(v({ ...headers(sig, now), 'x-hubspot-request-timestamp': '1.7e12' }), { ok: false, reason: 'malformed_header', detail: 'x-hubspot-request-timestamp is not integer milliseconds' })
  t.same(v({ 'x-hubspot-request-timestamp': String(now) }), { ok: false, reason: 'missing_header', detail: 'x-hubspot-signature-v3' })
  t.same(v({ 'x-hubspot-signature-v3': sig }), { ok: false, reason: 'missing_header', detail: 'x-hubspot-request-timestamp' })
  t.match(v({ ...headers(sig, now), 'x-hubspot-signature-v3': [sig, sig] }), { ok: false, reason: 'duplicate_header' })
  t.same(v(headers(sig.slice(1), now)), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte base64' })
  t.same(v({ 'x-hubspot-signature': 'a'.repeat(64), 'x-hubspot-signature-version': 'v1' }), { ok: false, reason: 'missing_header', detail: 'x-hubspot-signature-v3' }, 'v1 alone signs no time: not trusted')
  const c = countingSecrets(['a', SECRET])
  t.same(p.verify(req(headers(sig, now)), c.secrets, now), { ok: true, secretIndex: 1, timestampMs: now })
  t.same([...c.reads].sort(), [0, 1])
})

t.test('the public URL: the option, a function, a trusted proxy, or a refusal', async (t) => {
  const now = Date.now()
  const sig = theirs(now)
  const bare = providers.hubspot({ secret: SECRET })
  t.match(bare.verify(req(headers(sig, now)), [SECRET], now), { ok: false, reason: 'no_public_url' })
  t.ok(bare.verify(req(headers(sig, now), BATCH, { ...target, origin: ORIGIN }), [SECRET], now).ok)
  t.ok(providers.hubspot({ secret: SECRET, publicUrl: (tg) => ORIGIN + tg.url }).verify(req(headers(sig, now)), [SECRET], now).ok)
  throwsOption(t, () => providers.hubspot({ secret: SECRET, publicUrl: 'www.example.com' }), /hubspot.publicUrl/)
  throwsOption(t, () => providers.hubspot({ secret: SECRET, toleranceMs: 1 }), /hubspot.toleranceMs/)
  throwsOption(t, () => providers.hubspot({ secret: SECRET, signatureVersion: 'v3' } as never), /Unknown option `signatureVersion`/)
  t.throws(() => p.sign(BATCH), /needs \{ url \}/)
})

t.test('toEvent: one job per batch, its id from the signed event ids (a retry changes attemptNumber, not the id)', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const items = JSON.parse(BATCH) as Array<Record<string, unknown>>
  const a = p.toEvent({ kind: 'json', value: {}, items }, req({}), ok)
  t.match(a, { ok: true, id: /^batch:[0-9a-f]{64}$/, type: 'contact.creation', payload: items })
  const retried = items.map((e) => ({ ...e, attemptNumber: 1 }))
  const b = p.toEvent({ kind: 'json', value: {}, items: retried }, req({}, JSON.stringify(retried)), ok)
  t.ok(a.ok && b.ok && a.id === b.id, 'the retried batch has the same id')
  t.match(p.toEvent({ kind: 'json', value: {}, items: [items[0], { ...items[1], subscriptionType: 'deal.creation' }] }, req({}), ok), { type: 'mixed' })
  t.match(p.toEvent({ kind: 'json', value: { callbackId: 'ap-1' } }, req({}, '{"callbackId":"ap-1"}'), ok), { ok: true, id: /^[0-9a-f]{64}$/ }, 'a body without event ids: a digest of the signed body')
})

t.test('through the route: a batch is one job; HubSpot\'s retry is a duplicate', async (t) => {
  const provider = providers.hubspot({ secret: SECRET, publicUrl: 'https://hooks.example.com' })
  const { app } = await buildApp(t, { provider })
  const queue = app.webhooks.get('hubspot:/v1/events')!.queue
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: BATCH, headers: provider.sign(BATCH, { url: 'https://hooks.example.com/v1/events' }) })
  t.equal(res.statusCode, 202, res.body)
  const retried = JSON.stringify((JSON.parse(BATCH) as Array<Record<string, unknown>>).map((e) => ({ ...e, attemptNumber: 1 })))
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: retried, headers: provider.sign(retried, { url: 'https://hooks.example.com/v1/events' }) })).statusCode, 202)
  t.equal(await queue.count(), 1)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-hubspot-signature-v3', 'x-hubspot-request-timestamp'], 2000, () => headers(theirs(Date.now()), Date.now()), target)
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
