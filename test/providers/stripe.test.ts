import t from 'tap'
import { createHmac } from 'node:crypto'
import Stripe from 'stripe'
import { providers } from '../../providers/index.js'
import { STRIPE_DELIVERY } from '../../providers/stripe.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// A vector computed from the documented scheme.
const SECRET = 'whsec_test_secret'
const T = 1614265330
const NOW = T * 1000
const BODY = Buffer.from('{"id":"evt_test_webhook","object":"event"}')
const V1 = '3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff'
const HEADER = `t=${T},v1=${V1}`
const p = providers.stripe({ secret: SECRET })
const stripeLib = new Stripe('sk_test_interop')

function req (header: string | string[], rawBody = BODY): { headers: Record<string, string | string[]>, rawBody: Buffer } {
  return { headers: { 'stripe-signature': header }, rawBody }
}

function v1 (secret: string, t: number | string, body: Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')
}

t.test('computed vector; the whsec_ secret is used as UTF-8 bytes', async (t) => {
  t.equal(p.name, 'stripe')
  t.same(p.contentTypes, ['json'])
  t.equal(providers.stripe.delivery, STRIPE_DELIVERY)
  t.same(STRIPE_DELIVERY, { retriesForMs: 3 * 86_400_000, suggestedDedupeTtlMs: 4 * 86_400_000, responseDeadlineMs: 10_000 })
  t.same(p.verify(req(HEADER), [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(BODY, { timestampSec: T }), {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    'stripe-signature': HEADER
  })
  t.equal(v1('whsec_test_secret', T, BODY), V1, 'the key is the whole string, prefix included')
  t.same(p.verify(req(`t=${T},v1=${createHmac('sha256', Buffer.from('test_secret', 'base64')).update(`${T}.`).update(BODY).digest('hex')}`), [SECRET], NOW),
    { ok: false, reason: 'no_match' }, 'a base64-decoded key (the Standard Webhooks rule) does not match')
  t.same(p.verify(req(HEADER.toUpperCase().replace('T=', 't=').replace('V1=', 'v1=')), [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW }, 'hex case does not matter')
})

t.test('toEvent: id and type from the body', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  t.same(p.toEvent({ kind: 'json', value: { id: 'evt_1', type: 'invoice.paid' } }, req(HEADER), ok), { ok: true, id: 'evt_1', type: 'invoice.paid' })
  t.same(p.toEvent({ kind: 'json', value: { object: 'event' } }, req(HEADER), ok), { ok: false, reason: 'missing_id', detail: 'id' })
  t.same(p.toEvent({ kind: 'json', value: { id: { nested: 1 }, type: 'x' } }, req(HEADER), ok), { ok: false, reason: 'missing_id', detail: 'id' })
  t.same(p.eventHeaders, ['user-agent'])
})

t.test('header parsing: several v1, v0 ignored, empty v1, missing t', async (t) => {
  const other = v1('whsec_other', T, BODY)
  t.ok(p.verify(req(`t=${T},v1=${other},v1=${V1}`), [SECRET], NOW).ok, 'any v1 matches')
  t.ok(p.verify(req(`t=${T},v0=${'0'.repeat(64)},v1=${V1}`), [SECRET], NOW).ok, 'v0 is ignored')
  t.ok(p.verify(req(`v1=${V1},t=${T},foo=bar,noequals`), [SECRET], NOW).ok, 'order and unknown items do not matter')
  t.same(p.verify(req(`t=${T},v1=`), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1= is 32-byte hex' }, 'an empty v1 is a clean failure')
  t.same(p.verify(req(`t=${T},v1=${V1.slice(2)}`), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1= is 32-byte hex' })
  t.same(p.verify(req(`t=${T},v1=${V1}00`), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1= is 32-byte hex' })
  t.same(p.verify(req(`t=${T},v1=${'z'.repeat(64)}`), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1= is 32-byte hex' })
  t.same(p.verify(req(`t=${T},v0=${V1}`), [SECRET], NOW), { ok: false, reason: 'unsupported_version', detail: 'stripe-signature has no v1=' })
  t.same(p.verify(req(`t=${T}`), [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'stripe-signature has no v1=' })
  t.same(p.verify(req(`v1=${V1}`), [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'stripe-signature has no t=' })
  t.same(p.verify(req(`t=${T},t=${T},v1=${V1}`), [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'stripe-signature has two t=' })
  t.same(p.verify(req('garbage'), [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'stripe-signature has no t=' })
  t.same(p.verify({ headers: {}, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'stripe-signature' })
  t.match(p.verify(req([HEADER, HEADER]), [SECRET], NOW), { ok: false, reason: 'duplicate_header' })
  for (const bad of [`${T}.5`, `${T}000`, '1.6e9', `-${T}`, '']) {
    t.match(p.verify(req(`t=${bad},v1=${V1}`), [SECRET], NOW), { ok: false, reason: 'malformed_header' }, `t=${bad}`)
  }
})

t.test('tolerance both ways (the official SDK checks only the past)', async (t) => {
  t.ok(p.verify(req(HEADER), [SECRET], NOW + 300_000).ok)
  t.ok(p.verify(req(HEADER), [SECRET], NOW - 300_000).ok)
  t.same(p.verify(req(HEADER), [SECRET], NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(p.verify(req(HEADER), [SECRET], NOW - 301_000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  const wide = providers.stripe({ secret: SECRET, toleranceMs: 900_000 })
  t.ok(wide.verify(req(HEADER), [SECRET], NOW + 899_000).ok)
  t.same(p.verify(req(`t=${T + 1},v1=${V1}`), [SECRET], NOW), { ok: false, reason: 'no_match' }, 't is signed')
})

t.test('rotation: every secret and every v1 tried', async (t) => {
  const c = countingSecrets(['whsec_a', 'whsec_b', SECRET, 'whsec_d'])
  t.same(p.verify(req(HEADER), c.secrets, NOW), { ok: true, secretIndex: 2, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2, 3])
  const both = `t=${T},v1=${v1('whsec_new', T, BODY)},v1=${V1}`
  t.same(p.verify(req(both), ['whsec_new', SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.verify(req(both), [SECRET, 'whsec_new'], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.verify(req(both), ['whsec_x'], NOW), { ok: false, reason: 'no_match' })
  t.same(p.verify(req(HEADER), ['', SECRET], NOW), { ok: true, secretIndex: 1, timestampMs: NOW }, 'an empty resolver secret never matches')
  const rotated = providers.stripe({ secret: ['whsec_new', SECRET] })
  t.equal(rotated.sign(BODY, { timestampSec: T })['stripe-signature'], `t=${T},v1=${v1('whsec_new', T, BODY)}`, 'signs with the first')
  t.equal(rotated.sign(BODY, { timestampSec: T, secret: SECRET })['stripe-signature'], HEADER)
})

t.test('interoperability with the stripe library', async (t) => {
  const payload = JSON.stringify({ id: 'evt_interop', object: 'event', type: 'payment_intent.succeeded', data: { object: { description: 'Café ☕' } } })
  const header = stripeLib.webhooks.generateTestHeaderString({ payload, secret: SECRET })
  t.match(p.verify(req(header, Buffer.from(payload)), [SECRET], Date.now()), { ok: true, secretIndex: 0 }, 'stripe signs, we verify')
  const ours = p.sign(payload)
  const event = stripeLib.webhooks.constructEvent(payload, ours['stripe-signature'], SECRET)
  t.equal(event.id, 'evt_interop', 'we sign, stripe verifies')
  const atVector = stripeLib.webhooks.generateTestHeaderString({ payload: BODY.toString(), secret: SECRET, timestamp: T })
  t.equal(atVector, HEADER, 'the computed vector is what stripe computes')
  t.throws(() => stripeLib.webhooks.constructEvent(payload, p.sign(payload, { secret: 'whsec_wrong' })['stripe-signature'], SECRET), 'a wrong secret fails theirs too')
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.stripe({ secret: '' }), /stripe.secret/)
  throwsOption(t, () => providers.stripe({ secret: SECRET, toleranceMs: '300' as never }), /stripe.toleranceMs/)
  throwsOption(t, () => providers.stripe({ secret: SECRET, tolerance: 300 } as never), /Unknown option `tolerance`/)
  t.equal(providers.stripe({ secret: SECRET, bodyLimit: 100 }).bodyLimit, 100)
  t.equal(p.sign(BODY, { contentType: 'application/json' })['content-type'], 'application/json')
  t.throws(() => providers.stripe({ secret: () => SECRET }).sign(BODY, { secret: '' }), /non-empty secret/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['stripe-signature'], 4000, () => ({ 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${V1}` }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
