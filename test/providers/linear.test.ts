import t from 'tap'
import { createHmac } from 'node:crypto'
import { LinearWebhookClient } from '@linear/sdk/webhooks'
import { providers } from '../../providers/index.js'
import { LINEAR_DELIVERY } from '../../providers/linear.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Linear's SDK (LinearWebhookClient.verify / parseData) is the reference
// verifier; the documented algorithm, hex HMAC-SHA256 of the body, the signer.
const SECRET = 'lin_wh_3f8a1c0e5b7d4e2a9c6b1d8f0e2a4c6b'
const p = providers.linear({ secret: SECRET })
const sdk = new LinearWebhookClient(SECRET)
const bodyAt = (ms: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ action: 'create', type: 'Issue', data: { id: 'iss_1', title: 'Grüße ✓' }, organizationId: 'org_1', webhookId: 'wh_1', webhookTimestamp: ms, ...extra })
const sigOf = (body: string, secret = SECRET): string => createHmac('sha256', secret).update(body).digest('hex')
const req = (body: string, signature: string | string[], extra: Record<string, string> = {}): { headers: Record<string, string | string[]>, rawBody: Buffer } =>
  ({ headers: { 'content-type': 'application/json', 'linear-signature': signature, ...extra }, rawBody: Buffer.from(body) })

t.test('Linear\'s SDK and the preset agree both ways', async (t) => {
  t.equal(p.name, 'linear')
  t.equal(providers.linear.delivery, LINEAR_DELIVERY)
  t.same(LINEAR_DELIVERY, { retriesForMs: 421 * 60_000, suggestedDedupeTtlMs: 86_400_000, responseDeadlineMs: 5_000 })
  const now = Date.now()
  const body = bodyAt(now)
  const theirs = sigOf(body)
  t.ok(sdk.verify(Buffer.from(body), theirs), 'the SDK accepts the documented algorithm')
  t.same(p.verify(req(body, theirs), [SECRET], now), { ok: true, secretIndex: 0, timestampMs: now })
  const ours = p.sign(body, { id: 'delivery-1' })
  t.same(ours, { 'content-type': 'application/json', 'user-agent': 'Linear-Webhook', 'linear-delivery': 'delivery-1', 'linear-event': 'Issue', 'linear-signature': theirs })
  t.match(sdk.parseData(Buffer.from(body), ours['linear-signature']), { type: 'Issue', webhookTimestamp: now }, 'parseData accepts what we sign')
  t.throws(() => sdk.verify(Buffer.from(body), p.sign(body, { secret: 'other' })['linear-signature']), /Invalid webhook signature/, 'a wrong secret fails theirs too')
  const stale = bodyAt(now - 120_000)
  t.throws(() => sdk.verify(Buffer.from(stale), p.sign(stale)['linear-signature']), /Invalid webhook timestamp/, 'and a stale body')
})

t.test('the signed webhookTimestamp: 60 s both ways by default; missing or malformed is refused', async (t) => {
  const T = 1_700_000_000_000
  const body = bodyAt(T)
  const sig = sigOf(body)
  t.ok(p.verify(req(body, sig), [SECRET], T + 60_000).ok)
  t.same(p.verify(req(body, sig), [SECRET], T + 61_000), { ok: false, reason: 'timestamp_too_old', detail: '61 s old' })
  t.same(p.verify(req(body, sig), [SECRET], T - 61_000), { ok: false, reason: 'timestamp_too_new', detail: '61 s ahead' })
  t.ok(providers.linear({ secret: SECRET, toleranceMs: 300_000 }).verify(req(body, sig), [SECRET], T + 299_000).ok)
  for (const [label, b] of [['no timestamp', JSON.stringify({ type: 'Issue' })], ['a string timestamp', bodyAt(T).replace(String(T), `"${T}"`)], ['not JSON', 'webhookTimestamp=1'], ['a JSON array', `[${T}]`]]) {
    t.same(p.verify(req(b, sigOf(b)), [SECRET], T), { ok: false, reason: 'malformed_body', detail: 'no numeric webhookTimestamp (ms) in the signed body' }, label)
  }
  t.same(p.verify(req(body.replace(String(T), String(T + 1)), sig), [SECRET], T), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(p.checkHeaders?.(req(body, sig).headers, T + 3_600_000), undefined, 'the window is in the body: checkHeaders cannot see it')
})

t.test('failures, rotation, toEvent', async (t) => {
  const now = Date.now()
  const body = bodyAt(now)
  const sig = sigOf(body)
  t.same(p.verify(req(body.replace('✓', 'x'), sig), [SECRET], now), { ok: false, reason: 'no_match' }, 'a tampered body')
  t.same(p.verify(req(body, sigOf(body, 'other')), [SECRET], now), { ok: false, reason: 'no_match' }, 'another secret')
  t.same(p.verify({ headers: {}, rawBody: Buffer.from(body) }, [SECRET], now), { ok: false, reason: 'missing_header', detail: 'linear-signature' })
  t.match(p.verify(req(body, [sig, sig]), [SECRET], now), { ok: false, reason: 'duplicate_header' })
  t.same(p.verify(req(body, `sha256=${sig}`), [SECRET], now), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  t.ok(p.verify(req(body, sig.toUpperCase()), [SECRET], now).ok, 'hex case does not matter')
  const c = countingSecrets(['a', 'b', SECRET])
  t.same(p.verify(req(body, sig), c.secrets, now), { ok: true, secretIndex: 2, timestampMs: now })
  t.same([...c.reads].sort(), [0, 1, 2])

  const ok = { ok: true as const, secretIndex: 0 }
  const a = p.toEvent({ kind: 'json', value: JSON.parse(body) }, req(body, sig, { 'linear-delivery': 'd-1', 'linear-event': 'Comment' }), ok)
  t.match(a, { ok: true, id: 'd-1', type: 'Issue', replayKey: /^[0-9a-f]{64}$/ }, 'the type is the signed body\'s, not the unsigned header\'s')
  const b = p.toEvent({ kind: 'json', value: JSON.parse(body) }, req(body, sig, { 'linear-delivery': 'd-2' }), ok)
  t.ok(a.ok && b.ok && a.replayKey === b.replayKey, 'a fresh delivery id keeps the replay key')
  const c2 = p.toEvent({ kind: 'json', value: JSON.parse(body) }, req(body, sig), ok)
  t.ok(c2.ok && c2.id === c2.replayKey, 'without Linear-Delivery the replay key is the id')
  t.same(p.eventHeaders, ['linear-delivery', 'linear-event'])
  t.equal(p.sign('not json')['linear-event'], 'Issue')
  t.equal(p.sign(body, { event: 'Comment' })['linear-event'], 'Comment')
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.linear({ secret: '' }), /linear.secret/)
  throwsOption(t, () => providers.linear({ secret: SECRET, toleranceMs: 0 }), /linear.toleranceMs/)
  throwsOption(t, () => providers.linear({ secret: SECRET, window: 1 } as never), /Unknown option `window`/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['linear-signature', 'linear-delivery', 'linear-event'], 3000, () => ({ 'linear-signature': sigOf(bodyAt(Date.now())) }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
