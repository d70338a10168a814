import t from 'tap'
import { createHmac } from 'node:crypto'
import { providers } from '../../providers/index.js'
import { ZOOM_DELIVERY } from '../../providers/zoom.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// No Zoom SDK verifies webhooks: vectors come from Zoom's documented
// algorithm, hex HMAC-SHA256 of `v0:{timestamp}:{body}`, and its
// url_validation answer, hex HMAC-SHA256 of the plainToken.
const SECRET = 'zoom-secret-token-Qd2pM8wX'
const TS = 1654503849
const NOW = TS * 1000
const BODY = JSON.stringify({ event: 'meeting.started', event_ts: 1654503849680, payload: { account_id: 'AAAA', object: { id: '9876', topic: 'Grüße ✓' } } })
const V0 = `v0=${createHmac('sha256', SECRET).update(`v0:${TS}:${BODY}`).digest('hex')}`
const headers = { 'content-type': 'application/json', 'x-zm-request-timestamp': String(TS), 'x-zm-signature': V0 }
const VALIDATION = '{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}'
const p = providers.zoom({ secret: SECRET })
const req = (h: Record<string, string | string[]>, body = BODY): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers: h, rawBody: Buffer.from(body) })

t.test('the documented algorithm', async (t) => {
  t.equal(p.name, 'zoom')
  t.equal(providers.zoom.delivery, ZOOM_DELIVERY)
  t.same(ZOOM_DELIVERY, { retriesForMs: 85 * 60_000, suggestedDedupeTtlMs: 86_400_000, responseDeadlineMs: 3_000 })
  t.same(p.verify(req(headers), [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(BODY, { timestampSec: TS }), { ...headers, 'user-agent': 'Zoom Marketplace/1.0a' })
})

t.test('failures and rotation', async (t) => {
  const v = (h: Record<string, string | string[]>, body = BODY, now = NOW): ReturnType<typeof p.verify> => p.verify(req(h, body), [SECRET], now)
  t.same(v(headers, BODY.replace('✓', 'x')), { ok: false, reason: 'no_match' })
  t.same(v({ ...headers, 'x-zm-signature': p.sign(BODY, { timestampSec: TS, secret: 'other' })['x-zm-signature'] }), { ok: false, reason: 'no_match' })
  t.same(v({ ...headers, 'x-zm-request-timestamp': String(TS + 1) }), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(v(headers, BODY, NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(v(headers, BODY, NOW - 301_000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  t.same(v({ 'x-zm-request-timestamp': String(TS) }), { ok: false, reason: 'missing_header', detail: 'x-zm-signature' })
  t.same(v({ 'x-zm-signature': V0 }), { ok: false, reason: 'missing_header', detail: 'x-zm-request-timestamp' })
  t.match(v({ ...headers, 'x-zm-signature': [V0, V0] }), { ok: false, reason: 'duplicate_header' })
  t.same(v({ ...headers, 'x-zm-signature': V0.slice(3) }), { ok: false, reason: 'malformed_header', detail: 'x-zm-signature is not version=hex' })
  t.same(v({ ...headers, 'x-zm-signature': `v1=${V0.slice(3)}` }), { ok: false, reason: 'unsupported_version', detail: 'x-zm-signature version v1' })
  t.same(v({ ...headers, 'x-zm-signature': V0.slice(0, -2) }), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  t.same(v({ ...headers, 'x-zm-request-timestamp': `${TS}000` }), { ok: false, reason: 'malformed_header', detail: 'x-zm-request-timestamp is not integer seconds' })
  const c = countingSecrets(['a', 'b', SECRET])
  t.same(p.verify(req(headers), c.secrets, NOW), { ok: true, secretIndex: 2, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2])
})

t.test('toEvent: a digest of the signed body as id; endpoint.url_validation answered with the matched secret', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const a = p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req(headers), ok)
  t.match(a, { ok: true, id: /^[0-9a-f]{64}$/, type: 'meeting.started' })
  t.notOk('replayKey' in a, 'the id itself is of signed bytes')
  const b = p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req({ ...headers, 'x-zm-trackingid': 'other', 'x-zm-request-timestamp': '1' }), ok)
  t.ok(a.ok && b.ok && a.id === b.id, 'a retry, re-signed at another time, has the same id')
  const encryptedToken = createHmac('sha256', SECRET).update('qgg8vlvZRS6UYooatFL8Aw').digest('hex')
  t.same(p.respond?.({ kind: 'json', value: JSON.parse(VALIDATION) }, req(headers, VALIDATION), SECRET),
    { statusCode: 200, body: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw', encryptedToken }, enqueue: false })
  t.same(p.respond?.({ kind: 'json', value: JSON.parse(VALIDATION) }, req(headers, VALIDATION), 'rotated-secret'),
    { statusCode: 200, body: { plainToken: 'qgg8vlvZRS6UYooatFL8Aw', encryptedToken: createHmac('sha256', 'rotated-secret').update('qgg8vlvZRS6UYooatFL8Aw').digest('hex') }, enqueue: false },
    'the secret that verified the request answers it')
  t.same(p.respond?.({ kind: 'json', value: { event: 'endpoint.url_validation', payload: {} } }, req(headers), SECRET), { statusCode: 200, body: undefined, enqueue: false })
  t.same(p.respond?.({ kind: 'json', value: JSON.parse(VALIDATION) }, req(headers)), { statusCode: 200, body: undefined, enqueue: false }, 'no secret, no token')
  t.equal(p.respond?.({ kind: 'json', value: JSON.parse(BODY) }, req(headers), SECRET), undefined)
})

t.test('through the route: the validation answered and not enqueued, with a resolver\'s secret; events enqueued', async (t) => {
  const provider = providers.zoom({ secret: async () => ['old-token', SECRET] })
  const { app } = await buildApp(t, { provider })
  const queue = app.webhooks.get('zoom:/v1/events')!.queue
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: VALIDATION, headers: p.sign(VALIDATION) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { plainToken: 'qgg8vlvZRS6UYooatFL8Aw', encryptedToken: createHmac('sha256', SECRET).update('qgg8vlvZRS6UYooatFL8Aw').digest('hex') })
  t.equal(await queue.count(), 0, 'the validation is not an event')
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: VALIDATION, headers: p.sign(VALIDATION, { secret: 'forged' }) })).statusCode, 401, 'an unsigned validation is refused')
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: BODY, headers: p.sign(BODY) })).statusCode, 202)
  t.equal(await queue.count(), 1)
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.zoom({ secret: '' }), /zoom.secret/)
  throwsOption(t, () => providers.zoom({ secret: SECRET, toleranceMs: 1.5 }), /zoom.toleranceMs/)
  throwsOption(t, () => providers.zoom({ secret: SECRET, verificationToken: 'x' } as never), /Unknown option `verificationToken`/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-zm-signature', 'x-zm-request-timestamp'], 3000, () => ({ ...headers, 'x-zm-request-timestamp': String(Math.floor(Date.now() / 1000)) }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
