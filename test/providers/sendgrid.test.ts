import t from 'tap'
import { createPublicKey, generateKeyPairSync, sign as ecSign } from 'node:crypto'
import sendgridSdk from '@sendgrid/eventwebhook'
import { providers } from '../../providers/index.js'
import { SENDGRID_DELIVERY } from '../../providers/sendgrid.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// @sendgrid/eventwebhook is the reference verifier, and its test suite's
// published vector (a batch of one event, signed by SendGrid) the reference signature.
const { EventWebhook } = sendgridSdk
const VECTOR_KEY = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=='
const VECTOR_SIG = 'MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM='
const VECTOR_TS = 1600112502
const VECTOR_BODY = JSON.stringify([{
  email: 'hello@world.com',
  event: 'dropped',
  reason: 'Bounced Address',
  sg_event_id: 'ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA',
  sg_message_id: 'LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0',
  'smtp-id': '<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>',
  timestamp: 1600112492
}]) + '\r\n'
const vectorHeaders = { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': VECTOR_SIG, 'x-twilio-email-event-webhook-timestamp': String(VECTOR_TS) }
const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const OWN_KEY = keys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
const p = providers.sendgrid({ publicKey: VECTOR_KEY })
const own = providers.sendgrid({ publicKey: OWN_KEY })
const BATCH = JSON.stringify([
  { email: 'a@example.com', event: 'delivered', sg_event_id: 'ZGVsaXZlcmVkLTE', timestamp: 1700000000 },
  { email: 'b@example.com', event: 'open', sg_event_id: 'b3Blbi0y', timestamp: 1700000001, note: 'Grüße ✓' }
]) + '\r\n'
const req = (headers: Record<string, string | string[]>, body: string): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers, rawBody: Buffer.from(body) })

t.test('SendGrid\'s published vector verifies; our signatures verify with @sendgrid/eventwebhook', async (t) => {
  t.equal(p.name, 'sendgrid')
  t.equal(p.jsonArrays, true)
  t.equal(providers.sendgrid.delivery, SENDGRID_DELIVERY)
  const sdk = new EventWebhook()
  t.ok(sdk.verifySignature(sdk.convertPublicKeyToECDSA(VECTOR_KEY), VECTOR_BODY, VECTOR_SIG, String(VECTOR_TS)), 'the SDK accepts its own vector')
  t.same(p.verify(req(vectorHeaders, VECTOR_BODY), [VECTOR_KEY], VECTOR_TS * 1000), { ok: true, secretIndex: 0, timestampMs: VECTOR_TS * 1000 })
  t.same(p.verify(req(vectorHeaders, VECTOR_BODY.trimEnd()), [VECTOR_KEY], VECTOR_TS * 1000), { ok: false, reason: 'no_match' }, 'the trailing CRLF is signed')
  const ours = own.sign(BATCH, { privateKey: keys.privateKey })
  t.match(ours, { 'content-type': 'application/json', 'x-twilio-email-event-webhook-timestamp': /^\d{10}$/, 'x-twilio-email-event-webhook-signature': /^[A-Za-z0-9+/]+={0,2}$/ })
  const ownKey = sdk.convertPublicKeyToECDSA(OWN_KEY)
  t.ok(sdk.verifySignature(ownKey, BATCH, ours['x-twilio-email-event-webhook-signature'], ours['x-twilio-email-event-webhook-timestamp']), 'verifySignature accepts what we sign')
  t.notOk(sdk.verifySignature(ownKey, `${BATCH} `, ours['x-twilio-email-event-webhook-signature'], ours['x-twilio-email-event-webhook-timestamp']), 'a tampered body fails theirs too')
  t.ok(own.verify(req(ours, BATCH), [OWN_KEY], Date.now()).ok)
  const independent = ecSign('sha256', Buffer.from(`${VECTOR_TS}${BATCH}`), keys.privateKey).toString('base64')
  t.ok(own.verify(req({ ...vectorHeaders, 'x-twilio-email-event-webhook-signature': independent }, BATCH), [OWN_KEY], VECTOR_TS * 1000).ok, 'a signature made by node:crypto directly')
})

t.test('failures: tampered body, another key, stale timestamp, missing, repeated and malformed headers; rotation', async (t) => {
  const v = (h: Record<string, string | string[]>, body = VECTOR_BODY, keyList = [VECTOR_KEY], now = VECTOR_TS * 1000): ReturnType<typeof p.verify> => p.verify(req(h, body), keyList, now)
  t.same(v(vectorHeaders, VECTOR_BODY.replace('dropped', 'dropper')), { ok: false, reason: 'no_match' })
  t.same(v(vectorHeaders, VECTOR_BODY, [OWN_KEY]), { ok: false, reason: 'no_match' })
  t.same(v({ ...vectorHeaders, 'x-twilio-email-event-webhook-timestamp': String(VECTOR_TS + 1) }), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(v(vectorHeaders, VECTOR_BODY, [VECTOR_KEY], (VECTOR_TS + 301) * 1000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  const now = Date.now()
  t.same(v(vectorHeaders, VECTOR_BODY, [VECTOR_KEY], now), { ok: false, reason: 'timestamp_too_old', detail: `${Math.round(now / 1000 - VECTOR_TS)} s old` }, 'the vector itself is years old')
  t.same(v({ 'x-twilio-email-event-webhook-timestamp': String(VECTOR_TS) }), { ok: false, reason: 'missing_header', detail: 'x-twilio-email-event-webhook-signature' })
  t.same(v({ 'x-twilio-email-event-webhook-signature': VECTOR_SIG }), { ok: false, reason: 'missing_header', detail: 'x-twilio-email-event-webhook-timestamp' })
  t.match(v({ ...vectorHeaders, 'x-twilio-email-event-webhook-signature': [VECTOR_SIG, VECTOR_SIG] }), { ok: false, reason: 'duplicate_header' })
  t.same(v({ ...vectorHeaders, 'x-twilio-email-event-webhook-signature': VECTOR_SIG.slice(0, -1) }), { ok: false, reason: 'no_match', detail: 'signature is not base64 of at most 72 bytes' })
  t.same(v({ ...vectorHeaders, 'x-twilio-email-event-webhook-signature': 'A'.repeat(200) }), { ok: false, reason: 'no_match', detail: 'signature is not base64 of at most 72 bytes' })
  t.same(v({ ...vectorHeaders, 'x-twilio-email-event-webhook-signature': Buffer.from('not DER at all').toString('base64') }), { ok: false, reason: 'no_match' }, 'a malformed DER signature is no match, not a throw')
  const c = countingSecrets([OWN_KEY, VECTOR_KEY, 'junk'])
  t.same(p.verify(req(vectorHeaders, VECTOR_BODY), c.secrets, VECTOR_TS * 1000), { ok: true, secretIndex: 1, timestampMs: VECTOR_TS * 1000 })
  t.same([...c.reads].sort(), [0, 1, 2])
})

t.test('keys: base64 DER as SendGrid shows it, PEM, JWK; others refused at creation', async (t) => {
  const ours = own.sign(BATCH, { privateKey: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() })
  for (const [form, key] of [['base64 DER', OWN_KEY], ['PEM', keys.publicKey.export({ format: 'pem', type: 'spki' }).toString()], ['JWK', JSON.stringify(keys.publicKey.export({ format: 'jwk' }))]]) {
    t.ok(providers.sendgrid({ publicKey: key }).verify(req(ours, BATCH), [key], Date.now()).ok, form)
  }
  throwsOption(t, () => providers.sendgrid({ publicKey: OWN_KEY.slice(4) }), /Expected `sendgrid.publicKey` to be usable: an ECDSA P-256 public key/)
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
  throwsOption(t, () => providers.sendgrid({ publicKey: p384 }), /sendgrid.publicKey/, 'another curve')
  const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString()
  throwsOption(t, () => providers.sendgrid({ publicKey: ed }), /sendgrid.publicKey/, 'an Ed25519 key')
  throwsOption(t, () => providers.sendgrid({ publicKey: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }), /sendgrid.publicKey/, 'a private key')
  throwsOption(t, () => providers.sendgrid({ publicKey: OWN_KEY, toleranceMs: -1 }), /sendgrid.toleranceMs/)
  t.throws(() => own.sign(BATCH), /needs \{ privateKey \}, an ECDSA P-256 private key/)
  t.throws(() => own.sign(BATCH, { privateKey: generateKeyPairSync('ed25519').privateKey }), /needs \{ privateKey \}/)
  t.equal(createPublicKey(keys.privateKey).export({ format: 'der', type: 'spki' }).toString('base64'), OWN_KEY)
})

t.test('toEvent: one job per batch, its id from the signed sg_event_ids', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const r = req({}, BATCH)
  const items = JSON.parse(BATCH) as Array<Record<string, unknown>>
  const a = p.toEvent({ kind: 'json', value: {}, items }, r, ok)
  t.match(a, { ok: true, id: /^batch:[0-9a-f]{64}$/, type: 'mixed', payload: items })
  const b = p.toEvent({ kind: 'json', value: {}, items: [...items].reverse() }, r, ok)
  t.ok(a.ok && b.ok && a.id === b.id, 'the order of the batch does not matter')
  t.same(p.toEvent({ kind: 'json', value: {}, items: [items[0]] }, r, ok), { ok: true, id: 'ZGVsaXZlcmVkLTE', type: 'delivered', payload: [items[0]] }, 'a batch of one keeps its event id')
  t.same(p.toEvent({ kind: 'json', value: items[1] }, r, ok), { ok: true, id: 'b3Blbi0y', type: 'open', payload: [items[1]] }, 'a lone object is a batch of one')
  t.same(p.toEvent({ kind: 'json', value: {}, items: [] }, r, ok), { ok: false, reason: 'missing_id', detail: 'sg_event_id' })
  t.same(p.toEvent({ kind: 'json', value: {}, items: [items[0], { event: 'open' }] }, r, ok), { ok: false, reason: 'missing_id', detail: 'sg_event_id' })
  t.same(p.toEvent({ kind: 'json', value: {}, items: [items[0], 'x'] }, r, ok), { ok: false, reason: 'missing_id', detail: 'sg_event_id' })
})

t.test('through the route: a JSON array body is one job with the batch as payload', async (t) => {
  const { app } = await buildApp(t, { provider: own })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: BATCH, headers: own.sign(BATCH, { privateKey: keys.privateKey }) })
  t.equal(res.statusCode, 202, res.body)
  const queue = app.webhooks.get('sendgrid:/v1/events')!.queue
  const [job] = await queue.getJobs(['waiting', 'prioritized'])
  t.match(job?.data, { id: /^batch:/, type: 'mixed', payload: JSON.parse(BATCH) })
  const again = await app.inject({ method: 'POST', url: '/v1/events', payload: BATCH, headers: own.sign(BATCH, { privateKey: keys.privateKey, timestampSec: Math.floor(Date.now() / 1000) + 1 }) })
  t.equal(again.statusCode, 202)
  t.equal(await queue.count(), 1, 'the batch re-signed for a retry is a duplicate')
  const scalar = await app.inject({ method: 'POST', url: '/v1/events', payload: '42', headers: own.sign('42', { privateKey: keys.privateKey }) })
  t.equal(scalar.statusCode, 400)
  t.equal(scalar.json().code, 'FST_WEBHOOK_NOT_AN_OBJECT')
  const poisoned = '[{"sg_event_id":"x","__proto__":{"admin":true}}]'
  const refused = await app.inject({ method: 'POST', url: '/v1/events', payload: poisoned, headers: own.sign(poisoned, { privateKey: keys.privateKey }) })
  t.equal(refused.json().code, 'FST_WEBHOOK_FORBIDDEN_KEY', 'arrays get the same prototype-poisoning refusal')
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(own, ['x-twilio-email-event-webhook-signature', 'x-twilio-email-event-webhook-timestamp'], 2000, () => own.sign(BATCH, { privateKey: keys.privateKey }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
