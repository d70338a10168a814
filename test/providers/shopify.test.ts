import t from 'tap'
import { providers } from '../../providers/index.js'
import { SHOPIFY_DELIVERY } from '../../providers/shopify.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// A vector computed from the documented scheme.
const SECRET = 'shpss_test_secret'
const BODY = Buffer.from('{"id":820982911946154508,"email":"jon@example.com"}')
const SIG = 'LnwdZPLBbdjkBwPD/lDL1/rYEGby/GHPtL1aAH6Dxjc='
const NOW = Date.now()
const p = providers.shopify({ secret: SECRET })
const ok = { ok: true as const, secretIndex: 0 }

t.test('computed vector in both header families; facts', async (t) => {
  t.equal(p.name, 'shopify')
  t.same(p.contentTypes, ['json'])
  t.equal(providers.shopify.delivery, SHOPIFY_DELIVERY)
  t.same(SHOPIFY_DELIVERY, { retriesForMs: 4 * 3_600_000, suggestedDedupeTtlMs: 24 * 3_600_000, responseDeadlineMs: 5_000 })
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG }, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0 })
  t.same(p.verify({ headers: { 'shopify-hmac-sha256': SIG }, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0 })
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG, 'shopify-hmac-sha256': SIG }, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0 }, 'both families agreeing')
  t.equal(p.sign(BODY)['x-shopify-hmac-sha256'], SIG)
  t.equal(p.sign(BODY.toString())['x-shopify-hmac-sha256'], SIG, 'a string body is signed as UTF-8')
  t.ok(p.eventHeaders?.includes('x-shopify-shop-domain') && p.eventHeaders.includes('shopify-shop-domain'), 'the shop domain is kept')
  t.notOk(p.eventHeaders?.some((h) => h.includes('hmac')), 'never the signature')
})

t.test('failure reasons', async (t) => {
  t.same(p.verify({ headers: {}, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'shopify-hmac-sha256' })
  t.match(p.verify({ headers: { 'x-shopify-hmac-sha256': [SIG, SIG] }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'duplicate_header' })
  t.match(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG, 'shopify-hmac-sha256': SIG.replace('L', 'M') }, rawBody: BODY }, [SECRET], NOW),
    { ok: false, reason: 'duplicate_header', detail: 'x-shopify-hmac-sha256 and shopify-hmac-sha256' }, 'two different signatures')
  t.match(p.verify({ headers: { 'shopify-hmac-sha256': [SIG, SIG] }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'duplicate_header' })
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG.slice(0, -1) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte base64' })
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG }, rawBody: Buffer.concat([BODY, Buffer.from(' ')]) }, [SECRET], NOW), { ok: false, reason: 'no_match' })
  t.match(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG.replace(/[A-Za-z]/g, (c) => c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) }, rawBody: BODY }, [SECRET], NOW),
    { ok: false, reason: 'no_match' }, 'base64 is case-sensitive')
})

t.test('rotation: the old secret keeps working for the rotation hour', async (t) => {
  const c = countingSecrets(['shpss_new', SECRET, 'shpss_other'])
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG }, rawBody: BODY }, c.secrets, NOW), { ok: true, secretIndex: 1 })
  t.same([...c.reads].sort(), [0, 1, 2])
  t.same(p.verify({ headers: { 'x-shopify-hmac-sha256': SIG }, rawBody: BODY }, ['', SECRET], NOW), { ok: true, secretIndex: 1 })
})

t.test('toEvent: topic as type, webhook id (or event id), replay key', async (t) => {
  const headers = p.sign(BODY, { id: 'wh-1', eventId: 'ev-1', topic: 'orders/paid', shopDomain: 'acme.myshopify.com' })
  t.match(headers, { 'x-shopify-topic': 'orders/paid', 'x-shopify-shop-domain': 'acme.myshopify.com', 'x-shopify-webhook-id': 'wh-1', 'x-shopify-event-id': 'ev-1' })
  const event = p.toEvent({ kind: 'json', value: {} }, { headers, rawBody: BODY }, ok)
  t.match(event, { ok: true, id: 'wh-1', type: 'orders/paid', replayKey: /^[0-9a-f]{64}$/ })
  const byEvent = providers.shopify({ secret: SECRET, idFrom: 'event-id' })
  t.match(byEvent.toEvent({ kind: 'json', value: {} }, { headers, rawBody: BODY }, ok), { ok: true, id: 'ev-1', type: 'orders/paid' })
  const unprefixed = { 'shopify-hmac-sha256': SIG, 'shopify-topic': 'products/update', 'shopify-webhook-id': 'wh-2' }
  t.match(p.toEvent({ kind: 'json', value: {} }, { headers: unprefixed, rawBody: BODY }, ok), { ok: true, id: 'wh-2', type: 'products/update' })
  const resent = p.toEvent({ kind: 'json', value: {} }, { headers: { ...headers, 'x-shopify-webhook-id': 'wh-fresh' }, rawBody: BODY }, ok)
  t.equal((resent as { replayKey: string }).replayKey, (event as { replayKey: string }).replayKey, 'a resent capture keeps its replay key')
  t.same(p.toEvent({ kind: 'json', value: {} }, { headers: { 'x-shopify-topic': 't' }, rawBody: BODY }, ok), { ok: false, reason: 'missing_id', detail: 'x-shopify-webhook-id' })
  t.same(p.toEvent({ kind: 'json', value: {} }, { headers: { 'x-shopify-webhook-id': 'a', 'shopify-webhook-id': 'b' }, rawBody: BODY }, ok),
    { ok: false, reason: 'missing_id', detail: 'x-shopify-webhook-id' }, 'conflicting ids are not guessed between')
  const bare = p.toEvent({ kind: 'json', value: {} }, { headers: { 'x-shopify-webhook-id': 'a' }, rawBody: BODY }, ok)
  t.same(bare, { ok: true, id: 'a', type: '', replayKey: (event as { replayKey: string }).replayKey }, 'no topic, no other header: the same body, the same replay key')
  const other = p.toEvent({ kind: 'json', value: {} }, { headers, rawBody: Buffer.from('{"id":2}') }, ok)
  t.not((other as { replayKey: string }).replayKey, (event as { replayKey: string }).replayKey, 'another signed body is another key')
})

t.test('sign(): the headers Shopify sends', async (t) => {
  const headers = p.sign(BODY, { timestampSec: 1_700_000_000 })
  t.same(Object.keys(headers).sort(), ['content-type', 'user-agent', 'x-shopify-api-version', 'x-shopify-event-id', 'x-shopify-hmac-sha256',
    'x-shopify-shop-domain', 'x-shopify-topic', 'x-shopify-triggered-at', 'x-shopify-webhook-id'])
  t.equal(headers['x-shopify-triggered-at'], '2023-11-14T22:13:20.000Z')
  t.match(p.sign(BODY), { 'x-shopify-webhook-id': /^[0-9a-f-]{36}$/, 'x-shopify-topic': 'orders/create' })
  t.throws(() => providers.shopify({ secret: () => SECRET }).sign(BODY), /needs \{ secret \}/)
  t.throws(() => providers.shopify({ secret: () => SECRET }).sign(BODY, { secret: '' }), /non-empty secret/)
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.shopify({ secret: SECRET, idFrom: 'order-id' as never }), /Expected `shopify.idFrom` to be one of 'webhook-id', 'event-id'/)
  throwsOption(t, () => providers.shopify({ secret: [] }), /shopify.secret/)
  throwsOption(t, () => providers.shopify({ secret: SECRET, bodyLimit: 0 }), /shopify.bodyLimit/)
  t.equal(providers.shopify({ secret: SECRET, bodyLimit: 5 }).bodyLimit, 5)
})

t.test('hostile input never throws', async (t) => {
  const names = ['x-shopify-hmac-sha256', 'shopify-hmac-sha256', 'x-shopify-topic', 'x-shopify-webhook-id', 'shopify-webhook-id']
  const reasons = fuzz(p, names, 4000, () => p.sign(BODY))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
