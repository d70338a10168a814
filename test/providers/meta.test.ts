import t from 'tap'
import { createHmac } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods'
import { providers } from '../../providers/index.js'
import { META_DELIVERY } from '../../providers/meta.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// No Meta SDK verifies webhooks: vectors come from Meta's documented
// algorithm (hex HMAC-SHA256 of the body with the app secret, `sha256=`
// prefixed), which is GitHub's too, so @octokit/webhooks-methods checks it independently.
const SECRET = 'meta-app-secret-7c1f'
const TOKEN = 'meatyhamhock'
const BODY = JSON.stringify({
  object: 'whatsapp_business_account',
  entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', messages: [{ id: 'wamid.HBgL', text: { body: 'Grüße ✓' } }] } }] }]
})
const SIG = `sha256=${createHmac('sha256', SECRET).update(BODY).digest('hex')}`
const p = providers.meta({ secret: SECRET, verifyToken: TOKEN })
const req = (h: Record<string, string | string[]>, body = BODY): { headers: Record<string, string | string[]>, rawBody: Buffer } => ({ headers: h, rawBody: Buffer.from(body) })

t.test('the documented algorithm, checked with @octokit/webhooks-methods both ways', async (t) => {
  t.equal(p.name, 'meta')
  t.equal(providers.meta.delivery, META_DELIVERY)
  t.same(META_DELIVERY, { retriesForMs: 7 * 86_400_000, suggestedDedupeTtlMs: 8 * 86_400_000, responseDeadlineMs: 20_000 })
  t.same(p.verify(req({ 'x-hub-signature-256': SIG }), [SECRET], Date.now()), { ok: true, secretIndex: 0 })
  t.equal(await octokitSign(SECRET, BODY), SIG, 'the same signature as an independent implementation')
  const ours = p.sign(BODY)
  t.same(ours, { 'content-type': 'application/json', 'user-agent': 'facebookexternalua', 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}`, 'x-hub-signature-256': SIG })
  t.ok(await octokitVerify(SECRET, BODY, ours['x-hub-signature-256']))
  t.notOk(await octokitVerify(SECRET, BODY, p.sign(BODY, { secret: 'wrong' })['x-hub-signature-256']))
})

t.test('failures and rotation', async (t) => {
  const v = (h: Record<string, string | string[]>, body = BODY, secrets = [SECRET]): ReturnType<typeof p.verify> => p.verify(req(h, body), secrets, Date.now())
  t.same(v({ 'x-hub-signature-256': SIG }, BODY.replace('✓', 'x')), { ok: false, reason: 'no_match' })
  t.same(v({ 'x-hub-signature-256': SIG }, BODY, ['other']), { ok: false, reason: 'no_match' })
  t.same(v({ 'x-hub-signature': p.sign(BODY)['x-hub-signature'] }), { ok: false, reason: 'missing_header', detail: 'x-hub-signature-256' }, 'the SHA-1 header alone is not trusted')
  t.match(v({ 'x-hub-signature-256': [SIG, SIG] }), { ok: false, reason: 'duplicate_header' })
  t.same(v({ 'x-hub-signature-256': SIG.slice(7) }), { ok: false, reason: 'malformed_header', detail: 'x-hub-signature-256 is not algorithm=hex' })
  t.same(v({ 'x-hub-signature-256': `sha1=${SIG.slice(7)}` }), { ok: false, reason: 'unsupported_version', detail: 'x-hub-signature-256 algorithm sha1' })
  t.same(v({ 'x-hub-signature-256': SIG.slice(0, -2) }), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  const c = countingSecrets(['a', SECRET])
  t.same(p.verify(req({ 'x-hub-signature-256': SIG }), c.secrets, 0), { ok: true, secretIndex: 1 })
  t.same([...c.reads].sort(), [0, 1])
})

t.test('toEvent: a digest of the signed body, the object as type', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  t.match(p.toEvent({ kind: 'json', value: JSON.parse(BODY) }, req({}), ok), { ok: true, id: /^[0-9a-f]{64}$/, type: 'whatsapp_business_account' })
  t.match(p.toEvent({ kind: 'json', value: { object: 'page' } }, req({}, '{"object":"page"}'), ok), { ok: true, type: 'page' })
})

t.test('the hub.challenge handshake', async (t) => {
  const ask = (query: string): ReturnType<NonNullable<typeof p.challenge>> => (p.challenge as NonNullable<typeof p.challenge>)({ headers: {}, query })
  t.same(ask(`hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${TOKEN}`), { statusCode: 200, body: '1158201444' })
  t.same(ask('hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong'), { statusCode: 403, body: 'Forbidden', reason: 'verify_token_mismatch' })
  t.same(ask('hub.mode=subscribe&hub.challenge=1158201444'), { statusCode: 403, body: 'Forbidden', reason: 'verify_token_mismatch' })
  t.same(ask(`hub.mode=subscribe&hub.challenge=1&hub.verify_token=${TOKEN}&hub.verify_token=${TOKEN}`), { statusCode: 403, body: 'Forbidden', reason: 'verify_token_mismatch' })
  t.same(ask(`hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=${TOKEN}`), { statusCode: 400, body: 'Bad Request', reason: 'challenge_mode' })
  t.same(ask(`hub.mode=subscribe&hub.verify_token=${TOKEN}`), { statusCode: 400, body: 'Bad Request', reason: 'challenge_malformed' })
  t.same(ask(`hub.mode=subscribe&hub.challenge=%3Cscript%3E&hub.verify_token=${TOKEN}`), { statusCode: 400, body: 'Bad Request', reason: 'challenge_malformed' }, 'nothing that could be markup is echoed')
  t.same(ask(''), { statusCode: 400, body: 'Bad Request', reason: 'challenge_mode' })
  const rotated = providers.meta({ secret: SECRET, verifyToken: ['new-token', TOKEN] })
  t.same(rotated.challenge?.({ headers: {}, query: `hub.mode=subscribe&hub.challenge=7&hub.verify_token=${TOKEN}` }), { statusCode: 200, body: '7' }, 'any listed token')
  t.equal(providers.meta({ secret: SECRET }).challenge, undefined, 'no verify token: no GET route')
})

t.test('over real HTTP: GET answers the handshake on the webhook path; POST still verifies; no token, no GET', async (t) => {
  const { app, webhookLines } = await buildApp(t, { provider: p })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events`
  const ok = await fetch(`${base}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${TOKEN}`)
  t.equal(ok.status, 200)
  t.match(ok.headers.get('content-type'), /^text\/plain/)
  t.equal(await ok.text(), '1158201444')
  t.match(webhookLines().at(-1), { outcome: 'responded', reason: 'challenge', status: 200 })
  const wrong = await fetch(`${base}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess`)
  t.equal(wrong.status, 403)
  t.equal(await wrong.text(), 'Forbidden')
  t.match(webhookLines().at(-1), { outcome: 'rejected', reason: 'verify_token_mismatch', status: 403 })
  t.notOk(JSON.stringify(webhookLines()).includes(TOKEN), 'the verify token is never logged')
  const post = await fetch(base, { method: 'POST', body: BODY, headers: p.sign(BODY) })
  t.equal(post.status, 202, 'POST on the same path is the webhook')
  t.equal(await app.webhooks.get('meta:/v1/events')!.queue.count(), 1)
  t.equal((await fetch(base, { method: 'PUT', body: BODY, headers: p.sign(BODY) })).status, 404)

  const plain = await buildApp(t, { provider: providers.meta({ secret: SECRET }), path: '/hooks/meta' })
  await plain.app.listen({ port: 0, host: '127.0.0.1' })
  const res = await fetch(`http://127.0.0.1:${(plain.app.server.address() as AddressInfo).port}/hooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=${TOKEN}`)
  t.equal(res.status, 404, 'without verifyToken a GET is a 404, as for every other preset')
})

t.test('options', async (t) => {
  throwsOption(t, () => providers.meta({ secret: '' }), /meta.secret/)
  throwsOption(t, () => providers.meta({ secret: SECRET, verifyToken: '' }), /meta.verifyToken/)
  throwsOption(t, () => providers.meta({ secret: SECRET, verifyToken: [] }), /meta.verifyToken/)
  throwsOption(t, () => providers.meta({ secret: SECRET, verifyToken: [TOKEN, 42] as never }), /meta.verifyToken/)
  throwsOption(t, () => providers.meta({ secret: SECRET, appSecret: SECRET } as never), /Unknown option `appSecret`/)
  try {
    providers.meta({ secret: SECRET, verifyToken: [TOKEN, ''] })
  } catch (err) {
    t.notMatch((err as Error).message, TOKEN, 'a token is never echoed')
  }
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-hub-signature-256', 'x-hub-signature'], 3000, () => ({ 'x-hub-signature-256': SIG }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
