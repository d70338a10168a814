import t from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyServerOptions, InjectOptions } from 'fastify'
import { providers } from '../../providers/index.js'
import { buildApp } from '../helpers/webhook.js'

// Hostile and malformed requests, each with the one status it must get; then a
// valid event is still served and no job was created for any of them.
const SECRET = 'corpus-secret-value'
const provider = providers.hmac({ secret: SECRET, timestampHeader: 'x-provider-timestamp' })
const SIG = 'x-provider-signature'
const TS = 'x-provider-timestamp'
const LIMIT = 4096

function sign (body: string | Buffer, timestampSec?: number, secret?: string): Record<string, string> {
  return provider.sign(body, { ...(timestampSec === undefined ? {} : { timestampSec }), ...(secret === undefined ? {} : { secret }) })
}
const now = (): number => Math.floor(Date.now() / 1000)
const valid = (id: string): string => JSON.stringify({ event_id: id, type: 'corpus.valid' })

interface Case {
  name: string
  request: () => InjectOptions
  status: number
  code?: string
}

function post (payload: string | Buffer, headers: Record<string, string | string[]>): InjectOptions {
  return { method: 'POST', url: '/v1/events', payload, headers }
}
function signedPost (payload: string | Buffer, extra: Record<string, string | string[]> = {}): InjectOptions {
  return post(payload, { ...sign(payload), ...extra })
}
function without (headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers }
  delete copy[name]
  return copy
}

const UNAUTHORIZED = 'FST_WEBHOOK_UNAUTHORIZED'
const MEDIA = 'FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE'
const body = valid('bad')

const corpus: Case[] = [
  // method and route
  { name: 'GET', request: () => ({ method: 'GET', url: '/v1/events' }), status: 404 },
  { name: 'PUT', request: () => ({ ...signedPost(body), method: 'PUT' }), status: 404 },
  { name: 'DELETE', request: () => ({ method: 'DELETE', url: '/v1/events' }), status: 404 },
  { name: 'PATCH', request: () => ({ ...signedPost(body), method: 'PATCH' }), status: 404 },
  { name: 'OPTIONS', request: () => ({ method: 'OPTIONS', url: '/v1/events' }), status: 404 },
  { name: 'a trailing slash', request: () => ({ ...signedPost(body), url: '/v1/events/' }), status: 404 },
  { name: 'another path', request: () => ({ ...signedPost(body), url: '/v1/eventsx' }), status: 404 },
  // content types and encodings
  { name: 'no content type', request: () => post(body, without(sign(body), 'content-type')), status: 415, code: MEDIA },
  { name: 'text/plain', request: () => signedPost(body, { 'content-type': 'text/plain' }), status: 415, code: MEDIA },
  { name: 'application/xml', request: () => signedPost('<a/>', { 'content-type': 'application/xml' }), status: 415, code: MEDIA },
  { name: 'multipart/form-data', request: () => signedPost(body, { 'content-type': 'multipart/form-data; boundary=x' }), status: 415, code: MEDIA },
  { name: 'a form body for a JSON-only provider', request: () => signedPost('event_id=1', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: MEDIA },
  { name: 'application/jsonx', request: () => signedPost(body, { 'content-type': 'application/jsonx' }), status: 415, code: MEDIA },
  { name: 'a latin-1 charset', request: () => signedPost(body, { 'content-type': 'application/json; charset=latin1' }), status: 415, code: MEDIA },
  { name: 'two content types', request: () => signedPost(body, { 'content-type': ['application/json', 'text/plain'] }), status: 415, code: MEDIA },
  { name: 'gzip encoding', request: () => signedPost(body, { 'content-encoding': 'gzip' }), status: 415, code: MEDIA },
  { name: 'identity encoding', request: () => signedPost(body, { 'content-encoding': 'identity' }), status: 415, code: MEDIA },
  { name: 'br encoding on a garbage body', request: () => signedPost(Buffer.from([0x1f, 0x8b, 0, 1]), { 'content-encoding': 'br' }), status: 415, code: MEDIA },
  // sizes
  { name: 'Content-Length over the limit', request: () => signedPost('x'.repeat(LIMIT + 1)), status: 413, code: 'FST_WEBHOOK_BODY_TOO_LARGE' },
  { name: 'a 1 MiB body', request: () => signedPost(JSON.stringify({ event_id: 'big', pad: 'x'.repeat(1 << 20) })), status: 413, code: 'FST_WEBHOOK_BODY_TOO_LARGE' },
  // authentication headers
  { name: 'no signature', request: () => post(body, without(sign(body), SIG)), status: 401, code: UNAUTHORIZED },
  { name: 'a duplicated signature header', request: () => { const h = sign(body); return post(body, { ...h, [SIG]: [h[SIG], h[SIG]] }) }, status: 401, code: UNAUTHORIZED },
  { name: 'an empty signature', request: () => signedPost(body, { [SIG]: '' }), status: 401, code: UNAUTHORIZED },
  { name: 'a non-base64 signature', request: () => signedPost(body, { [SIG]: '!!!not base64!!!' }), status: 401, code: UNAUTHORIZED },
  { name: 'a short signature', request: () => signedPost(body, { [SIG]: 'AAAA' }), status: 401, code: UNAUTHORIZED },
  { name: 'a 64 KiB signature', request: () => signedPost(body, { [SIG]: 'A'.repeat(65536) }), status: 401, code: UNAUTHORIZED },
  { name: 'a hex signature where base64 is expected', request: () => signedPost(body, { [SIG]: 'ab'.repeat(32) }), status: 401, code: UNAUTHORIZED },
  { name: 'signed with another secret', request: () => post(body, sign(body, undefined, 'not-the-secret')), status: 401, code: UNAUTHORIZED },
  { name: 'one body byte changed after signing', request: () => post(body.replace('bad', 'bae'), sign(body)), status: 401, code: UNAUTHORIZED },
  { name: 'a body appended after signing', request: () => post(`${body} `, sign(body)), status: 401, code: UNAUTHORIZED },
  { name: 'no timestamp', request: () => post(body, without(sign(body), TS)), status: 401, code: UNAUTHORIZED },
  { name: 'a timestamp 10 minutes old', request: () => post(body, sign(body, now() - 600)), status: 401, code: UNAUTHORIZED },
  { name: 'a timestamp 10 minutes ahead', request: () => post(body, sign(body, now() + 600)), status: 401, code: UNAUTHORIZED },
  { name: 'a timestamp in milliseconds', request: () => { const h = sign(body); return post(body, { ...h, [TS]: `${h[TS]}000` }) }, status: 401, code: UNAUTHORIZED },
  { name: 'an exponent timestamp', request: () => signedPost(body, { [TS]: '1.7e9' }), status: 401, code: UNAUTHORIZED },
  { name: 'a negative timestamp', request: () => signedPost(body, { [TS]: '-1' }), status: 401, code: UNAUTHORIZED },
  { name: 'an empty timestamp', request: () => signedPost(body, { [TS]: '' }), status: 401, code: UNAUTHORIZED },
  { name: 'a duplicated timestamp header', request: () => { const h = sign(body); return post(body, { ...h, [TS]: [h[TS], h[TS]] }) }, status: 401, code: UNAUTHORIZED },
  { name: 'a timestamp changed after signing', request: () => { const h = sign(body); return post(body, { ...h, [TS]: String(Number(h[TS]) + 1) }) }, status: 401, code: UNAUTHORIZED },
  { name: 'unsigned and with 500 junk headers', request: () => post(body, Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-junk-${i}`, 'v'.repeat(100)]).concat([['content-type', 'application/json']]))), status: 401, code: UNAUTHORIZED },
  // verified but unusable bodies
  { name: 'a signed empty body', request: () => signedPost(''), status: 400, code: 'FST_WEBHOOK_EMPTY_BODY' },
  { name: 'a signed blank body', request: () => signedPost('  \n '), status: 400, code: 'FST_WEBHOOK_EMPTY_BODY' },
  { name: 'signed invalid UTF-8', request: () => signedPost(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), status: 400, code: 'FST_WEBHOOK_INVALID_UTF8' },
  { name: 'a signed overlong UTF-8 slash', request: () => signedPost(Buffer.concat([Buffer.from('{"event_id":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])), status: 400, code: 'FST_WEBHOOK_INVALID_UTF8' },
  { name: 'a signed UTF-8 encoded surrogate', request: () => signedPost(Buffer.concat([Buffer.from('{"event_id":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])), status: 400, code: 'FST_WEBHOOK_INVALID_UTF8' },
  { name: 'signed truncated JSON', request: () => signedPost('{"event_id":'), status: 400, code: 'FST_WEBHOOK_INVALID_JSON' },
  { name: 'signed JSON with a trailing comma', request: () => signedPost('{"event_id":"a",}'), status: 400, code: 'FST_WEBHOOK_INVALID_JSON' },
  { name: 'a signed JSON array', request: () => signedPost('[{"event_id":"a"}]'), status: 400, code: 'FST_WEBHOOK_NOT_AN_OBJECT' },
  { name: 'a signed JSON string', request: () => signedPost('"event"'), status: 400, code: 'FST_WEBHOOK_NOT_AN_OBJECT' },
  { name: 'a signed JSON null', request: () => signedPost('null'), status: 400, code: 'FST_WEBHOOK_NOT_AN_OBJECT' },
  { name: 'a signed JSON number', request: () => signedPost('42'), status: 400, code: 'FST_WEBHOOK_NOT_AN_OBJECT' },
  { name: 'a signed __proto__ key', request: () => signedPost('{"event_id":"p","__proto__":{"admin":true}}'), status: 400, code: 'FST_WEBHOOK_FORBIDDEN_KEY' },
  { name: 'a nested __proto__ key', request: () => signedPost('{"event_id":"p","data":{"__proto__":{"admin":true}}}'), status: 400, code: 'FST_WEBHOOK_FORBIDDEN_KEY' },
  { name: 'a signed constructor.prototype', request: () => signedPost('{"event_id":"p","constructor":{"prototype":{"admin":true}}}'), status: 400, code: 'FST_WEBHOOK_FORBIDDEN_KEY' },
  { name: 'a __proto__ key spelled with escapes', request: () => signedPost('{"event_id":"p","\\u005f_pro\\u0074o__":{"admin":true}}'), status: 400, code: 'FST_WEBHOOK_FORBIDDEN_KEY' },
  { name: 'a constructor key spelled with escapes', request: () => signedPost('{"event_id":"p","\\u0063onstructor":{"prototype":{"admin":true}}}'), status: 400, code: 'FST_WEBHOOK_FORBIDDEN_KEY' },
  { name: 'no event id', request: () => signedPost('{"type":"x"}'), status: 400, code: 'FST_WEBHOOK_MISSING_ID' },
  { name: 'a null event id', request: () => signedPost('{"event_id":null}'), status: 400, code: 'FST_WEBHOOK_MISSING_ID' },
  { name: 'an object event id', request: () => signedPost('{"event_id":{"a":1}}'), status: 400, code: 'FST_WEBHOOK_MISSING_ID' },
  { name: 'an empty event id', request: () => signedPost('{"event_id":""}'), status: 400, code: 'FST_WEBHOOK_MISSING_ID' },
  { name: 'an array event id', request: () => signedPost('{"event_id":["a"]}'), status: 400, code: 'FST_WEBHOOK_MISSING_ID' }
]

t.test(`a corpus of ${corpus.length} hostile or malformed requests: each gets its status, none makes a job`, async (t) => {
  t.ok(corpus.length >= 40, 'at least 40 cases')
  const { app, logText, webhookLines } = await buildApp(t, { provider, source: 'corpus', bodyLimit: LIMIT })
  const intake = app.webhooks.get('corpus:/v1/events')!

  const before = await app.inject(signedPost(valid('before')))
  t.equal(before.statusCode, 202, 'a valid event before the corpus')

  const signatures: string[] = []
  for (const c of corpus) {
    const request = c.request()
    const sent = request.headers?.[SIG]
    if (typeof sent === 'string' && sent.length > 8) signatures.push(sent)
    const res = await app.inject(request)
    t.equal(res.statusCode, c.status, c.name)
    if (c.code !== undefined) t.equal(res.json().code, c.code, `${c.name}: code`)
    if (c.status === 401) {
      t.same(res.json(), { statusCode: 401, code: UNAUTHORIZED, error: 'Unauthorized', message: 'Webhook verification failed' }, `${c.name}: one body for every auth failure`)
    }
  }

  for (const [i, variant] of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.acme+json', 'application/json;charset="UTF-8"'].entries()) {
    const payload = valid(`variant-${i}`)
    const res = await app.inject(post(payload, { ...sign(payload), 'content-type': variant }))
    t.equal(res.statusCode, 202, `a valid event as ${variant}`)
  }
  const upper = valid('upper-case-names')
  const upperHeaders = Object.fromEntries(Object.entries(sign(upper)).map(([k, v]) => [k.toUpperCase(), v]))
  t.equal((await app.inject(post(upper, upperHeaders))).statusCode, 202, 'header names are case-insensitive')
  const after = await app.inject(signedPost(valid('after')))
  t.equal(after.statusCode, 202, 'a valid event after the corpus')

  t.equal(await intake.queue.count(), 7, 'only the valid events became jobs')
  const rejectedLines = webhookLines().filter((l) => l.outcome === 'rejected')
  t.equal(rejectedLines.length, corpus.filter((c) => c.status !== 404).length, 'one webhook line per request that reached the route')
  t.ok(rejectedLines.every((l) => typeof l.reason === 'string' && l.reason !== ''), 'every rejection logs its reason')
  const text = logText()
  t.notOk(text.includes(SECRET), 'the secret is never logged')
  t.notOk(signatures.some((s) => text.includes(s)), 'no signature is ever logged')
  t.notOk(text.includes('"pad"') || text.includes('admin'), 'no body is logged')
  t.equal(intake.stats.rejected, rejectedLines.length)
})

interface RawExchange {
  /** The status of every response received, in order. */
  statuses: number[]
  text: string
  /** True when the server closed the connection. */
  closed: boolean
  ms: number
}

type Step = string | Buffer | { waitMs: number } | 'end'

/** Writes `steps` to a fresh socket and collects what comes back until the server closes it or `timeoutMs` passes. */
async function exchange (port: number, steps: Step[], timeoutMs = 5000): Promise<RawExchange> {
  const started = Date.now()
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {}) // a reset after a refusal is an acceptable end
  let text = ''
  let closed = false
  socket.on('data', (d) => { text += d.toString('latin1') })
  const ended = new Promise<void>((resolve) => socket.once('close', () => { closed = true; resolve() }))
  await once(socket, 'connect')
  for (const step of steps) {
    if (closed) break
    if (step === 'end') socket.end()
    else if (typeof step === 'object' && !Buffer.isBuffer(step)) await delay(step.waitMs)
    else socket.write(step)
  }
  await Promise.race([ended, delay(timeoutMs)])
  socket.destroy()
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
  return { statuses, text, closed, ms: Date.now() - started }
}

function head (headers: Record<string, string>, extra = ''): string {
  return 'POST /v1/events HTTP/1.1\r\nHost: localhost\r\n' + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') + extra + '\r\n'
}
function chunk (data: string): string {
  return `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`
}

t.test('framing over a real socket: chunked, mismatched, slow and oversized requests; valid events still served', async (t) => {
  const { app } = await buildApp(t, { provider, source: 'framing', bodyLimit: LIMIT }, {
    requestTimeout: 1500,
    // Node enforces requestTimeout only once headersTimeout (60 s by default) has passed too.
    http: { connectionsCheckingInterval: 100, headersTimeout: 1500 },
    forceCloseConnections: true
  } as FastifyServerOptions)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const intake = app.webhooks.get('framing:/v1/events')!

  const good = valid('socket-1')
  const ok = await exchange(port, [head({ ...sign(good), 'content-length': String(good.length), connection: 'close' }), good])
  t.same(ok.statuses, [202], 'a valid event over a socket')

  const two = [valid('keepalive-1'), valid('keepalive-2')]
  const keepAlive = await exchange(port, [
    head({ ...sign(two[0]), 'content-length': String(two[0].length) }), two[0], { waitMs: 100 },
    head({ ...sign(two[1]), 'content-length': String(two[1].length), connection: 'close' }), two[1]
  ])
  t.same(keepAlive.statuses, [202, 202], 'two events on one keep-alive connection')

  const chunkedGood = valid('chunked-ok')
  const chunked = await exchange(port, [
    head({ ...sign(chunkedGood), 'transfer-encoding': 'chunked', connection: 'close' }),
    chunk(chunkedGood.slice(0, 10)), { waitMs: 50 }, chunk(chunkedGood.slice(10)), '0\r\n\r\n'
  ])
  t.same(chunked.statuses, [202], 'a valid chunked event')

  const piece = 'x'.repeat(1024)
  const tooBig = await exchange(port, [
    head({ ...sign(piece), 'transfer-encoding': 'chunked' }),
    ...Array.from({ length: 8 }, () => chunk(piece)), '0\r\n\r\n'
  ])
  t.same(tooBig.statuses, [413], 'a chunked body over the limit is refused while streaming')
  t.match(tooBig.text, /FST_WEBHOOK_BODY_TOO_LARGE/)
  t.ok(tooBig.closed, 'and the connection is closed')

  const declaredTooBig = await exchange(port, [head({ ...sign(piece), 'content-length': String(LIMIT * 4) }), piece])
  t.same(declaredTooBig.statuses, [413], 'a Content-Length over the limit is refused before the body is read')
  t.ok(declaredTooBig.closed)

  const short = valid('short-declared')
  const shortDeclared = await exchange(port, [
    head({ ...sign(short), 'content-length': String(short.length - 5) }), short.slice(0, -5), { waitMs: 300 }, short.slice(-5)
  ])
  t.same(shortDeclared.statuses, [401, 400], 'a Content-Length shorter than the signed body fails verification; the leftover bytes are a bad request')

  const long = valid('long-declared')
  const stalled = await exchange(port, [head({ ...sign(long), 'content-length': String(long.length + 50) }), long], 10_000)
  t.same(stalled.statuses, [408], 'a body shorter than its Content-Length times out with 408')
  t.ok(stalled.ms < 1500 + 2000, `within requestTimeout (${stalled.ms} ms)`)

  const halfClosed = await exchange(port, [head({ ...sign(long), 'content-length': String(long.length + 50) }), long, 'end'])
  t.ok(halfClosed.statuses.every((s) => s === 400), `a client that ends mid-body gets a 400 or nothing (${halfClosed.statuses.join(',')})`)

  const slow = valid('slow-body')
  const trickle: Step[] = [head({ ...sign(slow), 'content-length': String(slow.length) })]
  for (const c of slow) trickle.push(c, { waitMs: 100 })
  const slowBody = await exchange(port, trickle, 10_000)
  t.same(slowBody.statuses, [408], 'a slow body is cut off at requestTimeout')

  const both = await exchange(port, [head({ ...sign(good), 'content-length': String(good.length), 'transfer-encoding': 'chunked' }), chunk(good), '0\r\n\r\n'])
  t.same(both.statuses, [400], 'Content-Length with Transfer-Encoding is refused (request smuggling)')

  const badLength = await exchange(port, [head({ ...sign(good), 'content-length': 'abc' }), good])
  t.same(badLength.statuses, [400], 'a non-numeric Content-Length is refused')

  const hugeHeaders = await exchange(port, [head({ ...sign(good), 'content-length': String(good.length), 'x-junk': 'j'.repeat(20_000) }), good])
  t.same(hugeHeaders.statuses, [431], 'headers over Node\'s limit are refused')

  const after = valid('socket-after')
  const afterwards = await exchange(port, [head({ ...sign(after), 'content-length': String(after.length), connection: 'close' }), after])
  t.same(afterwards.statuses, [202], 'valid events are still served afterwards')
  for (const id of ['socket-1', 'keepalive-1', 'keepalive-2', 'chunked-ok', 'socket-after']) {
    t.ok(await intake.queue.getJob(`framing.${id}`), `${id} is in the queue`)
  }
  t.equal(await intake.queue.count(), 5, 'nothing else was enqueued')
})
