import { Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import t, { type Test } from 'tap'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import { createRouteHandlers, type RouteContext } from '../../plugin/route.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import { createAnswerer, newStats, type IntakeStats, type OutcomeFields } from '../../plugin/outcome.js'
import { createBodyReader, createUnverifiedBudget, type UnverifiedBudget } from '../../plugin/unverified.js'
import { createEventProducer, type EnqueueOutcome, type EventProducer } from '../../plugin/enqueue.js'
import type { BacklogGuard } from '../../plugin/backlog.js'
import type { SecretSource } from '../../plugin/secrets.js'
import { WebhookErrors } from '../../core/errors.js'
import { safeJobId } from '../../core/job-id.js'
import type { WebhookEvent } from '../../core/event.js'
import type { Provider, SecretContext, VerifyFailure } from '../../providers/provider.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { testProvider } from '../helpers/webhook.js'

// The route's handlers on a bare Fastify instance: no plugin, no registry, no
// metrics. The producer is the real one on the test Redis, watched on its way
// in; only where Redis cannot be made to fail on cue is its answer replaced.

t.setTimeout(25_000)

const SECRET = 'route secret'
const silent = pino({ level: 'silent' }) as FastifyBaseLogger

interface Added { event: WebhookEvent, payloadJson: string | undefined, unverifiedBytes: number }

interface RouteSetup {
  provider?: Provider
  /** Overrides of the test provider's methods. */
  overrides?: Partial<Provider>
  path?: string
  bodyLimit?: number
  /** The unverified-bytes budget's size. */
  maxUnverifiedBytes?: number
  secrets?: SecretSource
  accepts?: RouteContext['accepts']
  /** Whether the backlog guard says the queue is over its limit (no guard when undefined). */
  backlogOver?: boolean
  /** Replaces the producer's answer (the event is still recorded). */
  enqueueAs?: EnqueueOutcome
  /** Replaces the body reader (for Fastify's own errors). */
  parser?: (request: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: Buffer) => void) => void
}

interface RouteFixture {
  app: FastifyInstance
  provider: Provider
  stats: IntakeStats
  budget: UnverifiedBudget
  /** Every answer: its log fields and status, in order. */
  answers: Array<OutcomeFields & { status: number }>
  /** Every event handed to the enqueue step. */
  added: Added[]
  /** The pipeline steps taken, in order, across requests. */
  steps: string[]
  /** Bodies read (calls of the content-type parser). */
  reads: () => number
  producer: EventProducer
  post: (body: string | Buffer, headers?: Record<string, string>, url?: string) => Promise<LightMyRequestResponse>
  /** A signed POST of `body`. */
  send: (body: unknown, headers?: Record<string, string>, url?: string) => Promise<LightMyRequestResponse>
}

async function routeFixture (t: Test, setup: RouteSetup = {}): Promise<RouteFixture> {
  const steps: string[] = []
  const base = { ...(setup.provider ?? testProvider({ secret: SECRET })), ...setup.overrides }
  const provider: Provider = {
    ...base,
    verify: (input, secrets, now) => { steps.push('verify'); return base.verify(input, secrets, now) },
    toEvent: (parsed, req, verified) => { steps.push('toEvent'); return base.toEvent(parsed, req, verified) }
  }
  const { respond, checkHeaders } = base
  if (respond !== undefined) provider.respond = (parsed, req) => { steps.push('respond'); return respond(parsed, req) }
  if (checkHeaders !== undefined) provider.checkHeaders = (headers, now) => { steps.push('checkHeaders'); return checkHeaders(headers, now) }

  const queueName = uniqueName('route')
  const options = validatePluginOptions({
    provider,
    connection: redisUrl(),
    queueName,
    source: 'acme',
    persistenceCheck: 'off',
    ...(setup.path === undefined ? {} : { path: setup.path }),
    ...(setup.bodyLimit === undefined ? {} : { bodyLimit: setup.bodyLimit })
  })
  const producer = createEventProducer(options, silent)
  const redis = testClient(t)
  const app = Fastify({ loggerInstance: silent })
  t.teardown(async () => {
    await app.close()
    await producer.close()
    await cleanQueue(redis, options.prefix, queueName)
  })
  await producer.boot()

  const stats = newStats()
  const answers: RouteFixture['answers'] = []
  const added: Added[] = []
  const budget = createUnverifiedBudget(setup.maxUnverifiedBytes ?? 1 << 20, stats)
  const backlog: BacklogGuard | undefined = setup.backlogOver === undefined
    ? undefined
    : { over: () => { steps.push('backlog'); return setup.backlogOver === true }, last: 12 }
  const accepts = setup.accepts
  const secrets = setup.secrets
  const handlers = createRouteHandlers({
    options,
    producer: {
      async add (event: WebhookEvent, payloadJson?: string) {
        steps.push('enqueue')
        added.push({ event, payloadJson, unverifiedBytes: stats.unverifiedBytes })
        return setup.enqueueAs ?? await producer.add(event, payloadJson)
      }
    } as unknown as EventProducer,
    secrets: (ctx) => {
      steps.push('secrets')
      return secrets === undefined ? { ok: true, secrets: [SECRET] } : secrets(ctx)
    },
    answer: createAnswerer('acme', 7, stats, (fields, status) => { answers.push({ ...fields, status }) }),
    budget,
    ...(accepts === undefined ? {} : { accepts: (type: string, event: WebhookEvent) => { steps.push('accepts'); return accepts(type, event) } }),
    ...(backlog === undefined ? {} : { backlog })
  })

  let reads = 0
  const reader = setup.parser ?? createBodyReader(budget, options.bodyLimit)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (request, payload, done) => {
    reads++
    reader(request, payload, done)
  })
  app.setErrorHandler(handlers.onRouteError)
  app.post(options.path, { bodyLimit: options.bodyLimit, onRequest: handlers.checkFraming }, handlers.receiveWebhook)
  await app.ready()

  const post: RouteFixture['post'] = async (body, headers = {}, url = options.path) =>
    await app.inject({ method: 'POST', url, payload: body, headers })
  return {
    app,
    provider,
    stats,
    budget,
    answers,
    added,
    steps,
    reads: () => reads,
    producer,
    post,
    send: async (body, headers = {}, url) => {
      const payload = typeof body === 'string' ? body : JSON.stringify(body)
      return await post(payload, { ...provider.sign(payload, { secret: SECRET }), ...headers }, url)
    }
  }
}

const last = <T>(list: T[]): T => list[list.length - 1]

t.test('a verified event: each step once, in order, and the enqueue step gets the WebhookEvent and the verified text', async (t) => {
  const secretList = ['an older secret', SECRET]
  const f = await routeFixture(t, { provider: testProvider({ secret: () => secretList }), secrets: () => ({ ok: true, secrets: secretList }) })
  const body = '{"id":"evt_1","type":"order.created","amount":42,"nested":{"a":[1,2]}}'
  const ts = Math.floor(Date.now() / 1000)
  const before = Date.now()
  const res = await f.post(body, { ...f.provider.sign(body, { secret: SECRET, timestampSec: ts }), 'x-test-topic': 'orders', 'x-unlisted': 'no' })
  const after = Date.now()

  t.equal(res.statusCode, 202)
  t.same(res.json(), { received: true })
  t.same(f.steps, ['secrets', 'verify', 'respond', 'toEvent', 'enqueue'], 'secrets, verify, then the provider\'s answer and fields, then the enqueue')
  t.equal(f.added.length, 1)
  const { event, payloadJson, unverifiedBytes } = f.added[0]
  t.same({ ...event, receivedAt: 0 }, {
    v: 1,
    id: 'evt_1',
    source: 'acme',
    type: 'order.created',
    payload: { id: 'evt_1', type: 'order.created', amount: 42, nested: { a: [1, 2] } },
    headers: { 'x-test-topic': 'orders' },
    receivedAt: 0,
    origin: 'webhook',
    sentAt: ts * 1000
  }, 'only the listed headers, the signed time as sentAt')
  t.ok(event.receivedAt >= before && event.receivedAt <= after, 'received when the handler ran')
  t.equal(payloadJson, body, 'the verified text is stored, not serialized again')
  t.equal(unverifiedBytes, 0, 'the body no longer counts as unverified once verified')

  const job = await f.producer.queue.getJob(safeJobId('acme', 'evt_1'))
  t.match(job?.data, { id: 'evt_1', payload: { amount: 42 } }, 'the job is in Redis when the 202 is sent')
  t.match(last(f.answers), { outcome: 'accepted', eventId: 'evt_1', type: 'order.created', secretIndex: 1, status: 202 })
  t.type(last(f.answers).enqueueMs, 'number')

  const again = await f.post(body, { ...f.provider.sign(body, { secret: SECRET }) })
  t.equal(again.statusCode, 202)
  t.match(last(f.answers), { outcome: 'duplicate', eventId: 'evt_1', status: 202 }, 'the producer\'s duplicate is answered 202 as a duplicate')
  t.equal(await f.producer.queue.count(), 1)
  t.match(f.stats, { accepted: 1, duplicates: 1, unverifiedBytes: 0 })
})

t.test('what the enqueue step gets from a form body, a replaced payload and a replayKey', async (t) => {
  const f = await routeFixture(t, {
    overrides: {
      toEvent: (parsed) => parsed.value.id === 'replaced'
        ? { ok: true, id: 'replaced', type: 't', payload: { mine: true }, replayKey: 'digest-1' }
        : { ok: true, id: String(parsed.value.id), type: '' }
    }
  })
  const form = 'id=frm_1&amount=3'
  t.equal((await f.post(form, f.provider.sign(form, { contentType: 'application/x-www-form-urlencoded' }))).statusCode, 202)
  t.same(f.added[0].event.payload, { id: 'frm_1', amount: '3' }, 'the form\'s fields are the payload')
  t.equal(f.added[0].payloadJson, undefined, 'a form body has no JSON text to keep')

  t.equal((await f.send({ id: 'replaced' })).statusCode, 202)
  t.match(f.added[1], { event: { id: 'replaced', payload: { mine: true }, replayKey: 'digest-1' }, payloadJson: undefined }, 'a payload the provider replaced is serialized, not the body')
  t.equal((await f.producer.queue.getJob(safeJobId('acme', 'replaced')))?.data.replayKey, 'digest-1')
})

t.test('framing: media type, then size, then the header pre-check, then room for unverified bytes; each refused before the body is read', async (t) => {
  let verdict: VerifyFailure | 'throw' | undefined = { ok: false, reason: 'missing_header', detail: 'no x-test-signature' }
  const f = await routeFixture(t, {
    bodyLimit: 64,
    maxUnverifiedBytes: 100,
    overrides: {
      checkHeaders: () => {
        if (verdict === 'throw') throw new Error('pre-check exploded')
        return verdict
      }
    }
  })
  const small = '{"id":"e1"}'
  const large = JSON.stringify({ id: 'e2', pad: 'x'.repeat(100) })
  async function refused (label: string, body: string, headers: Record<string, string>, status: number, code: string, fields: Partial<OutcomeFields>): Promise<void> {
    const steps = f.steps.length
    const res = await f.post(body, headers)
    t.equal(res.statusCode, status, `${label}: ${status}`)
    t.equal(res.json().code, code, `${label}: ${code}`)
    t.equal(res.headers.connection, 'close', `${label}: the connection is closed rather than drained`)
    t.match(last(f.answers), fields, `${label}: logged as ${fields.reason}`)
    t.same(f.steps.slice(steps).filter((s) => s !== 'checkHeaders'), [], `${label}: no later step ran`)
  }
  await refused('a text body, too large, without signature', large, { 'content-type': 'text/plain' }, 415, 'FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE', { outcome: 'rejected', reason: 'unsupported_media_type' })
  await refused('a compressed body', small, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 415, 'FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE', { reason: 'content_encoding' })
  t.equal(f.steps.filter((s) => s === 'checkHeaders').length, 0, 'the media type is judged before the pre-check')
  await refused('a JSON body over bodyLimit, without signature', large, { 'content-type': 'application/json' }, 413, 'FST_WEBHOOK_BODY_TOO_LARGE', { outcome: 'rejected', reason: 'body_too_large' })
  t.equal(f.steps.filter((s) => s === 'checkHeaders').length, 0, 'the size is judged before the pre-check')

  const held = {} as IncomingMessage
  t.ok(f.budget.reserve(held, 95), 'another request holds most of the budget')
  await refused('headers the pre-check refuses, with no room', small, { 'content-type': 'application/json' }, 401, 'FST_WEBHOOK_UNAUTHORIZED', { outcome: 'rejected', reason: 'missing_header', detail: 'no x-test-signature' })
  verdict = 'throw'
  await refused('a pre-check that throws', small, { 'content-type': 'application/json' }, 401, 'FST_WEBHOOK_UNAUTHORIZED', { outcome: 'rejected', reason: 'verify_threw', detail: 'checkHeaders threw: pre-check exploded' })
  verdict = undefined
  const signedSmall = f.provider.sign(small)
  await refused('a body with no room left', small, signedSmall, 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'unverified_bytes_full', detail: `${small.length} bytes over maxUnverifiedBytes` })
  t.equal(last(f.answers).status, 503)
  t.equal(f.stats.unverifiedBytes, 95, 'a refusal reserves nothing')

  t.equal(f.reads(), 0, 'no refused body was read')
  t.same(f.added, [], 'nothing enqueued')
  t.match(f.stats, { rejected: 5, unavailable: 1 })

  f.budget.release(held)
  const res = await f.post(small, signedSmall)
  t.equal(res.statusCode, 202, 'with room again, the same request is accepted')
  t.equal(f.reads(), 1)
  t.equal(f.stats.unverifiedBytes, 0, 'and its bytes are given back')
})

t.test('a 503 carries Retry-After; a chunked body that outgrows the budget is refused while read', async (t) => {
  const f = await routeFixture(t, { maxUnverifiedBytes: 100 })
  const body = JSON.stringify({ id: 'big', pad: 'y'.repeat(300) })
  const headers = f.provider.sign(body)
  const res = await f.app.inject({ method: 'POST', url: '/v1/events', headers, payload: Readable.from([Buffer.from(body.slice(0, 60)), Buffer.from(body.slice(60))]) })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_WEBHOOK_UNAVAILABLE')
  t.equal(res.headers['retry-after'], '7', 'Retry-After from the answerer\'s seconds')
  t.match(last(f.answers), { outcome: 'unavailable', reason: 'unverified_bytes_full' })
  t.same(f.steps, [], 'never verified')
  t.equal(f.stats.unverifiedBytes, 0, 'what was read is given back')
})

t.test('secrets and verification: 401 for the sender\'s fault, 503 for ours; nothing enqueued', async (t) => {
  const contexts: SecretContext[] = []
  let answer: ReturnType<SecretSource> = { ok: false, reason: 'unknown_tenant' }
  const f = await routeFixture(t, {
    provider: testProvider({ secret: () => SECRET }),
    path: '/hooks/:tenant',
    secrets: (ctx) => { contexts.push(ctx); return answer }
  })
  const body = JSON.stringify({ id: 'evt_s' })

  let res = await f.send(body, {}, '/hooks/t1')
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'FST_WEBHOOK_UNAUTHORIZED')
  t.match(last(f.answers), { outcome: 'rejected', reason: 'unknown_tenant' })
  t.match(contexts[0], { source: 'acme', path: '/hooks/:tenant', params: { tenant: 't1' }, headers: { 'x-test-signature': /^[0-9a-f]{64}$/ } }, 'the resolver gets the route, its params and the headers')
  t.same(f.steps, ['secrets'], 'not verified without secrets')

  answer = { ok: false, reason: 'secret_resolver_timeout' }
  res = await f.send(body, {}, '/hooks/t1')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.match(last(f.answers), { outcome: 'unavailable', reason: 'secret_resolver_timeout' })

  answer = Promise.resolve({ ok: true, secrets: ['not it'] })
  res = await f.post('{not json', f.provider.sign('{not json', { secret: SECRET }), '/hooks/t1')
  t.equal(res.statusCode, 401, 'a bad signature is refused before the body is parsed')
  t.match(last(f.answers), { outcome: 'rejected', reason: 'no_match' })
  t.equal(f.stats.unverifiedBytes, 0, 'a refused body is no longer held')

  answer = { ok: true, secrets: [SECRET] }
  t.equal((await f.send(body, {}, '/hooks/t1')).statusCode, 202, 'with the right secret, accepted')
  t.same(f.added.map((a) => a.event.id), ['evt_s'])
})

t.test('a static secret skips the secret source; a verify that throws is a 401', async (t) => {
  let explode = false
  const base = testProvider({ secret: SECRET })
  const f = await routeFixture(t, {
    overrides: {
      verify: (input, secrets, now) => {
        if (explode) throw new Error('verify exploded')
        return base.verify(input, secrets, now)
      }
    }
  })
  t.equal((await f.send({ id: 'evt_static' })).statusCode, 202)
  t.notOk(f.steps.includes('secrets'), 'the constant secret is used as is')
  explode = true
  const res = await f.send({ id: 'evt_throws' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().message, 'Webhook verification failed', 'the one generic message')
  t.match(last(f.answers), { outcome: 'rejected', reason: 'verify_threw' })
  t.type(last(f.answers).err, Error)
  t.same(f.added.map((a) => a.event.id), ['evt_static'])
})

t.test('a verified body that does not parse: its own 400 code, with the secret index; the provider is not asked', async (t) => {
  const f = await routeFixture(t, { provider: testProvider({ secret: ['other', SECRET] }) })
  const cases: Array<[string, string | Buffer, string, string]> = [
    ['not JSON', '{"id":', 'invalid_json', 'FST_WEBHOOK_INVALID_JSON'],
    ['an array', '[1,2]', 'not_an_object', 'FST_WEBHOOK_NOT_AN_OBJECT'],
    ['blank', '   ', 'empty_body', 'FST_WEBHOOK_EMPTY_BODY'],
    ['not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), 'invalid_utf8', 'FST_WEBHOOK_INVALID_UTF8'],
    ['a poisoned key', '{"id":"p","__proto__":{"x":1}}', 'forbidden_key', 'FST_WEBHOOK_FORBIDDEN_KEY']
  ]
  for (const [label, body, reason, code] of cases) {
    const res = await f.post(body, f.provider.sign(body, { secret: SECRET }))
    t.equal(res.statusCode, 400, label)
    t.equal(res.json().code, code, label)
    t.match(last(f.answers), { outcome: 'rejected', reason, secretIndex: 1 }, label)
  }
  t.notOk(f.steps.includes('toEvent') || f.steps.includes('respond'), 'no provider step after a parse failure')
  t.same(f.added, [])
  t.equal(f.stats.rejected, cases.length)
})

t.test('event fields: a refusal or an empty id is 400 missing_id; a provider that throws after verification is 503', async (t) => {
  let mode: 'refuse' | 'empty' | 'throw-event' | 'throw-respond' = 'refuse'
  const base = testProvider({ secret: SECRET })
  const f = await routeFixture(t, {
    overrides: {
      toEvent: (parsed, req, verified) => {
        if (mode === 'refuse') return { ok: false, reason: 'missing_id', detail: 'no id in body' }
        if (mode === 'empty') return { ok: true, id: '', type: 'x' }
        if (mode === 'throw-event') throw new Error('toEvent exploded')
        return base.toEvent(parsed, req, verified)
      },
      respond: () => {
        if (mode === 'throw-respond') throw new Error('respond exploded')
        return undefined
      }
    }
  })
  let res = await f.send({ id: 'a' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'FST_WEBHOOK_MISSING_ID')
  t.match(last(f.answers), { outcome: 'rejected', reason: 'missing_id', detail: 'no id in body', secretIndex: 0 })

  mode = 'empty'
  res = await f.send({ id: 'a' })
  t.equal(res.statusCode, 400, 'an empty id is no id')
  t.equal(res.json().code, 'FST_WEBHOOK_MISSING_ID')
  t.match(last(f.answers), { reason: 'missing_id' })

  for (const m of ['throw-event', 'throw-respond'] as const) {
    mode = m
    res = await f.send({ id: 'a' })
    t.equal(res.statusCode, 503, `${m}: the authentic sender is told to retry`)
    t.equal(res.headers['retry-after'], '7')
    t.match(last(f.answers), { outcome: 'unavailable', reason: 'provider_threw' })
    t.type(last(f.answers).err, Error)
  }
  t.same(f.added, [], 'nothing enqueued')
})

t.test('inline answers: without enqueue the provider answers alone; with enqueue, after the event is in the queue', async (t) => {
  const f = await routeFixture(t, { accepts: (type) => type !== 'ignored-inline' })
  let res = await f.send({ id: 'h1', type: 'handshake', challenge: 'c-123' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { challenge: 'c-123' })
  t.match(last(f.answers), { outcome: 'responded', reason: 'inline', status: 200 })
  t.same(f.steps, ['verify', 'respond'], 'no event is derived for a handshake')
  t.same(f.added, [])

  res = await f.send({ id: 'i1', type: 'inline' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '', 'the provider\'s empty body')
  t.same(f.added.map((a) => a.event.id), ['i1'], 'enqueued first')
  t.match(last(f.answers), { outcome: 'accepted', reason: 'inline', eventId: 'i1', status: 200 })
  t.ok(await f.producer.queue.getJob(safeJobId('acme', 'i1')))
})

t.test('after the event: acceptTypes, then maxBacklog, then the enqueue', async (t) => {
  let accept: boolean | 'throw' = false
  const f = await routeFixture(t, {
    backlogOver: true,
    accepts: () => {
      if (accept === 'throw') throw new Error('predicate exploded')
      return accept
    }
  })
  let res = await f.send({ id: 'n1', type: 'noise' })
  t.equal(res.statusCode, 202, 'a type left out is acknowledged')
  t.same(res.json(), { received: true })
  t.match(last(f.answers), { outcome: 'ignored', reason: 'type_not_accepted', eventId: 'n1', type: 'noise' })
  t.notOk(f.steps.includes('backlog'), 'an ignored event never reaches the backlog check')

  accept = 'throw'
  res = await f.send({ id: 'n2', type: 'noise' })
  t.equal(res.statusCode, 503)
  t.match(last(f.answers), { outcome: 'unavailable', reason: 'accept_types_threw', eventId: 'n2' })

  accept = true
  res = await f.send({ id: 'n3', type: 'order' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '7')
  t.match(last(f.answers), { outcome: 'unavailable', reason: 'backlog_full', eventId: 'n3', detail: 'backlog 12 over maxBacklog' })
  t.same(f.steps.filter((s) => s === 'accepts' || s === 'backlog' || s === 'enqueue').slice(-2), ['accepts', 'backlog'], 'accepted, then shed before the enqueue')
  t.match(f.stats, { ignored: 1, unavailable: 2, shed: 1 })
  t.same(f.added, [], 'nothing enqueued')
})

t.test('the enqueue step\'s failures: unserializable is a 400, any other a 503 with its reason', async (t) => {
  const outcomes: Array<[EnqueueOutcome, number, string, Partial<OutcomeFields>]> = [
    [{ ok: false, reason: 'unserializable', cause: new RangeError('too deep') }, 400, 'FST_WEBHOOK_UNSERIALIZABLE', { outcome: 'rejected', reason: 'unserializable', detail: 'too deep' }],
    [{ ok: false, reason: 'enqueue_timeout' }, 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'enqueue_timeout' }],
    [{ ok: false, reason: 'enqueue_failed', cause: new Error('READONLY') }, 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'enqueue_failed', detail: 'READONLY' }],
    [{ ok: false, reason: 'redis_not_ready' }, 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'redis_not_ready' }]
  ]
  for (const [enqueueAs, status, code, fields] of outcomes) {
    const f = await routeFixture(t, { enqueueAs })
    const res = await f.send({ id: 'q1', type: 'order' })
    t.equal(res.statusCode, status, String(fields.reason))
    t.equal(res.json().code, code, String(fields.reason))
    t.equal(res.headers['retry-after'], status === 503 ? '7' : undefined, `${fields.reason}: Retry-After only on 503`)
    t.match(last(f.answers), { ...fields, eventId: 'q1', type: 'order', secretIndex: 0 }, String(fields.reason))
    t.equal(f.added.length, 1, `${fields.reason}: the enqueue was tried once`)
  }
})

t.test('Fastify\'s own errors on the route: mapped to the plugin\'s codes, never a 500', async (t) => {
  const errors: Record<string, () => Error> = {
    'too-large': () => Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
    full: () => new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(),
    coded: () => Object.assign(new Error('bad length'), { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }),
    uncoded: () => Object.assign(new Error('aborted'), { statusCode: 400 }),
    crash: () => new Error('reader crashed')
  }
  const f = await routeFixture(t, { parser: (request, _payload, done) => { done(errors[request.headers['x-fail'] as string]()) } })
  const expect: Array<[string, number, string, Partial<OutcomeFields>]> = [
    ['too-large', 413, 'FST_WEBHOOK_BODY_TOO_LARGE', { outcome: 'rejected', reason: 'body_too_large' }],
    ['full', 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'unverified_bytes_full' }],
    ['coded', 400, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', { outcome: 'rejected', reason: 'fst_err_ctp_invalid_content_length' }],
    ['uncoded', 400, undefined as unknown as string, { outcome: 'rejected', reason: 'bad_request' }],
    ['crash', 503, 'FST_WEBHOOK_UNAVAILABLE', { outcome: 'unavailable', reason: 'internal_error' }]
  ]
  for (const [fail, status, code, fields] of expect) {
    const body = JSON.stringify({ id: fail })
    const res = await f.post(body, { ...f.provider.sign(body), 'x-fail': fail })
    t.equal(res.statusCode, status, fail)
    t.equal(res.json().code, code, fail)
    t.match(last(f.answers), fields, fail)
  }
  t.type(last(f.answers).err, Error, 'an internal error is logged with its error')
  t.same(f.steps, [], 'the handler never ran')
  t.same(f.added, [])
})
