import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import { runSend } from '../../bin/send.js'
import type { CliIo } from '../../bin/command.js'
import { providers } from '../../providers/index.js'
import { standardWebhooksPublicOf } from '../../providers/standard-webhooks.js'
import type { Provider, RequestTarget } from '../../providers/provider.js'

// `send` with each catalogue preset: what it POSTs verifies with the preset
// built the way the receiving app builds it.

interface Captured { url: string, headers: IncomingMessage['headers'], body: Buffer }

async function server (t: Test): Promise<{ origin: string, requests: Captured[] }> {
  const requests: Captured[] = []
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"received":true}')
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())))
  return { origin: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, requests }
}

function io (env: Record<string, string>, stdin?: string): CliIo & { err: () => string } {
  let err = ''
  const stderr = new PassThrough().on('data', (c) => { err += String(c) })
  return { stdin: Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]) as CliIo['stdin'], stdout: new PassThrough(), stderr, env, err: () => err }
}

async function sendOne (t: Test, argv: string[], env: Record<string, string>, file: string): Promise<Captured> {
  const { origin, requests } = await server(t)
  const dir = t.testdir({ 'payload.txt': file })
  const c = io(env)
  const code = await runSend([...argv.map((a) => a.replace('{origin}', origin)), '--file', `${dir}/payload.txt`], c)
  t.equal(code, 0, c.err())
  t.equal(requests.length, 1)
  return requests[0]
}

function verified (provider: Provider, req: Captured, secret: string, target?: RequestTarget): boolean {
  return provider.verify({ headers: req.headers, rawBody: req.body, ...(target === undefined ? {} : { target }) }, [secret], Date.now()).ok
}

t.test('twilio: form and JSON bodies, signed over the URL posted to', async (t) => {
  const form = 'MessageSid=SM1&Body=hello&From=%2B15551234567'
  const req = await sendOne(t, ['--provider', 'twilio', '--url', '{origin}/hooks/twilio?x=1', '--option', 'publicUrl={origin}'], { WEBHOOK_SECRET: 'tw-token' }, form)
  t.match(req.headers, { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': /^[A-Za-z0-9+/]{27}=$/ })
  const origin = `http://${String(req.headers.host)}`
  t.ok(verified(providers.twilio({ secret: 'tw-token', publicUrl: origin }), req, 'tw-token', { method: 'POST', url: req.url }))

  const json = await sendOne(t, ['--provider', 'twilio', '--url', '{origin}/hooks/twilio', '--content-type', 'json', '--option', 'publicUrl={origin}'], { WEBHOOK_SECRET: 'tw-token' }, '{"a":1}')
  t.match(json.url, /^\/hooks\/twilio\?bodySHA256=[0-9a-f]{64}$/, 'a JSON body is posted to the URL with its hash')
  t.ok(verified(providers.twilio({ secret: 'tw-token', publicUrl: `http://${String(json.headers.host)}` }), json, 'tw-token', { method: 'POST', url: json.url }))
})

t.test('square: signed over the notification URL, the URL posted to unless the option names another', async (t) => {
  const body = '{"event_id":"sq-1","type":"payment.updated"}'
  const req = await sendOne(t, ['--provider', 'square', '--url', '{origin}/hooks/square'], { WEBHOOK_SECRET: 'sq-key' }, body)
  t.match(req.headers, { 'content-type': 'application/json', 'x-square-hmacsha256-signature': /^[A-Za-z0-9+/]{43}=$/ })
  t.ok(verified(providers.square({ secret: 'sq-key', notificationUrl: `http://${String(req.headers.host)}/hooks/square` }), req, 'sq-key'))
  const named = await sendOne(t, ['--provider', 'square', '--url', '{origin}/internal', '--option', 'notificationUrl=https://hooks.example.com/square'], { WEBHOOK_SECRET: 'sq-key' }, body)
  t.ok(verified(providers.square({ secret: 'sq-key', notificationUrl: 'https://hooks.example.com/square' }), named, 'sq-key'), '--url is where to send; the option is what Square signs')
})

t.test('paddle: Paddle-Signature over ts:body', async (t) => {
  const req = await sendOne(t, ['--provider', 'paddle', '--url', '{origin}/hooks/paddle'], { WEBHOOK_SECRET: 'pdl_ntfset_k' }, '{"event_id":"evt_1","event_type":"transaction.paid"}')
  t.match(req.headers, { 'paddle-signature': /^ts=\d+;h1=[0-9a-f]{64}$/ })
  t.ok(verified(providers.paddle({ secret: 'pdl_ntfset_k' }), req, 'pdl_ntfset_k'))
})

t.test('linear: Linear-Signature over the body, which carries its own webhookTimestamp', async (t) => {
  const body = JSON.stringify({ action: 'create', type: 'Comment', webhookTimestamp: Date.now() })
  const req = await sendOne(t, ['--provider', 'linear', '--url', '{origin}/hooks/linear', '--id', 'delivery-7'], { WEBHOOK_SECRET: 'lin-secret' }, body)
  t.match(req.headers, { 'linear-signature': /^[0-9a-f]{64}$/, 'linear-delivery': 'delivery-7', 'linear-event': 'Comment' })
  t.ok(verified(providers.linear({ secret: 'lin-secret' }), req, 'lin-secret'))
})

t.test('discord: the secret is the private key; the preset gets its public half', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const body = '{"id":"1","type":2,"data":{"name":"deploy"}}'
  const req = await sendOne(t, ['--provider', 'discord', '--url', '{origin}/hooks/discord'], { WEBHOOK_SECRET: pem }, body)
  t.match(req.headers, { 'x-signature-ed25519': /^[0-9a-f]{128}$/, 'x-signature-timestamp': /^\d+$/ })
  const hex = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('hex')
  t.ok(verified(providers.discord({ publicKey: hex }), req, hex))
  // 32 raw bytes are a valid seed: only a key marked public can be told apart.
  const c = io({ WEBHOOK_SECRET: publicKey.export({ format: 'pem', type: 'spki' }).toString() })
  t.equal(await runSend(['--provider', 'discord', '--url', 'http://127.0.0.1:9/', '--file', '-'], { ...c, stdin: Readable.from([Buffer.from(body)]) as CliIo['stdin'] }), 2, 'a public key is no private key')
  t.match(c.err(), /the secret must be the sender's private key/)
})

t.test('sendgrid: the secret is the private key; a JSON array body', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const body = '[{"email":"a@example.com","event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTE"}]\r\n'
  const req = await sendOne(t, ['--provider', 'sendgrid', '--url', '{origin}/hooks/sendgrid'], { WEBHOOK_SECRET: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }, body)
  t.match(req.headers, { 'x-twilio-email-event-webhook-signature': /^[A-Za-z0-9+/]+={0,2}$/, 'x-twilio-email-event-webhook-timestamp': /^\d+$/ })
  const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
  t.ok(verified(providers.sendgrid({ publicKey: der }), req, der))
})

t.test('hubspot: v3 over method, URI, body and ms timestamp, the URI from --url or the publicUrl option', async (t) => {
  const body = '[{"eventId":100,"subscriptionType":"contact.creation","attemptNumber":0}]'
  const req = await sendOne(t, ['--provider', 'hubspot', '--url', '{origin}/hooks/hubspot?portal=1', '--option', 'publicUrl=https://hooks.example.com'], { WEBHOOK_SECRET: 'hs-secret' }, body)
  t.match(req.headers, { 'x-hubspot-signature-v3': /^[A-Za-z0-9+/]{43}=$/, 'x-hubspot-request-timestamp': /^\d{13}$/ })
  t.ok(verified(providers.hubspot({ secret: 'hs-secret', publicUrl: 'https://hooks.example.com' }), req, 'hs-secret', { method: 'POST', url: req.url }))
})

t.test('mailgun: the payload gets its signature block, as Mailgun sends it', async (t) => {
  const req = await sendOne(t, ['--provider', 'mailgun', '--url', '{origin}/hooks/mailgun'], { WEBHOOK_SECRET: 'mg-key' }, '{"event-data":{"id":"mg-1","event":"delivered"}}')
  t.match(JSON.parse(req.body.toString()), { signature: { timestamp: /^\d+$/, token: /^[0-9a-f]{50}$/, signature: /^[0-9a-f]{64}$/ }, 'event-data': { id: 'mg-1' } })
  t.ok(verified(providers.mailgun({ secret: 'mg-key' }), req, 'mg-key'))
  const { origin, requests } = await server(t)
  const dir = t.testdir({ 'list.json': '[1]' })
  const c = io({ WEBHOOK_SECRET: 'mg-key' })
  t.equal(await runSend(['--provider', 'mailgun', '--url', origin, '--file', `${dir}/list.json`], c), 2)
  t.match(c.err(), /needs a JSON object body/)
  t.equal(requests.length, 0)
})

t.test('zoom: v0 over v0:timestamp:body', async (t) => {
  const req = await sendOne(t, ['--provider', 'zoom', '--url', '{origin}/hooks/zoom'], { WEBHOOK_SECRET: 'zm-secret' }, '{"event":"meeting.started","event_ts":1}')
  t.match(req.headers, { 'x-zm-signature': /^v0=[0-9a-f]{64}$/, 'x-zm-request-timestamp': /^\d+$/ })
  t.ok(verified(providers.zoom({ secret: 'zm-secret' }), req, 'zm-secret'))
})

t.test('meta: X-Hub-Signature-256 over the body', async (t) => {
  const req = await sendOne(t, ['--provider', 'meta', '--url', '{origin}/hooks/meta'], { WEBHOOK_SECRET: 'meta-secret' }, '{"object":"page","entry":[]}')
  t.match(req.headers, { 'x-hub-signature-256': /^sha256=[0-9a-f]{64}$/ })
  t.ok(verified(providers.meta({ secret: 'meta-secret' }), req, 'meta-secret'))
})

t.test('standard-webhooks: a whsk_ secret signs v1a, verified by its whpk_ key', async (t) => {
  const whsk = 'whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk='
  const req = await sendOne(t, ['--provider', 'standard-webhooks', '--url', '{origin}/hooks/sw'], { WEBHOOK_SECRET: whsk }, '{"type":"invoice.paid"}')
  t.match(req.headers, { 'webhook-signature': /^v1a,[A-Za-z0-9+/]{86}==$/, 'webhook-id': /^msg_/ })
  const whpk = standardWebhooksPublicOf(whsk) as string
  t.ok(verified(providers.standardWebhooks({ secret: whpk }), req, whpk))
})

t.test('clerk and resend: Svix-branded headers', async (t) => {
  const secret = 'whsec_' + Buffer.from('svix sender key').toString('base64')
  for (const name of ['clerk', 'resend'] as const) {
    const req = await sendOne(t, ['--provider', name, '--url', `{origin}/hooks/${name}`], { WEBHOOK_SECRET: secret }, '{"type":"user.created"}')
    t.match(req.headers, { 'svix-id': /^msg_/, 'svix-timestamp': /^\d+$/, 'svix-signature': /^v1,/ }, name)
    t.ok(verified(providers[name]({ secret }), req, secret))
  }
})
