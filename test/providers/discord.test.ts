import t from 'tap'
import { generateKeyPairSync, sign as edSign, webcrypto } from 'node:crypto'
import { verifyKey } from 'discord-interactions'
import { providers } from '../../providers/index.js'
import { DISCORD_DELIVERY } from '../../providers/discord.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// discord-interactions' verifyKey is the reference verifier (Discord signs
// with its own key, so the test holds a key pair of its own); WebCrypto signs
// independently of the preset.
const { publicKey, privateKey } = generateKeyPairSync('ed25519')
const jwk = publicKey.export({ format: 'jwk' })
const PUBLIC_HEX = Buffer.from(jwk.x as string, 'base64url').toString('hex')
const PUBLIC_PEM = publicKey.export({ format: 'pem', type: 'spki' }).toString()
const PRIVATE_PEM = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
const other = generateKeyPairSync('ed25519')
const OTHER_HEX = Buffer.from(other.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('hex')
const p = providers.discord({ publicKey: PUBLIC_HEX })
const PING = '{"id":"1114488593420058735","application_id":"1114488593420058731","type":1,"token":"tok","version":1}'
const COMMAND = JSON.stringify({ id: '1114488593420058999', application_id: '1', type: 2, token: 'tok', data: { name: 'deploy', options: [{ name: 'env', value: 'prod ✓' }] } })
const req = (headers: Record<string, string | string[]>, body: string): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers, rawBody: Buffer.from(body) })

async function webCryptoSign (ts: string, body: string): Promise<string> {
  const key = await webcrypto.subtle.importKey('jwk', privateKey.export({ format: 'jwk' }), { name: 'Ed25519' }, false, ['sign'])
  return Buffer.from(await webcrypto.subtle.sign('Ed25519', key, Buffer.from(ts + body))).toString('hex')
}

t.test('an independent signature verifies with the preset; the preset\'s sign() verifies with discord-interactions', async (t) => {
  t.equal(p.name, 'discord')
  t.equal(providers.discord.delivery, DISCORD_DELIVERY)
  t.same(DISCORD_DELIVERY, { retriesForMs: 0, suggestedDedupeTtlMs: 3_600_000, responseDeadlineMs: 3_000 })
  const ts = String(Math.floor(Date.now() / 1000))
  const theirs = await webCryptoSign(ts, COMMAND)
  const headers = { 'content-type': 'application/json', 'x-signature-ed25519': theirs, 'x-signature-timestamp': ts }
  t.ok(await verifyKey(COMMAND, theirs, ts, PUBLIC_HEX), 'discord-interactions accepts the WebCrypto signature')
  t.same(p.verify(req(headers, COMMAND), [PUBLIC_HEX], Date.now()), { ok: true, secretIndex: 0, timestampMs: Number(ts) * 1000 })
  const ours = p.sign(COMMAND, { privateKey: PRIVATE_PEM })
  t.match(ours, { 'content-type': 'application/json', 'x-signature-timestamp': /^\d{10}$/, 'x-signature-ed25519': /^[0-9a-f]{128}$/ })
  t.ok(await verifyKey(COMMAND, ours['x-signature-ed25519'], ours['x-signature-timestamp'], PUBLIC_HEX), 'verifyKey accepts our signature')
  t.notOk(await verifyKey(COMMAND, p.sign(COMMAND, { privateKey: other.privateKey })['x-signature-ed25519'], ours['x-signature-timestamp'], PUBLIC_HEX), 'another key fails theirs too')
  t.notOk(await verifyKey(`${COMMAND} `, ours['x-signature-ed25519'], ours['x-signature-timestamp'], PUBLIC_HEX), 'and a tampered body')
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url')
  t.equal(p.sign(COMMAND, { privateKey: seed.toString('hex'), timestampSec: 1 })['x-signature-ed25519'], edSign(null, Buffer.from(`1${COMMAND}`), privateKey).toString('hex'), 'a hex seed signs as the key does')
})

t.test('public keys: hex as the portal shows it, base64, PEM, JWK; refused at creation otherwise, never echoed', async (t) => {
  const ts = String(Math.floor(Date.now() / 1000))
  const headers = p.sign(COMMAND, { privateKey, timestampSec: Number(ts) })
  for (const [form, key] of [['hex', PUBLIC_HEX], ['upper-case hex', PUBLIC_HEX.toUpperCase()], ['base64', Buffer.from(PUBLIC_HEX, 'hex').toString('base64')], ['PEM', PUBLIC_PEM], ['JWK', JSON.stringify(jwk)]]) {
    const provider = providers.discord({ publicKey: key })
    t.ok(provider.verify(req(headers, COMMAND), [key], Date.now()).ok, form)
    t.equal(provider.secretProblem?.(key), undefined)
  }
  throwsOption(t, () => providers.discord({ publicKey: PUBLIC_HEX.slice(2) }), /Expected `discord.publicKey` to be usable: an Ed25519 public key/)
  throwsOption(t, () => providers.discord({ publicKey: PRIVATE_PEM }), /discord.publicKey/, 'a private key is refused')
  throwsOption(t, () => providers.discord({ publicKey: JSON.stringify(privateKey.export({ format: 'jwk' })) }), /discord.publicKey/, 'a private JWK too')
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString()
  throwsOption(t, () => providers.discord({ publicKey: ec }), /discord.publicKey/, 'a P-256 key is no Ed25519 key')
  throwsOption(t, () => providers.discord({ publicKey: '' }), /discord.publicKey/)
  throwsOption(t, () => providers.discord({ secret: PUBLIC_HEX } as never), /Unknown option `secret`/)
  throwsOption(t, () => providers.discord({ publicKey: PUBLIC_HEX, ephemeral: 'yes' as never }), /discord.ephemeral/)
  try {
    providers.discord({ publicKey: PRIVATE_PEM })
  } catch (err) {
    t.notMatch((err as Error).message, /BEGIN|PRIVATE KEY/, 'the key is never echoed')
  }
  t.match(p.secretProblem?.('zz'), /Ed25519 public key/, 'a resolver\'s key is checked too')
  t.throws(() => p.sign(COMMAND), /needs \{ privateKey \}/)
  t.throws(() => p.sign(COMMAND, { privateKey: PUBLIC_PEM }), /needs \{ privateKey \}/)
})

t.test('failures: tampered body, another key, stale and malformed timestamps, missing and repeated headers; rotation', async (t) => {
  const T = 1_700_000_000
  const headers = p.sign(COMMAND, { privateKey, timestampSec: T })
  const v = (h: Record<string, string | string[]>, body = COMMAND, keys = [PUBLIC_HEX], now = T * 1000): ReturnType<typeof p.verify> => p.verify(req(h, body), keys, now)
  t.ok(v(headers).ok)
  t.same(v(headers, COMMAND.replace('✓', 'x')), { ok: false, reason: 'no_match' })
  t.same(v(headers, COMMAND, [OTHER_HEX]), { ok: false, reason: 'no_match' })
  t.same(v({ ...headers, 'x-signature-timestamp': String(T + 1) }), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
  t.same(v(headers, COMMAND, [PUBLIC_HEX], (T + 301) * 1000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(v(headers, COMMAND, [PUBLIC_HEX], (T - 301) * 1000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  t.same(v({ ...headers, 'x-signature-timestamp': `${T}000` }), { ok: false, reason: 'malformed_header', detail: 'x-signature-timestamp is not integer seconds' })
  t.same(v({ 'x-signature-timestamp': String(T) }), { ok: false, reason: 'missing_header', detail: 'x-signature-ed25519' })
  t.same(v({ 'x-signature-ed25519': headers['x-signature-ed25519'] }), { ok: false, reason: 'missing_header', detail: 'x-signature-timestamp' })
  t.match(v({ ...headers, 'x-signature-ed25519': [headers['x-signature-ed25519'], headers['x-signature-ed25519']] }), { ok: false, reason: 'duplicate_header' })
  t.same(v({ ...headers, 'x-signature-ed25519': headers['x-signature-ed25519'].slice(2) }), { ok: false, reason: 'no_match', detail: 'signature is not 64-byte hex' })
  const c = countingSecrets([OTHER_HEX, 'not a key', PUBLIC_HEX])
  t.same(p.verify(req(headers, COMMAND), c.secrets, T * 1000), { ok: true, secretIndex: 2, timestampMs: T * 1000 })
  t.same([...c.reads].sort(), [0, 1, 2], 'every key is tried')
})

t.test('toEvent and respond: PING answered inline; commands deferred and enqueued', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const r = req({}, COMMAND)
  t.same(p.toEvent({ kind: 'json', value: JSON.parse(COMMAND) }, r, ok), { ok: true, id: '1114488593420058999', type: 'APPLICATION_COMMAND' })
  t.same(p.toEvent({ kind: 'json', value: { id: '1', type: 9 } }, r, ok), { ok: true, id: '1', type: '9' })
  t.same(p.toEvent({ kind: 'json', value: { type: 2 } }, r, ok), { ok: false, reason: 'missing_id', detail: 'id' })
  t.same(p.respond?.({ kind: 'json', value: { type: 1 } }, r), { statusCode: 200, body: { type: 1 }, enqueue: false })
  t.same(p.respond?.({ kind: 'json', value: { type: 2 } }, r), { statusCode: 200, body: { type: 5 }, enqueue: true })
  t.same(p.respond?.({ kind: 'json', value: { type: 3 } }, r), { statusCode: 200, body: { type: 6 }, enqueue: true })
  t.same(p.respond?.({ kind: 'json', value: { type: 4 } }, r), { statusCode: 200, body: { type: 8, data: { choices: [] } }, enqueue: true })
  t.same(p.respond?.({ kind: 'json', value: { type: 5 } }, r), { statusCode: 200, body: { type: 5 }, enqueue: true })
  t.same(providers.discord({ publicKey: PUBLIC_HEX, ephemeral: true }).respond?.({ kind: 'json', value: { type: 2 } }, r), { statusCode: 200, body: { type: 5, data: { flags: 64 } }, enqueue: true })
})

t.test('through the route: PING answered with {"type":1} and not enqueued; a command deferred and enqueued; a bad signature 401', async (t) => {
  const { app, webhookLines } = await buildApp(t, { provider: p })
  const queue = app.webhooks.get('discord:/v1/events')!.queue
  const ping = await app.inject({ method: 'POST', url: '/v1/events', payload: PING, headers: p.sign(PING, { privateKey }) })
  t.equal(ping.statusCode, 200)
  t.same(ping.json(), { type: 1 })
  t.match(webhookLines().at(-1), { outcome: 'responded', reason: 'inline' })
  t.equal(await queue.count(), 0, 'a PING is not an event')
  const cmd = await app.inject({ method: 'POST', url: '/v1/events', payload: COMMAND, headers: p.sign(COMMAND, { privateKey }) })
  t.equal(cmd.statusCode, 200)
  t.same(cmd.json(), { type: 5 })
  t.match((await queue.getJob('discord.1114488593420058999'))?.data, { type: 'APPLICATION_COMMAND', payload: { data: { name: 'deploy' } } })
  const forged = await app.inject({ method: 'POST', url: '/v1/events', payload: PING, headers: p.sign(PING, { privateKey: other.privateKey }) })
  t.equal(forged.statusCode, 401, 'Discord\'s own check sends bad signatures and expects 401')
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-signature-ed25519', 'x-signature-timestamp'], 2000, () => p.sign(COMMAND, { privateKey }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
