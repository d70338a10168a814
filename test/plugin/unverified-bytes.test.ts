import t, { type Test } from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { providers } from '../../providers/index.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp, testProvider, waitFor } from '../helpers/webhook.js'

// What an unauthenticated sender can make the intake hold. A request whose
// signature headers are missing or malformed is refused before its body is
// read; the bodies read and not yet verified are bounded by
// `maxUnverifiedBytes` across the route, beyond which a request gets 503 with
// Retry-After (before reading, when its Content-Length says it cannot fit).
// The memory figures come from a server in a child process, so the test's own
// sockets and buffers stay out of them.
t.setTimeout(60_000)

const MiB = 1024 * 1024
const FIXTURE = fileURLToPath(new URL('../fixtures/ingress-child.ts', import.meta.url))
const SECRET = 'gh secret'
const github = providers.github({ secret: SECRET })
// One chunk, written over and over: the sender's memory stays flat.
const CHUNK = Buffer.alloc(64 * 1024, 0x20)

/**
 * An answer, or `reset` when the server closed the connection before the
 * client could read one: a server that refuses without reading may close
 * while the body is still being sent, and the TCP reset can overtake its answer.
 */
interface Sent { status: number, headers: IncomingHttpHeaders, body: string, written: number, reset?: string }
interface SendOptions { size: number, chunked?: boolean, port: number, headers: Record<string, string | string[]>, headersFirst?: boolean }

/**
 * POSTs `size` bytes of spaces with `headers`, honouring backpressure, and
 * stops writing as soon as the answer comes. `written` is how much was sent.
 * With `headersFirst`, the headers go alone and the body only follows if no
 * answer came within two seconds, so an answer given before reading is read.
 */
async function send ({ size, chunked = false, port, headers, headersFirst = false }: SendOptions): Promise<Sent> {
  return await new Promise((resolve) => {
    let written = 0
    let answered = false
    const req = request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/v1/events',
      agent: false,
      headers: chunked ? { ...headers, 'transfer-encoding': 'chunked' } : { ...headers, 'content-length': String(size) }
    }, (res) => {
      answered = true
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, written })
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered) resolve({ status: 0, headers: {}, body: '', written, reset: err.code ?? err.message })
    })
    function pump (): void {
      while (written < size) {
        if (answered) return
        const piece = CHUNK.subarray(0, Math.min(CHUNK.length, size - written))
        written += piece.length
        if (!req.write(piece)) {
          req.once('drain', pump)
          return
        }
      }
      if (!answered && written >= size) req.end()
    }
    if (headersFirst) {
      req.flushHeaders()
      setTimeout(pump, 2000).unref()
    } else {
      pump()
    }
  })
}

interface ChildStats { rss: number, peak: number, stats: Record<string, number> }
interface Child { port: number, stats: () => Promise<ChildStats> }

async function startChild (t: Test, config: Record<string, unknown> = {}): Promise<Child> {
  const queueName = uniqueName('unverified')
  const redis = testClient(t)
  const child: ChildProcess = fork(FIXTURE, [], {
    execArgv: process.execArgv,
    env: { ...process.env, INGRESS_CHILD_CONFIG: JSON.stringify({ url: redisUrl(), queueName, secret: SECRET, ...config }) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  t.teardown(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.send('close')
      await exited
    }
    await cleanQueue(redis, 'bull', queueName)
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => { resolve(m.port) })
    child.once('exit', (code) => { reject(new Error(`the intake child exited with ${String(code)}`)) })
  })
  async function stats (): Promise<ChildStats> {
    const reply = new Promise<ChildStats>((resolve) => child.once('message', resolve))
    child.send('stats')
    return await reply
  }
  return { port, stats }
}

function validDelivery (id: string): { payload: string, headers: Record<string, string> } {
  const payload = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 })
  return { payload, headers: github.sign(payload, { id }) }
}

async function postValid (port: number, id: string): Promise<number> {
  const { payload, headers } = validDelivery(id)
  return await new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/events', agent: false, headers }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
    })
    req.on('error', reject)
    req.end(payload)
  })
}

const SIZE = 30 * MiB
const COUNT = 16

// One intake process for both floods (it takes seconds to start); its cap
// holds one 30 MiB body at a time, so the second flood is mostly refused.
t.test('an intake in its own process', async (t) => {
  const child = await startChild(t, { maxUnverifiedBytes: 32 * MiB })
  t.equal(await postValid(child.port, 'warm-up'), 202, 'a valid delivery first')

  await t.test(`${COUNT} concurrent unsigned ${SIZE / MiB} MiB POSTs are refused before their bodies are read`, async (t) => {
    const before = await child.stats()
    const unsigned = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1' }
    const answers = await Promise.all(Array.from({ length: COUNT }, async () => await send({ size: SIZE, port: child.port, headers: unsigned })))
    const after = await child.stats()
    for (const a of answers) {
      t.ok(a.written < SIZE, `closed after ${(a.written / MiB).toFixed(1)} MiB of ${SIZE / MiB} were sent`)
      if (a.reset !== undefined) continue
      t.equal(a.status, 401)
      t.equal(JSON.parse(a.body).code, 'FST_WEBHOOK_UNAUTHORIZED')
      t.equal(a.headers.connection, 'close')
    }
    const growth = after.peak - before.rss
    t.ok(growth < 100 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
    t.equal(after.stats.rejected - before.stats.rejected, COUNT, 'every request was answered 401 by the server')
    t.equal(after.stats.unverifiedBytes, 0, 'no body bytes were held')
    // Under a flood the sender's reset can overtake every answer; a sender
    // that waits after its headers reads the refusal, with no body sent.
    const probe = await send({ size: SIZE, port: child.port, headers: unsigned, headersFirst: true })
    t.equal(probe.status, 401, `the refusal comes before any body byte: ${probe.reset ?? probe.status}`)
    t.equal(probe.written, 0, 'no body byte was sent')
    t.equal(JSON.parse(probe.body).code, 'FST_WEBHOOK_UNAUTHORIZED')
    t.equal(probe.headers.connection, 'close')
  })

  await t.test('well-formed but wrong signatures beyond maxUnverifiedBytes get 503 + Retry-After; a valid delivery still succeeds', async (t) => {
    const before = await child.stats()
    // Signed over another body: every header is well formed, only verify can tell.
    const forged = github.sign('{"another":"body"}', { id: 'forged' })
    const answers = await Promise.all(Array.from({ length: COUNT }, async () => await send({ size: SIZE, port: child.port, headers: forged })))
    const after = await child.stats()
    const statuses = answers.map((a) => a.reset ?? a.status)
    t.ok(answers.every((a) => a.reset !== undefined || a.status === 401 || a.status === 503), `401 or 503 only: ${statuses.join(' ')}`)
    const shed = answers.filter((a) => a.status === 503)
    const unavailable = after.stats.unavailable - before.stats.unavailable
    const rejected = after.stats.rejected - before.stats.rejected
    t.ok(unavailable >= COUNT - 4, `${unavailable} refused for lack of room`)
    t.ok(rejected >= 1, 'the ones that fit were read and verified')
    t.equal(unavailable + rejected, COUNT)
    t.ok(shed.length >= 1, 'a 503 reached the sender')
    for (const a of shed) {
      t.equal(JSON.parse(a.body).code, 'FST_WEBHOOK_UNAVAILABLE')
      t.equal(a.headers['retry-after'], '5')
      t.equal(a.headers.connection, 'close')
    }
    const growth = after.peak - before.rss
    t.ok(growth < 100 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`)
    await waitFor(async () => (await child.stats()).stats.unverifiedBytes === 0, 5000, 'the unverified bytes to be released')
    t.equal(await postValid(child.port, 'after'), 202, 'a valid delivery after the flood')
  })
})

t.test('unverified bytes are counted as read, released on every path, and refused beyond the cap', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'cap', maxUnverifiedBytes: MiB })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const intake = app.webhooks.get('cap:/v1/events')!
  const held = (): number => intake.stats.unverifiedBytes
  const wrong = provider.sign('{"id":"other"}')

  // A declared length is reserved before reading; one that cannot fit is refused unread.
  const first = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/events', agent: false, headers: { ...wrong, 'content-length': String(600 * 1024) } })
  first.on('error', () => {})
  first.write(CHUNK)
  await waitFor(() => held() === 600 * 1024, 5000, 'the declared length to be reserved')
  const refused = await send({ size: 600 * 1024, port, headers: wrong })
  t.equal(refused.status, 503)
  t.equal(refused.headers['retry-after'], '5')
  t.equal(refused.headers.connection, 'close')
  t.equal(held(), 600 * 1024, 'refused before its body was read: nothing more held')
  // A client that goes away mid-body releases what it reserved.
  first.destroy()
  await waitFor(() => held() === 0, 5000, 'the aborted request\'s bytes to be released')

  // Chunked bodies are counted chunk by chunk as they are read.
  const slow = request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/events', agent: false, headers: { ...wrong, 'transfer-encoding': 'chunked' } })
  const slowAnswer = new Promise<number>((resolve) => slow.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0) }))
  slow.on('error', () => {})
  for (let i = 0; i < 6; i++) slow.write(CHUNK)
  await waitFor(() => held() === 6 * CHUNK.length, 5000, 'the chunks read so far to be counted')
  const over = await send({ size: 800 * 1024, chunked: true, port, headers: wrong })
  t.equal(over.status, 503, 'a chunked body that passes the cap while streaming')
  t.equal(over.headers.connection, 'close')
  t.equal(held(), 6 * CHUNK.length, 'the refused body\'s chunks were released')
  slow.end()
  t.equal(await slowAnswer, 401, 'the body that fit is read whole and verified')
  await waitFor(() => held() === 0, 5000, 'released after verification')

  const ok = await send({ size: 0, port, headers: provider.sign('') })
  t.equal(ok.status, 400, 'an empty signed body is still answered (and held nothing)')
  const reasons = webhookLines().map((l) => l.reason)
  t.equal(reasons.filter((r) => r === 'unverified_bytes_full').length, 2, 'its own outcome reason')
  t.equal(held(), 0)
})

t.test('maxUnverifiedBytes is validated: an integer no smaller than bodyLimit', async (t) => {
  const provider = testProvider({ secret: 'k' })
  for (const bad of [0, -1, 1.5, '64', MiB - 1]) {
    await t.rejects(buildApp(t, { provider, maxUnverifiedBytes: bad } as unknown as Parameters<typeof buildApp>[1]),
      { code: 'WEBHOOK_INVALID_OPTION', message: /maxUnverifiedBytes/ }, String(bad))
  }
})

t.test('a custom provider\'s checkHeaders: checked at registration, and a throw refuses with 401 unread', async (t) => {
  const provider = testProvider({ secret: 'k' })
  await t.rejects(buildApp(t, { provider: { ...provider, checkHeaders: 'yes' } as unknown as typeof provider }),
    { code: 'WEBHOOK_INVALID_OPTION', message: /provider\.checkHeaders/ })
  const throwing = { ...provider, checkHeaders: () => { throw new Error('pre-check exploded') } }
  const { app, webhookLines } = await buildApp(t, { provider: throwing, source: 'pre' })
  const body = '{"id":"p-1"}'
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body) })
  t.equal(res.statusCode, 401)
  t.equal(res.headers.connection, 'close')
  t.match(webhookLines(), [{ outcome: 'rejected', reason: 'verify_threw', detail: /pre-check exploded/ }])
})

t.test('a body read and then refused before verify (a failing secret resolver) gives its bytes back', async (t) => {
  const provider = { ...testProvider({ secret: 'k' }), secret: () => { throw new Error('vault down') } }
  const { app } = await buildApp(t, { provider, source: 'vault', secretCacheMs: 0 })
  const body = JSON.stringify({ id: 'v-1', pad: 'x'.repeat(100_000) })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: testProvider({ secret: 'k' }).sign(body) })
  t.equal(res.statusCode, 503)
  await waitFor(() => app.webhooks.get('vault:/v1/events')!.stats.unverifiedBytes === 0, 2000, 'the bytes to be released')
})
