import t from 'tap'
import { createHmac } from 'node:crypto'
import { Environment, Paddle } from '@paddle/paddle-node-sdk'
import { providers } from '../../providers/index.js'
import { PADDLE_DELIVERY } from '../../providers/paddle.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Paddle's SDK (webhooks.isSignatureValid, webhooks.unmarshal) is the
// reference verifier; the documented algorithm is the signer.
const SECRET = 'pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI'
const BODY = JSON.stringify({ event_id: 'evt_01h8bzakzx3hm2fmen703n5q45', event_type: 'address.created', occurred_at: '2023-08-21T11:13:54.094Z', notification_id: 'ntf_01h8bzam1z32agrxjwhjgqk8w6', data: { id: 'add_01h8bzak', city: 'Zürich ✓' } })
const TS = 1692616434
const NOW = TS * 1000
const H1 = createHmac('sha256', SECRET).update(`${TS}:${BODY}`).digest('hex')
const p = providers.paddle({ secret: SECRET })
const sdk = new Paddle('pdl_sdbx_apikey_interop', { environment: Environment.sandbox })
const req = (header: string | string[], body = BODY): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers: { 'paddle-signature': header }, rawBody: Buffer.from(body) })

t.test('the documented scheme, checked against Paddle\'s SDK both ways', async (t) => {
  t.equal(p.name, 'paddle')
  t.equal(providers.paddle.delivery, PADDLE_DELIVERY)
  t.same(PADDLE_DELIVERY, { retriesForMs: 3 * 86_400_000, suggestedDedupeTtlMs: 4 * 86_400_000, responseDeadlineMs: 5_000 })
  t.same(p.verify(req(`ts=${TS};h1=${H1}`), [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(BODY, { timestampSec: TS }), { 'content-type': 'application/json', 'paddle-signature': `ts=${TS};h1=${H1}` })
  const now = Math.floor(Date.now() / 1000)
  const theirs = `ts=${now};h1=${createHmac('sha256', SECRET).update(`${now}:${BODY}`).digest('hex')}`
  t.ok(await sdk.webhooks.isSignatureValid(BODY, SECRET, theirs), 'the SDK accepts the documented algorithm')
  t.match(p.verify(req(theirs), [SECRET], Date.now()), { ok: true, secretIndex: 0 }, 'and so do we')
  const ours = p.sign(BODY)['paddle-signature']
  t.ok(await sdk.webhooks.isSignatureValid(BODY, SECRET, ours), 'isSignatureValid accepts what we sign')
  const event = await sdk.webhooks.unmarshal(BODY, SECRET, ours)
  t.equal(event.eventId, 'evt_01h8bzakzx3hm2fmen703n5q45', 'unmarshal accepts it too')
  t.notOk(await sdk.webhooks.isSignatureValid(BODY, SECRET, p.sign(BODY, { secret: 'pdl_ntfset_wrong' })['paddle-signature']), 'a wrong key fails theirs too')
  t.notOk(await sdk.webhooks.isSignatureValid(BODY, SECRET, p.sign(BODY, { timestampSec: now - 60 })['paddle-signature']), 'a stale ts fails theirs too')
})

t.test('header parsing and failures', async (t) => {
  const v = (header: string | string[], body = BODY): ReturnType<typeof p.verify> => p.verify(req(header, body), [SECRET], NOW)
  t.ok(v(`h1=${H1};ts=${TS}`).ok, 'order does not matter')
  t.ok(v(`ts=${TS};h1=${'0'.repeat(64)};h1=${H1}`).ok, 'any h1 may match (rotation)')
  t.ok(v(`ts=${TS};h2=zzz;h1=${H1};junk`).ok, 'unknown items are skipped')
  t.same(v(`ts=${TS};h1=${H1}`, BODY.replace('✓', 'x')), { ok: false, reason: 'no_match' }, 'a tampered body')
  t.same(v(`ts=${TS + 1};h1=${H1}`), { ok: false, reason: 'no_match' }, 'ts is signed')
  t.same(v(`ts=${TS};h1=${createHmac('sha256', 'other').update(`${TS}:${BODY}`).digest('hex')}`), { ok: false, reason: 'no_match' }, 'another key')
  t.same(p.verify({ headers: {}, rawBody: Buffer.from(BODY) }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'paddle-signature' })
  t.match(v([`ts=${TS};h1=${H1}`, `ts=${TS};h1=${H1}`]), { ok: false, reason: 'duplicate_header' })
  t.same(v(`h1=${H1}`), { ok: false, reason: 'malformed_header', detail: 'paddle-signature has no ts=' })
  t.same(v(`ts=${TS};ts=${TS};h1=${H1}`), { ok: false, reason: 'malformed_header', detail: 'paddle-signature has two ts=' })
  t.same(v(`ts=${TS}`), { ok: false, reason: 'malformed_header', detail: 'paddle-signature has no h1=' })
  t.same(v(`ts=${TS};h1=${H1.slice(1)}`), { ok: false, reason: 'no_match', detail: 'no h1= is 32-byte hex' })
  for (const bad of [`${TS}.0`, `${TS}000`, '1.6e9', '']) t.match(v(`ts=${bad};h1=${H1}`), { ok: false, reason: 'malformed_header' }, `ts=${bad}`)
})

t.test('a 5 s window by default, both ways; configurable', async (t) => {
  t.ok(p.verify(req(`ts=${TS};h1=${H1}`), [SECRET], NOW + 5_000).ok)
  t.same(p.verify(req(`ts=${TS};h1=${H1}`), [SECRET], NOW + 6_000), { ok: false, reason: 'timestamp_too_old', detail: '6 s old' })
  t.same(p.verify(req(`ts=${TS};h1=${H1}`), [SECRET], NOW - 6_000), { ok: false, reason: 'timestamp_too_new', detail: '6 s ahead' })
  t.ok(providers.paddle({ secret: SECRET, toleranceMs: 60_000 }).verify(req(`ts=${TS};h1=${H1}`), [SECRET], NOW + 59_000).ok)
  t.same(p.checkHeaders?.(req(`ts=${TS};h1=${H1}`).headers, NOW + 60_000), { ok: false, reason: 'timestamp_too_old', detail: '60 s old' }, 'refused before the body')
})

t.test('rotation and toEvent', async (t) => {
  const c = countingSecrets(['pdl_a', SECRET, 'pdl_c'])
  t.same(p.verify(req(`ts=${TS};h1=${H1}`), c.secrets, NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2])
  const ok = { ok: true as const, secretIndex: 0 }
  t.same(p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req(''), ok), { ok: true, id: 'evt_01h8bzakzx3hm2fmen703n5q45', type: 'address.created' })
  t.same(p.toEvent({ kind: 'json', value: { notification_id: 'ntf_1' } }, req(''), ok), { ok: false, reason: 'missing_id', detail: 'event_id' })
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.paddle({ secret: '' }), /paddle.secret/)
  throwsOption(t, () => providers.paddle({ secret: SECRET, toleranceMs: 10 }), /paddle.toleranceMs/)
  throwsOption(t, () => providers.paddle({ secret: SECRET, tolerance: 5 } as never), /Unknown option `tolerance`/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['paddle-signature'], 3000, () => ({ 'paddle-signature': `ts=${Math.floor(Date.now() / 1000)};h1=${H1}` }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
