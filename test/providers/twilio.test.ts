import t from 'tap'
import { createHmac } from 'node:crypto'
import twilioSdk from 'twilio'
import { providers } from '../../providers/index.js'
import type { RequestTarget } from '../../providers/provider.js'
import { TWILIO_DELIVERY, twilioSignedParams } from '../../providers/twilio.js'
import { buildApp } from '../helpers/webhook.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Twilio's own library is the reference: it signs (getExpectedTwilioSignature)
// and verifies (validateRequest, validateRequestWithBody).
const TOKEN = '12345'
const ORIGIN = 'https://mycompany.com'
const PATH = '/myapp.php?foo=1&bar=2'
const URL_ = ORIGIN + PATH
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' }
const FORM = new URLSearchParams(PARAMS).toString()
const target: RequestTarget = { method: 'POST', url: PATH }
const formHeaders = (signature: string): Record<string, string> => ({ 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature })
const p = providers.twilio({ secret: TOKEN, publicUrl: ORIGIN })
const NOW = Date.now()

t.test('Twilio signs the URL and the sorted parameters; we verify, and Twilio verifies what we sign', async (t) => {
  t.equal(p.name, 'twilio')
  t.same(p.contentTypes, ['form', 'json'])
  t.equal(providers.twilio.delivery, TWILIO_DELIVERY)
  const theirs = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS)
  t.equal(theirs, '0/KCTR6DLpKmkAf8muzZqo1nDgQ=', 'the vector of Twilio\'s documentation')
  t.same(p.verify({ headers: formHeaders(theirs), rawBody: Buffer.from(FORM), target }, [TOKEN], NOW), { ok: true, secretIndex: 0 })
  const reordered = new URLSearchParams(Object.entries(PARAMS).reverse()).toString()
  t.ok(p.verify({ headers: formHeaders(theirs), rawBody: Buffer.from(reordered), target }, [TOKEN], NOW).ok, 'parameters are signed sorted, not as sent')
  const ours = p.sign(FORM, { url: URL_ })
  t.match(ours, { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': theirs, 'i-twilio-idempotency-token': /^[0-9a-f-]{36}$/ })
  t.ok(twilioSdk.validateRequest(TOKEN, ours['x-twilio-signature'], URL_, PARAMS), 'twilio.validateRequest accepts our signature')
  t.notOk(twilioSdk.validateRequest(TOKEN, p.sign(FORM, { url: URL_, secret: 'other' })['x-twilio-signature'], URL_, PARAMS), 'a wrong token fails theirs too')
  t.equal(createHmac('sha1', TOKEN).update(URL_ + twilioSignedParams(FORM)).digest('base64'), theirs, 'the documented algorithm')
})

t.test('repeated parameters, port forms and HMAC-SHA256', async (t) => {
  const repeated = 'To=%2B1&Media=b&Media=a&Media=b'
  const params = { To: '+1', Media: ['b', 'a', 'b'] }
  const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, params)
  t.ok(p.verify({ headers: formHeaders(sig), rawBody: Buffer.from(repeated), target }, [TOKEN], NOW).ok, 'repeated values: distinct, sorted (as Twilio signs them)')
  t.equal(twilioSignedParams(repeated), 'MediaaMediabTo+1')
  const withPort = twilioSdk.getExpectedTwilioSignature(TOKEN, 'https://mycompany.com:443' + PATH, PARAMS)
  t.ok(p.verify({ headers: formHeaders(withPort), rawBody: Buffer.from(FORM), target }, [TOKEN], NOW).ok, 'signed with :443, configured without')
  const sha256 = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS, 'HMAC_SHA256')
  const settings = { 'x-twilio-webhooks-signature-settings': 'key=webhooks_sharedkey_1,algorithm=HMAC_SHA256' }
  t.ok(p.verify({ headers: { ...formHeaders(sha256), ...settings }, rawBody: Buffer.from(FORM), target }, [TOKEN], NOW).ok, 'HMAC_SHA256 as the settings header names it')
  t.match(p.verify({ headers: formHeaders(sha256), rawBody: Buffer.from(FORM), target }, [TOKEN], NOW), { ok: false, reason: 'no_match' }, 'a 32-byte signature is no SHA-1')
  t.match(p.verify({ headers: { ...formHeaders(sha256), 'x-twilio-webhooks-signature-settings': 'algorithm=HMAC_MD5' }, rawBody: Buffer.from(FORM), target }, [TOKEN], NOW),
    { ok: false, reason: 'unsupported_version' })
  const ours = p.sign(FORM, { url: URL_, algorithm: 'HMAC_SHA256' })
  t.equal(ours['x-twilio-webhooks-signature-settings'], 'algorithm=HMAC_SHA256')
  t.ok(twilioSdk.validateRequest(TOKEN, ours['x-twilio-signature'], URL_, PARAMS, 'HMAC_SHA256'))
})

t.test('JSON bodies: the URL carries bodySHA256, the signature covers the URL, the body must hash to it', async (t) => {
  const body = '{"event":"message.created","data":{"text":"Grüße ✓"}}'
  const url = p.requestUrl(URL_, body, { contentType: 'json' })
  t.match(url, /^https:\/\/mycompany\.com\/myapp\.php\?foo=1&bar=2&bodySHA256=[0-9a-f]{64}$/)
  t.equal(url.split('bodySHA256=')[1], twilioSdk.getExpectedBodyHash(body))
  const jsonTarget = { method: 'POST', url: url.slice(ORIGIN.length) }
  const theirs = twilioSdk.getExpectedTwilioSignature(TOKEN, url, {})
  const headers = { 'content-type': 'application/json', 'x-twilio-signature': theirs }
  t.same(p.verify({ headers, rawBody: Buffer.from(body), target: jsonTarget }, [TOKEN], NOW), { ok: true, secretIndex: 0 }, 'Twilio signs, we verify')
  const ours = p.sign(body, { url: URL_, contentType: 'json' })
  t.equal(ours['x-twilio-signature'], theirs, 'sign() adds bodySHA256 itself')
  t.ok(twilioSdk.validateRequestWithBody(TOKEN, ours['x-twilio-signature'], url, body), 'twilio.validateRequestWithBody accepts ours')
  t.same(p.verify({ headers, rawBody: Buffer.from(body.replace('✓', 'x')), target: jsonTarget }, [TOKEN], NOW), { ok: false, reason: 'no_match' }, 'a tampered body')
  const noHash = { method: 'POST', url: PATH }
  t.same(p.verify({ headers: { ...headers, 'x-twilio-signature': twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, {}) }, rawBody: Buffer.from(body), target: noHash }, [TOKEN], NOW),
    { ok: false, reason: 'no_match' }, 'a JSON body without bodySHA256 is never authenticated by the URL alone')
  const twice = `${jsonTarget.url}&bodySHA256=${'0'.repeat(64)}`
  t.same(p.verify({ headers: { ...headers, 'x-twilio-signature': twilioSdk.getExpectedTwilioSignature(TOKEN, ORIGIN + twice, {}) }, rawBody: Buffer.from(body), target: { method: 'POST', url: twice } }, [TOKEN], NOW),
    { ok: false, reason: 'no_match' }, 'two bodySHA256 values')
})

t.test('the public URL: the option, a function, a trusted proxy, or a refusal', async (t) => {
  const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS)
  const input = (provider: typeof p, tgt?: RequestTarget): ReturnType<typeof p.verify> => provider.verify({ headers: formHeaders(sig), rawBody: Buffer.from(FORM), ...(tgt === undefined ? {} : { target: tgt }) }, [TOKEN], NOW)
  const bare = providers.twilio({ secret: TOKEN })
  t.match(input(bare, target), { ok: false, reason: 'no_public_url', detail: /publicUrl.*trustProxy/ }, 'no option and no trusted proxy: refused, Host is not trusted')
  t.ok(input(bare, { ...target, origin: ORIGIN }).ok, 'behind a trusted proxy the forwarded origin is used')
  t.match(input(p), { ok: false, reason: 'no_public_url' }, 'outside the route')
  t.ok(input(providers.twilio({ secret: TOKEN, publicUrl: `${ORIGIN}/` }), target).ok, 'a trailing slash on the base')
  t.ok(input(providers.twilio({ secret: TOKEN, publicUrl: (tg) => `${ORIGIN}${tg.url}` }), { method: 'POST', url: PATH }).ok, 'a function of the request')
  t.match(input(providers.twilio({ secret: TOKEN, publicUrl: () => { throw new Error('vault down') } }), target), { ok: false, reason: 'no_public_url', detail: 'publicUrl threw: vault down' })
  t.match(input(providers.twilio({ secret: TOKEN, publicUrl: () => 'mycompany.com' }), target), { ok: false, reason: 'no_public_url' })
  t.match(input(providers.twilio({ secret: TOKEN, publicUrl: 'https://other.example' }), target), { ok: false, reason: 'no_match' }, 'another host is another URL')
})

t.test('failures: missing, repeated and malformed headers, a wrong token, tampered parameters; rotation', async (t) => {
  const sig = twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS)
  const v = (headers: Record<string, string | string[]>, body = FORM): ReturnType<typeof p.verify> => p.verify({ headers, rawBody: Buffer.from(body), target }, [TOKEN], NOW)
  t.same(v({ 'content-type': 'application/x-www-form-urlencoded' }), { ok: false, reason: 'missing_header', detail: 'x-twilio-signature' })
  t.match(v({ ...formHeaders(sig), 'x-twilio-signature': [sig, sig] }), { ok: false, reason: 'duplicate_header' })
  t.same(v(formHeaders(sig.slice(0, -2))), { ok: false, reason: 'no_match', detail: 'signature is not 20-byte base64' })
  t.same(v(formHeaders(sig), FORM.replace('1234', '1235')), { ok: false, reason: 'no_match' }, 'a changed parameter')
  t.same(v(formHeaders(sig), `${FORM}&Extra=1`), { ok: false, reason: 'no_match' }, 'an added parameter')
  t.same(v(formHeaders(twilioSdk.getExpectedTwilioSignature('wrong', URL_, PARAMS))), { ok: false, reason: 'no_match' }, 'another token')
  const c = countingSecrets(['a', 'b', TOKEN, 'd'])
  t.same(p.verify({ headers: formHeaders(sig), rawBody: Buffer.from(FORM), target }, c.secrets, NOW), { ok: true, secretIndex: 2 })
  t.same([...c.reads].sort(), [0, 1, 2, 3], 'every token is tried')
  t.same(p.checkHeaders?.(formHeaders('x'), NOW), { ok: false, reason: 'no_match', detail: 'signature is not 20-byte base64' })
  t.equal(p.checkHeaders?.(formHeaders(sig), NOW), undefined)
})

t.test('toEvent: the idempotency token or the replay key as id; the replay key is canonical over the signed parameters', async (t) => {
  const ok = { ok: true as const, secretIndex: 0 }
  const req = (headers: Record<string, string>, body: string): { headers: Record<string, string>, rawBody: Buffer } => ({ headers, rawBody: Buffer.from(body) })
  const fields = Object.fromEntries(new URLSearchParams(FORM))
  const a = p.toEvent({ kind: 'form', value: { ...fields, MessageStatus: 'delivered' } }, req({ 'i-twilio-idempotency-token': 'tok-1' }, FORM), ok)
  t.match(a, { ok: true, id: 'tok-1', type: 'delivered', replayKey: /^[0-9a-f]{64}$/ })
  const reordered = new URLSearchParams(Object.entries(PARAMS).reverse()).toString()
  const b = p.toEvent({ kind: 'form', value: fields }, req({}, reordered), ok)
  t.ok(a.ok && b.ok && a.replayKey === b.replayKey && b.id === b.replayKey, 'a reordered capture keeps its key; without a token the key is the id')
  const c = p.toEvent({ kind: 'form', value: fields }, req({}, `${FORM}&X=1`), ok)
  t.ok(b.ok && c.ok && b.replayKey !== c.replayKey)
  t.match(p.toEvent({ kind: 'json', value: { type: 'com.twilio.x' } }, req({}, '{}'), ok), { ok: true, type: 'com.twilio.x' })
  t.same(p.eventHeaders, ['i-twilio-idempotency-token', 'user-agent'])
})

t.test('through the route: refused without a public URL, accepted behind a trusted proxy or with publicUrl', async (t) => {
  const payload = FORM
  // A preset without publicUrl signs exactly the URL it is given.
  const bare = providers.twilio({ secret: TOKEN })
  const headers = bare.sign(payload, { url: 'https://hooks.example.com/v1/events' })
  const untrusted = await buildApp(t, { provider: bare })
  const refused = await untrusted.app.inject({ method: 'POST', url: '/v1/events', payload, headers: { ...headers, host: 'hooks.example.com', 'x-forwarded-proto': 'https' } })
  t.equal(refused.statusCode, 401, 'Host alone is not trusted')
  t.match(untrusted.webhookLines().at(-1), { outcome: 'rejected', reason: 'no_public_url', detail: /trustProxy/ })

  const proxied = await buildApp(t, { provider: bare }, { trustProxy: true })
  const fwd = { ...headers, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hooks.example.com' }
  t.equal((await proxied.app.inject({ method: 'POST', url: '/v1/events', payload, headers: fwd })).statusCode, 202, 'X-Forwarded-Proto/Host under trustProxy')
  t.equal((await proxied.app.inject({ method: 'POST', url: '/v1/events', payload, headers: { ...fwd, 'x-forwarded-host': 'evil.example' } })).statusCode, 401, 'another forwarded host')

  const configured = await buildApp(t, { provider: providers.twilio({ secret: TOKEN, publicUrl: 'https://hooks.example.com' }) })
  const res = await configured.app.inject({ method: 'POST', url: '/v1/events', payload, headers })
  t.equal(res.statusCode, 202, res.body)
  const job = await configured.app.webhooks.get('twilio:/v1/events')?.queue.getJob(`twilio.${headers['i-twilio-idempotency-token']}`)
  t.match(job?.data, { type: '', payload: { CallSid: 'CA1234567890ABCDE' }, replayKey: /^[0-9a-f]{64}$/ })
  const body = '{"a":1}'
  const jsonUrl = bare.requestUrl('https://hooks.example.com/v1/events', body, { contentType: 'json' })
  const jsonRes = await configured.app.inject({ method: 'POST', url: jsonUrl.slice('https://hooks.example.com'.length), payload: body, headers: bare.sign(body, { url: jsonUrl, contentType: 'json' }) })
  t.equal(jsonRes.statusCode, 202, 'a JSON body through bodySHA256')
})

t.test('options and sign()', async (t) => {
  throwsOption(t, () => providers.twilio({ secret: '' }), /twilio.secret/)
  throwsOption(t, () => providers.twilio({ secret: TOKEN, publicUrl: 'mycompany.com' }), /twilio.publicUrl/)
  throwsOption(t, () => providers.twilio({ secret: TOKEN, publicUrl: 'ftp://mycompany.com' }), /twilio.publicUrl/)
  throwsOption(t, () => providers.twilio({ secret: TOKEN, publicUrl: 'https://mycompany.com/?x=1' }), /twilio.publicUrl/)
  throwsOption(t, () => providers.twilio({ secret: TOKEN, publicUrl: 42 as never }), /twilio.publicUrl/)
  throwsOption(t, () => providers.twilio({ secret: TOKEN, url: 'x' } as never), /Unknown option `url`/)
  t.throws(() => p.sign(FORM), /needs \{ url \}/)
  t.throws(() => providers.twilio({ secret: () => TOKEN }).sign(FORM, { url: URL_ }), /needs \{ secret \}/)
  t.equal(p.requestUrl(URL_, FORM), URL_, 'a form body goes to the URL itself')
  t.equal(p.requestUrl(`${URL_}#rc=2`, '{}', { contentType: 'json' }), `${URL_}&bodySHA256=${twilioSdk.getExpectedBodyHash('{}')}#rc=2`)
  const other = 'https://localhost:3000/myapp.php?foo=1&bar=2'
  t.equal(p.sign(FORM, { url: other })['x-twilio-signature'], p.sign(FORM, { url: URL_ })['x-twilio-signature'], 'with a string publicUrl, the origin posted to is not what is signed')
  t.throws(() => p.sign(FORM, { url: 'mycompany.com/x' }), /absolute http\(s\) URL/)
  t.throws(() => providers.twilio({ secret: TOKEN, publicUrl: () => 'nope' }).sign(FORM, { url: URL_ }), /cannot derive the signed URL/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-twilio-signature', 'x-twilio-webhooks-signature-settings', 'content-type', 'i-twilio-idempotency-token'], 3000,
    () => formHeaders(twilioSdk.getExpectedTwilioSignature(TOKEN, URL_, PARAMS)), target)
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
