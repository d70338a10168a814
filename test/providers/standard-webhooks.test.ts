import t from 'tap'
import { createHmac } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { providers } from '../../providers/index.js'
import { STANDARD_WEBHOOKS_DELIVERY, standardWebhooksKey } from '../../providers/standard-webhooks.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Published vector (svix test suite).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const TS = 1614265330
const NOW = TS * 1000
const BODY = Buffer.from('{"test": 2432232314}')
const SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
const headers = { 'webhook-id': ID, 'webhook-timestamp': String(TS), 'webhook-signature': SIG }
const p = providers.standardWebhooks({ secret: SECRET })

function sigFor (secret: string, id: string, ts: number | string, body: Buffer): string {
  return createHmac('sha256', standardWebhooksKey(secret) as Buffer).update(`${id}.${ts}.`).update(body).digest('base64')
}

t.test('published vector, both header families, bare base64 secret', async (t) => {
  t.equal(p.name, 'standard-webhooks')
  t.same(p.contentTypes, ['json'])
  t.equal(providers.standardWebhooks.delivery, STANDARD_WEBHOOKS_DELIVERY)
  t.equal(STANDARD_WEBHOOKS_DELIVERY.suggestedDedupeTtlMs, 4 * 86_400_000)
  t.same(p.verify({ headers, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  const svix = { 'svix-id': ID, 'svix-timestamp': String(TS), 'svix-signature': SIG }
  t.same(p.verify({ headers: svix, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.ok(p.verify({ headers, rawBody: BODY }, ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], NOW).ok, 'a bare base64 secret works')
  t.same(p.verify({ headers, rawBody: BODY }, ['whsec_test_secret_as_utf8'], NOW), { ok: false, reason: 'no_match' })
  t.same(p.sign(BODY, { id: ID, timestampSec: TS }), { 'content-type': 'application/json', ...headers })
  t.same(p.sign(BODY, { id: ID, timestampSec: TS, family: 'svix' }), { 'content-type': 'application/json', ...svix })
  t.same(p.eventHeaders, ['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp'], 'ids and timestamps, never signatures')
})

t.test('toEvent: the id is webhook-id (signed), the type is the body type', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  t.same(p.toEvent({ kind: 'json', value: { type: 'invoice.paid', data: {} } }, { headers, rawBody: BODY }, ok), { ok: true, id: ID, type: 'invoice.paid' })
  t.same(p.toEvent({ kind: 'json', value: {} }, { headers: { 'svix-id': 'msg_2', 'svix-signature': SIG }, rawBody: BODY }, ok), { ok: true, id: 'msg_2', type: '' })
  t.same(p.toEvent({ kind: 'json', value: {} }, { headers: {}, rawBody: BODY }, ok), { ok: false, reason: 'missing_id', detail: 'webhook-id' })
  const custom = providers.standardWebhooks({ secret: SECRET, typeField: 'eventType' })
  t.same(custom.toEvent({ kind: 'json', value: { eventType: 'x' } }, { headers, rawBody: BODY }, ok), { ok: true, id: ID, type: 'x' })
})

t.test('signature lists: any v1 matches, other versions ignored, none is unsupported', async (t) => {
  const other = sigFor('whsec_' + Buffer.from('other key').toString('base64'), ID, TS, BODY)
  const list = (value: string): { headers: Record<string, string>, rawBody: Buffer } => ({ headers: { ...headers, 'webhook-signature': value }, rawBody: BODY })
  t.ok(p.verify(list(`v1,${other} ${SIG}`), [SECRET], NOW).ok, 'second of two v1 signatures')
  t.ok(p.verify(list(`v1a,abc  ${SIG} v2,zzz`), [SECRET], NOW).ok, 'v1a (ed25519) and unknown versions are skipped')
  t.ok(p.verify(list(`garbage ${SIG}`), [SECRET], NOW).ok, 'a token without a comma is skipped')
  t.same(p.verify(list('v1a,abc v2,def'), [SECRET], NOW), { ok: false, reason: 'unsupported_version', detail: 'no v1 signature in webhook-signature' })
  t.match(p.verify(list(' '), [SECRET], NOW), { reason: 'unsupported_version' })
  t.same(p.verify(list(`v1,${other}`), [SECRET], NOW), { ok: false, reason: 'no_match' })
  t.same(p.verify(list('v1,'), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1 signature in webhook-signature is 32-byte base64' }, 'an empty v1 is a clean failure')
  t.same(p.verify(list(SIG.replace(/=$/, '')), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'no v1 signature in webhook-signature is 32-byte base64' }, 'unpadded signature refused')
})

t.test('rotation: every secret is tried', async (t) => {
  const c = countingSecrets(['whsec_' + Buffer.from('a').toString('base64'), SECRET, 'whsec_' + Buffer.from('c').toString('base64'), 'whsec_!!notbase64'])
  t.same(p.verify({ headers, rawBody: BODY }, c.secrets, NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2, 3])
  const rotated = providers.standardWebhooks({ secret: ['whsec_' + Buffer.from('new').toString('base64'), SECRET] })
  const signedNew = rotated.sign(BODY, { id: ID, timestampSec: TS })
  t.same(rotated.verify({ headers: signedNew, rawBody: BODY }, [SECRET, 'whsec_' + Buffer.from('new').toString('base64')], NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
  // A sender mid-rotation signs with both secrets.
  const both = `${signedNew['webhook-signature']} ${SIG}`
  const c2 = countingSecrets([SECRET])
  t.ok(p.verify({ headers: { ...headers, 'webhook-signature': both }, rawBody: BODY }, c2.secrets, NOW).ok)
})

t.test('tolerance both ways; id and timestamp rules', async (t) => {
  t.ok(p.verify({ headers, rawBody: BODY }, [SECRET], NOW + 300_000).ok)
  t.ok(p.verify({ headers, rawBody: BODY }, [SECRET], NOW - 300_000).ok)
  t.same(p.verify({ headers, rawBody: BODY }, [SECRET], NOW + 300_001), { ok: false, reason: 'timestamp_too_old', detail: '300 s old' })
  t.match(p.verify({ headers, rawBody: BODY }, [SECRET], NOW - 301_000), { ok: false, reason: 'timestamp_too_new' })
  const narrow = providers.standardWebhooks({ secret: SECRET, toleranceMs: 60_000 })
  t.match(narrow.verify({ headers, rawBody: BODY }, [SECRET], NOW + 61_000), { reason: 'timestamp_too_old' })
  const dotted = { ...headers, 'webhook-id': 'msg.1', 'webhook-signature': `v1,${sigFor(SECRET, 'msg.1', TS, BODY)}` }
  t.same(p.verify({ headers: dotted, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: "webhook-id contains '.'" })
  for (const ts of [`${TS}.0`, `${TS}000`, '1.6e9', `-${TS}`, `${TS} `]) {
    t.match(p.verify({ headers: { ...headers, 'webhook-timestamp': ts }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'malformed_header' }, ts)
  }
  t.same(p.verify({ headers: { ...headers, 'webhook-timestamp': String(TS + 1) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'no_match' }, 'timestamp is signed')
  t.same(p.verify({ headers: { ...headers, 'webhook-id': 'msg_other' }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'no_match' }, 'id is signed')
})

t.test('headers: missing and duplicate in each family', async (t) => {
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const without: Record<string, string | string[]> = { ...headers }
    delete without[name]
    // Without webhook-signature the svix family is looked at, which lacks everything.
    t.match(p.verify({ headers: without, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header' }, `missing ${name}`)
    t.match(p.verify({ headers: { ...headers, [name]: [headers[name as keyof typeof headers], 'x'] }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'duplicate_header' }, `duplicate ${name}`)
  }
  t.match(p.verify({ headers: { 'svix-signature': SIG, 'svix-timestamp': String(TS) }, rawBody: BODY }, [SECRET], NOW), { reason: 'missing_header', detail: 'svix-id' })
  t.match(p.verify({ headers: { 'svix-id': ID, 'svix-timestamp': String(TS), 'svix-signature': [SIG, SIG] }, rawBody: BODY }, [SECRET], NOW), { reason: 'duplicate_header' })
})

t.test('interoperability with the standardwebhooks and svix libraries', async (t) => {
  const now = Math.floor(Date.now() / 1000)
  const body = '{"type":"user.created","data":{"name":"Ünïcode ✓"}}'
  for (const [name, Lib] of [['standardwebhooks', StandardWebhook], ['svix', SvixWebhook]] as const) {
    const lib = new Lib(SECRET)
    const signature = lib.sign('msg_interop', new Date(now * 1000), body)
    const family = name === 'svix' ? 'svix' : 'webhook'
    const theirs = { [`${family}-id`]: 'msg_interop', [`${family}-timestamp`]: String(now), [`${family}-signature`]: signature }
    t.same(p.verify({ headers: theirs, rawBody: Buffer.from(body) }, [SECRET], Date.now()), { ok: true, secretIndex: 0, timestampMs: now * 1000 }, `${name} signs, we verify`)
    const ours = p.sign(body, { family })
    t.same(lib.verify(body, ours), JSON.parse(body), `we sign (${family}-*), ${name} verifies`)
    const ours2 = p.sign(body)
    t.same(lib.verify(body, ours2), JSON.parse(body), `we sign (webhook-*), ${name} verifies`)
  }
  const bare = new StandardWebhook('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
  t.ok(bare.verify(BODY.toString(), providers.standardWebhooks({ secret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }).sign(BODY)))
})

t.test('options and secrets', async (t) => {
  throwsOption(t, () => providers.standardWebhooks({ secret: 'whsec_not base64!' }), /Expected `standardWebhooks.secret` to be usable: a `whsec_` secret whose rest is base64/)
  throwsOption(t, () => providers.standardWebhooks({ secret: [SECRET, 'whsec_'] }), /standardWebhooks.secret/)
  throwsOption(t, () => providers.standardWebhooks({ secret: SECRET, toleranceMs: 0 }), /standardWebhooks.toleranceMs/)
  throwsOption(t, () => providers.standardWebhooks({ secret: SECRET, typeField: '' }), /standardWebhooks.typeField/)
  throwsOption(t, () => providers.standardWebhooks({ secret: SECRET, bodyLimit: -1 }), /standardWebhooks.bodyLimit/)
  throwsOption(t, () => providers.standardWebhooks({ secret: SECRET, header: 'x' } as never), /Unknown option `header`/)
  t.equal(providers.standardWebhooks({ secret: SECRET, bodyLimit: 4096 }).bodyLimit, 4096)
  t.equal(standardWebhooksKey('whsec_a'), undefined, 'an impossible base64 length is refused')
  t.same(standardWebhooksKey('whsec_YWJj'), Buffer.from('abc'))
  t.same(standardWebhooksKey('whsec_YWI'), Buffer.from('ab'), 'unpadded keys decode')
  const resolver = providers.standardWebhooks({ secret: () => SECRET })
  t.throws(() => resolver.sign(BODY), /needs \{ secret \}/)
  t.throws(() => resolver.sign(BODY, { secret: 'whsec_***' }), /whsec_ base64 secret/)
  t.ok(resolver.verify({ headers, rawBody: BODY }, [SECRET], NOW).ok, 'resolver secrets verify')
  t.match(resolver.sign(BODY, { secret: SECRET }), { 'webhook-id': /^msg_[A-Za-z0-9]{24}$/, 'webhook-timestamp': /^\d{10}$/ })
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature'], 4000,
    () => ({ ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
