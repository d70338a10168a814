import t from 'tap'
import { createHmac } from 'node:crypto'
import { providers } from '../../providers/index.js'
import { MAILGUN_DELIVERY, MAILGUN_TOLERANCE_MS } from '../../providers/mailgun.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// mailgun.js sends mail and manages webhooks but verifies nothing, so the
// vectors are computed from Mailgun's documented algorithm: hex
// HMAC-SHA256(signing key, timestamp + token), in a body shaped as Mailgun's
// documentation shows it.
const KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0'
const TS = '1529006854'
const NOW = Number(TS) * 1000
const TOKEN = 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0'
const SIG = createHmac('sha256', KEY).update(TS + TOKEN).digest('hex')
const EVENT = { event: 'opened', timestamp: 1529006854.329574, id: 'DACSsAdVSeGpLid7TN03WA', recipient: 'alice@example.com', message: { headers: { 'message-id': '20130503182626.18666.16540@example.com' } } }
const BODY = JSON.stringify({ signature: { timestamp: TS, token: TOKEN, signature: SIG }, 'event-data': EVENT })
const json = { 'content-type': 'application/json' }
const form = { 'content-type': 'application/x-www-form-urlencoded' }
const p = providers.mailgun({ secret: KEY })
const req = (body: string, headers: Record<string, string> = json): { headers: Record<string, string>, rawBody: Buffer } => ({ headers, rawBody: Buffer.from(body) })

t.test('the documented algorithm, a JSON webhook and a form-encoded one', async (t) => {
  t.equal(p.name, 'mailgun')
  t.same(p.contentTypes, ['json', 'form'])
  t.equal(p.checkHeaders, undefined, 'the signature is in the body: nothing to check before reading it')
  t.equal(providers.mailgun.delivery, MAILGUN_DELIVERY)
  t.same(MAILGUN_DELIVERY, { retriesForMs: 485 * 60_000, suggestedDedupeTtlMs: 86_400_000, responseDeadlineMs: 10_000 })
  t.equal(MAILGUN_TOLERANCE_MS, 9 * 3_600_000)
  t.same(p.verify(req(BODY), [KEY], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  const formBody = `timestamp=${TS}&token=${TOKEN}&signature=${SIG}&recipient=bob%40example.com&Message-Id=%3Cm1%40example.com%3E`
  t.same(p.verify(req(formBody, form), [KEY], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  const signed = p.signBody(JSON.stringify({ 'event-data': EVENT }), { timestampSec: Number(TS), token: TOKEN })
  t.same(JSON.parse(signed), JSON.parse(BODY), 'signBody() adds the signature object Mailgun sends')
  t.same(p.sign(signed), { 'content-type': 'application/json', 'user-agent': 'mailgun/treq-22.2.0' })
  const signedForm = p.signBody('recipient=bob%40example.com', { contentType: 'form', timestampSec: Number(TS), token: TOKEN })
  t.ok(p.verify(req(signedForm, form), [KEY], NOW).ok)
  t.match(p.signBody('{"event-data":{}}'), /^\{"signature":\{"timestamp":"\d{10}","token":"[0-9a-f]{50}","signature":"[0-9a-f]{64}"\}/, 'a fresh 50-character token')
  t.throws(() => p.signBody('[1]'), /needs a JSON object body/)
  t.throws(() => providers.mailgun({ secret: () => KEY }).signBody('{}'), /needs \{ secret \}/)
})

t.test('failures: another key, a changed token or timestamp, missing or malformed signature fields, the window', async (t) => {
  const withSig = (sig: Record<string, unknown> | unknown): string => JSON.stringify({ signature: sig, 'event-data': EVENT })
  t.same(p.verify(req(BODY), ['other-key'], NOW), { ok: false, reason: 'no_match' })
  t.same(p.verify(req(withSig({ timestamp: TS, token: `${TOKEN}0`, signature: SIG })), [KEY], NOW), { ok: false, reason: 'no_match' }, 'the token is signed')
  t.same(p.verify(req(withSig({ timestamp: String(Number(TS) + 1), token: TOKEN, signature: SIG })), [KEY], NOW), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.ok(p.verify(req(BODY.replace('opened', 'clicked')), [KEY], NOW).ok, 'the event itself is NOT signed: Mailgun signs only timestamp + token')
  t.same(p.verify(req(withSig({ timestamp: TS, token: TOKEN, signature: SIG.slice(1) })), [KEY], NOW), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  t.same(p.verify(req(JSON.stringify({ 'event-data': EVENT })), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'no signature object in the body' })
  t.same(p.verify(req(withSig('sig')), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'no signature object in the body' })
  t.same(p.verify(req(withSig({ timestamp: TS, signature: SIG })), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'signature.timestamp, .token or .signature is missing or not a string' })
  t.same(p.verify(req(withSig({ timestamp: `${TS}.5`, token: TOKEN, signature: SIG })), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'timestamp is not integer seconds' })
  t.same(p.verify(req(withSig({ timestamp: TS, token: '', signature: SIG })), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'token is empty or over 512 characters' })
  t.ok(p.verify(req(withSig({ timestamp: Number(TS), token: TOKEN, signature: SIG })), [KEY], NOW).ok, 'an integer timestamp reads as its decimal string')
  t.same(p.verify(req('not json'), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'the body is not a JSON object (invalid_json)' })
  t.same(p.verify(req(`timestamp=${TS}&token=${TOKEN}`, form), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'no signature field' })
  t.same(p.verify(req(`timestamp=${TS}&token=${TOKEN}&token=fresh&signature=${SIG}`, form), [KEY], NOW), { ok: false, reason: 'malformed_body', detail: 'a repeated token field' }, 'a repeated field could differ from the one the event reads')
  t.ok(p.verify(req(BODY), [KEY], NOW + MAILGUN_TOLERANCE_MS).ok, 'inside the 9 h window')
  t.same(p.verify(req(BODY), [KEY], NOW + MAILGUN_TOLERANCE_MS + 1000), { ok: false, reason: 'timestamp_too_old', detail: `${MAILGUN_TOLERANCE_MS / 1000 + 1} s old` })
  t.match(p.verify(req(BODY), [KEY], NOW - MAILGUN_TOLERANCE_MS - 1000), { ok: false, reason: 'timestamp_too_new' })
  t.same(providers.mailgun({ secret: KEY, toleranceMs: 300_000 }).verify(req(BODY), [KEY], NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  const c = countingSecrets(['a', KEY, 'c'])
  t.same(p.verify(req(BODY), c.secrets, NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2])
})

t.test('toEvent: the event id (unsigned) with the signed token as replay key; the payload is the event, never the signature', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const a = p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req(BODY), ok)
  t.match(a, { ok: true, id: 'DACSsAdVSeGpLid7TN03WA', type: 'opened', payload: EVENT, replayKey: /^[0-9a-f]{64}$/ })
  const forged = JSON.parse(BODY.replace('DACSsAdVSeGpLid7TN03WA', 'attacker-chosen').replace('opened', 'unsubscribed'))
  const b = p.toEvent({ kind: 'json', value: forged }, req(BODY), ok)
  t.ok(a.ok && b.ok && a.replayKey === b.replayKey, 'a capture with its event rewritten keeps the replay key: one token, one event')
  t.same(p.toEvent({ kind: 'json', value: { signature: {} } }, req(BODY), ok), { ok: false, reason: 'missing_id', detail: 'event-data' })
  const f = p.toEvent({ kind: 'form', value: { timestamp: TS, token: TOKEN, signature: SIG, 'Message-Id': '<m1@example.com>', event: 'stored' } }, req(''), ok)
  t.match(f, { ok: true, id: '<m1@example.com>', type: 'stored', payload: { timestamp: TS, token: TOKEN, 'Message-Id': '<m1@example.com>' } })
  t.ok(f.ok && a.ok && f.replayKey === a.replayKey, 'the same signed token, the same key, whatever the encoding')
  t.notOk(f.ok && 'signature' in (f.payload as object), 'no signature in the payload')
})

t.test('through the route: a resent capture with a new event id verifies (202) and carries the token\'s replay key', async (t) => {
  const { app } = await buildApp(t, { provider: p })
  const body = p.signBody(JSON.stringify({ 'event-data': EVENT }))
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: p.sign(body) })
  t.equal(res.statusCode, 202, res.body)
  const job = await app.webhooks.get('mailgun:/v1/events')!.queue.getJob('mailgun.DACSsAdVSeGpLid7TN03WA')
  t.match(job?.data, { type: 'opened', payload: EVENT, replayKey: /^[0-9a-f]{64}$/ })
  t.notOk(JSON.stringify(job?.data).includes((JSON.parse(body) as { signature: { signature: string } }).signature.signature), 'the signature is not stored')
  const bad = await app.inject({ method: 'POST', url: '/v1/events', payload: BODY, headers: json })
  t.equal(bad.statusCode, 401, 'a signature out of the window')
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.mailgun({ secret: '' }), /mailgun.secret/)
  throwsOption(t, () => providers.mailgun({ secret: KEY, toleranceMs: 86_400_001 }), /mailgun.toleranceMs/)
  throwsOption(t, () => providers.mailgun({ secret: KEY, webhookSigningKey: KEY } as never), /Unknown option `webhookSigningKey`/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['content-type'], 3000)
  t.ok(reasons.size >= 1, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
  for (let i = 0; i < 200; i++) {
    const mutated = BODY.slice(0, i % BODY.length) + String.fromCharCode(i) + BODY.slice((i % BODY.length) + 1)
    for (const headers of [json, form]) t.doesNotThrow(() => p.verify(req(mutated, headers), [KEY], NOW))
  }
})
