import t from 'tap'
import { createPrivateKey, createPublicKey, verify as edVerify } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { providers } from '../../providers/index.js'
import { standardWebhooksPublicKey, standardWebhooksPublicOf } from '../../providers/standard-webhooks.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Standard Webhooks `v1a`: Ed25519 over `${id}.${timestamp}.${body}`. Neither
// the standardwebhooks nor the svix JavaScript library implements it, so the
// reference is the spec's own Go library: its signing test pins the vector
// below (seed `whsk_VEVT…`, message, timestamp and payload as it has them).
const SEED = 'VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk='
const WHSK = `whsk_${SEED}`
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const TS = 1614265330
const NOW = TS * 1000
const BODY = '{"test": 2432232314}'
const V1A = 'v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=='
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, Buffer.from(SEED, 'base64')]), format: 'der', type: 'pkcs8' })
const WHPK = `whpk_${Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x as string, 'base64url').toString('base64')}`
const HMAC_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const headers = { 'content-type': 'application/json', 'webhook-id': ID, 'webhook-timestamp': String(TS), 'webhook-signature': V1A }
const p = providers.standardWebhooks({ secret: WHPK })
const req = (h: Record<string, string | string[]>, body = BODY): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers: h, rawBody: Buffer.from(body) })

t.test('the spec library\'s vector: we verify it with the whpk_ key, and sign it from the whsk_ seed', async (t) => {
  t.ok(edVerify(null, Buffer.from(`${ID}.${TS}.${BODY}`), createPublicKey(privateKey), Buffer.from(V1A.slice(4), 'base64')), 'the vector is Ed25519 over id.timestamp.body')
  t.same(p.verify(req(headers), [WHPK], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(BODY, { secret: WHSK, id: ID, timestampSec: TS }), headers, 'sign() with the whsk_ seed gives the vector')
  t.same(p.sign(BODY, { secret: WHSK, id: ID, timestampSec: TS, family: 'svix' }), { 'content-type': 'application/json', 'svix-id': ID, 'svix-timestamp': String(TS), 'svix-signature': V1A })
  t.ok(standardWebhooksPublicKey(WHPK))
  t.equal(standardWebhooksPublicKey('whpk_AAAA'), undefined)
  t.equal(standardWebhooksPublicOf(WHSK), WHPK, 'the whpk_ key of a whsk_ seed')
  t.equal(standardWebhooksPublicOf(HMAC_SECRET), undefined)
})

t.test('v1 and v1a side by side: each secret checks its own version; lists mix during a migration', async (t) => {
  const both = providers.standardWebhooks({ secret: [HMAC_SECRET, WHPK] })
  const hmacSigned = both.sign(BODY, { id: ID, timestampSec: TS })
  t.match(hmacSigned['webhook-signature'], /^v1,/)
  t.same(both.verify(req(hmacSigned), [HMAC_SECRET, WHPK], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(both.verify(req(headers), [HMAC_SECRET, WHPK], NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
  const mixed = { ...headers, 'webhook-signature': `${hmacSigned['webhook-signature']} ${V1A}` }
  t.same(both.verify(req(mixed), [WHPK], NOW), { ok: true, secretIndex: 0, timestampMs: NOW }, 'a sender signing both ways while moving to v1a')
  const c = countingSecrets([HMAC_SECRET, 'whpk_' + Buffer.alloc(32, 1).toString('base64'), WHPK])
  t.same(both.verify(req(headers), c.secrets, NOW), { ok: true, secretIndex: 2, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2], 'every secret is tried')
  t.same(p.verify(req({ ...headers, 'webhook-signature': hmacSigned['webhook-signature'] }), [WHPK], NOW), { ok: false, reason: 'unsupported_version', detail: 'no v1a signature in webhook-signature' },
    'a whpk_-only endpoint has no key for v1')
  t.same(providers.standardWebhooks({ secret: HMAC_SECRET }).verify(req(headers), [HMAC_SECRET], NOW), { ok: false, reason: 'unsupported_version', detail: 'no v1 signature in webhook-signature' },
    'a whsec_-only endpoint skips v1a, as before')
  const resolver = providers.standardWebhooks({ secret: () => WHPK })
  t.same(resolver.verify(req(headers), [WHPK], NOW), { ok: true, secretIndex: 0, timestampMs: NOW }, 'a resolver may return either kind')
  t.same(resolver.verify(req({ ...headers, 'webhook-signature': 'v1a,abc v1,def' }), [WHPK], NOW), { ok: false, reason: 'no_match', detail: 'no v1 or v1a signature in webhook-signature decodes (32 or 64 bytes of base64)' })
})

t.test('failures: tampered body, another key, a signed id and timestamp, stale, malformed', async (t) => {
  const v = (h: Record<string, string | string[]>, body = BODY, keys = [WHPK], now = NOW): ReturnType<typeof p.verify> => p.verify(req(h, body), keys, now)
  t.same(v(headers, '{"test": 2432232315}'), { ok: false, reason: 'no_match' })
  t.same(v(headers, BODY, ['whpk_' + Buffer.alloc(32, 7).toString('base64')]), { ok: false, reason: 'no_match' })
  t.same(v({ ...headers, 'webhook-id': 'msg_other' }), { ok: false, reason: 'no_match' }, 'the id is signed')
  t.same(v({ ...headers, 'webhook-timestamp': String(TS + 1) }), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(v(headers, BODY, [WHPK], NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(v({ ...headers, 'webhook-signature': 'v1a,' }), { ok: false, reason: 'no_match', detail: 'no v1a signature in webhook-signature is 64-byte base64' })
  t.same(v({ ...headers, 'webhook-signature': V1A.slice(0, -4) }), { ok: false, reason: 'no_match', detail: 'no v1a signature in webhook-signature is 64-byte base64' })
  t.match(v({ ...headers, 'webhook-signature': [V1A, V1A] }), { ok: false, reason: 'duplicate_header' })
  t.same(p.checkHeaders?.(headers, NOW + 3_600_000), { ok: false, reason: 'timestamp_too_old', detail: '3600 s old' })
})

t.test('keys: whpk_ checked at creation, whsk_ refused as a receiver key, sign() needs whsk_', async (t) => {
  throwsOption(t, () => providers.standardWebhooks({ secret: 'whpk_AAAA' }), /usable: a `whpk_` public key whose rest is base64 of 32 bytes/)
  throwsOption(t, () => providers.standardWebhooks({ secret: WHSK }), /a `whsk_` private key signs, and does not belong to a receiver/)
  try {
    providers.standardWebhooks({ secret: WHSK })
  } catch (err) {
    t.notMatch((err as Error).message, SEED, 'never echoed')
  }
  t.equal(p.secretProblem?.(WHPK), undefined)
  t.throws(() => p.sign(BODY), /needs \{ secret: 'whsk_…' \} to sign v1a/)
  t.throws(() => p.sign(BODY, { secret: 'whsk_AAAA' }), /whsk_ secret whose rest is base64 of a 32-byte Ed25519 seed/)
})

t.test('the v1 libraries ignore v1a, as the spec asks of them', async (t) => {
  const lib = new StandardWebhook(HMAC_SECRET)
  const now = Math.floor(Date.now() / 1000)
  const both = providers.standardWebhooks({ secret: [HMAC_SECRET, WHPK] })
  const v1 = both.sign(BODY, { secret: HMAC_SECRET, id: ID, timestampSec: now })['webhook-signature']
  const v1a = both.sign(BODY, { secret: WHSK, id: ID, timestampSec: now })['webhook-signature']
  t.same(lib.verify(BODY, { 'webhook-id': ID, 'webhook-timestamp': String(now), 'webhook-signature': `${v1a} ${v1}` }), JSON.parse(BODY), 'a v1a entry beside v1 does not disturb the standardwebhooks library')
  t.throws(() => lib.verify(BODY, { 'webhook-id': ID, 'webhook-timestamp': String(now), 'webhook-signature': v1a }), 'which cannot verify v1a itself')
})

t.test('through the route', async (t) => {
  const { app } = await buildApp(t, { provider: p })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: '{"type":"invoice.paid"}', headers: p.sign('{"type":"invoice.paid"}', { secret: WHSK, id: 'msg_v1a_route' }) })
  t.equal(res.statusCode, 202, res.body)
  t.match((await app.webhooks.get('standard-webhooks:/v1/events')!.queue.getJob('standard-webhooks.msg_v1a_route'))?.data, { type: 'invoice.paid' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: '{"type":"x"}', headers: p.sign('{"type":"x"}', { secret: HMAC_SECRET }) })).statusCode, 401, 'v1 is refused where only v1a has a key')
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(providers.standardWebhooks({ secret: [WHPK, HMAC_SECRET] }), ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-signature'], 3000,
    () => ({ ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
