import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { Provider } from '../../providers/provider.js'
import { safeJobId } from '../../core/job-id.js'
import { ATTEMPTS_CEILING, REMOVE_ON_COMPLETE } from '../../core/job-options.js'
import { JOB_NAME } from '../../core/event.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp, captureLogs, signed, testProvider, untilReady } from '../helpers/webhook.js'

const SECRET = 'It is a secret to everybody'

t.test('a signed event: 202 only once the job is in Redis, with the WebhookEvent as data', async (t) => {
  const provider = providers.hmac({ secret: SECRET, typeHeader: 'x-event-type' })
  const { app, queueName, webhookLines } = await buildApp(t, { provider, source: 'acme' })
  const before = Date.now()
  const { payload, headers } = signed(provider, { event_id: 'evt_1', amount: 42 }, { type: 'order.created' })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers })
  t.equal(res.statusCode, 202)
  t.same(res.json(), { received: true })

  const intake = app.webhooks.get('acme:/v1/events')!
  t.equal(intake.queueName, queueName)
  const job = await intake.queue.getJob(safeJobId('acme', 'evt_1'))
  t.ok(job, 'the job exists when the 202 arrives')
  t.equal(job!.name, JOB_NAME)
  t.match(job!.data, {
    v: 1,
    id: 'evt_1',
    source: 'acme',
    type: 'order.created',
    payload: { event_id: 'evt_1', amount: 42 },
    headers: { 'x-event-type': 'order.created' },
    origin: 'webhook'
  })
  t.notOk('x-provider-signature' in job!.data.headers, 'the signature header is never copied')
  t.notOk('sentAt' in job!.data, 'no signed timestamp in this scheme')
  t.ok(job!.data.receivedAt >= before && job!.data.receivedAt <= Date.now())
  t.equal(job!.opts.attempts, ATTEMPTS_CEILING)
  t.same(job!.opts.backoff, { type: 'webhook' })
  t.same(job!.opts.removeOnComplete, REMOVE_ON_COMPLETE)

  const [line] = webhookLines()
  t.match(line, { msg: 'webhook', outcome: 'accepted', source: 'acme', eventId: 'evt_1', status: 202, secretIndex: 0 })
  t.type(line.latencyMs, 'number')
  t.same(intake.stats, { accepted: 1, duplicates: 0, ignored: 0, responded: 0, rejected: 0, unavailable: 0, shed: 0, unverifiedBytes: 0 })
})

t.test('the source defaults to the provider name; ids with `:` or digits only become safe job ids', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const { app } = await buildApp(t, { provider })
  const intake = app.webhooks.get('hmac:/v1/events')!
  t.equal(intake.source, 'hmac')
  for (const id of ['12345', 'a:b', 'ümlaut']) {
    const { payload, headers } = signed(provider, { event_id: id })
    t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload, headers })).statusCode, 202, id)
    t.ok(await intake.queue.getJob(safeJobId('hmac', id)), `job for ${id}`)
  }
  const { payload, headers } = signed(provider, { event_id: 987 })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload, headers })).statusCode, 202)
  t.ok(await intake.queue.getJob(safeJobId('hmac', '987')), 'a numeric id becomes its decimal string')
})

t.test('a duplicate still in retention: 202, nothing added, logged and counted as a duplicate', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'acme' })
  const { payload, headers } = signed(provider, { event_id: 'evt_dup', n: 1 })
  const again = signed(provider, { event_id: 'evt_dup', n: 2 })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload, headers })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...again })).statusCode, 202)
  const intake = app.webhooks.get('acme:/v1/events')!
  t.equal(await intake.queue.count(), 1, 'one job')
  const job = await intake.queue.getJob(safeJobId('acme', 'evt_dup'))
  t.equal(job!.data.payload.n, 1, 'the first delivery is kept')
  t.same(webhookLines().map((l) => l.outcome), ['accepted', 'duplicate'])
  t.equal(intake.stats.duplicates, 1)
  t.equal(intake.stats.accepted, 1)
})

t.test('rotation: every secret is tried without early exit, and the matched index is logged', async (t) => {
  const inner = providers.hmac({ secret: ['old-secret', 'new-secret', 'next-secret'] })
  const seen: number[][] = []
  // A spy on the list the plugin hands to the real hmac verify: which secrets it reads.
  const spied: Provider = {
    ...inner,
    verify (input, secrets, nowMs) {
      const read = new Set<number>()
      seen.push([])
      const proxy = new Proxy(secrets as string[], {
        get (target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) read.add(Number(key))
          return Reflect.get(target, key, receiver)
        }
      })
      const result = inner.verify(input, proxy, nowMs)
      seen[seen.length - 1] = [...read].sort()
      return result
    }
  }
  const { app, webhookLines } = await buildApp(t, { provider: spied, source: 'rot' })
  for (const [i, secret] of ['old-secret', 'new-secret', 'next-secret'].entries()) {
    const { payload, headers } = signed(inner, { event_id: `r${i}` }, { secret })
    t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload, headers })).statusCode, 202, `signed with secret ${i}`)
  }
  const bad = signed(inner, { event_id: 'r-bad' }, { secret: 'wrong' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...bad })).statusCode, 401)
  t.same(seen, [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]], 'all three secrets read on every request, even when the first matches')
  t.same(webhookLines().map((l) => l.secretIndex), [0, 1, 2, undefined])

  const tried: number[] = []
  const own = testProvider({ secret: ['a', 'b', 'c'], tried })
  const second = await buildApp(t, { provider: own, source: 'rot2' })
  const { payload, headers } = signed(own, { id: 'x' }, { secret: 'a' })
  t.equal((await second.app.inject({ method: 'POST', url: '/v1/events', payload, headers })).statusCode, 202)
  t.same(tried, [0, 1, 2], 'the test provider also compares against every secret')
})

t.test('sentAt comes from the signed timestamp; replayKey and event headers from the provider', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app } = await buildApp(t, { provider, source: 'ts' })
  const ts = Math.floor(Date.now() / 1000) - 30
  const { payload, headers } = signed(provider, { id: 'e1', type: 't', replay: 'rk-1' }, { timestampSec: ts })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers: { ...headers, 'x-test-topic': 'orders', 'x-other': 'dropped' } })
  t.equal(res.statusCode, 202)
  const job = await app.webhooks.get('ts:/v1/events')!.queue.getJob(safeJobId('ts', 'e1'))
  t.equal(job!.data.sentAt, ts * 1000)
  t.equal(job!.data.replayKey, 'rk-1')
  t.same(job!.data.headers, { 'x-test-topic': 'orders' }, 'only the provider\'s eventHeaders')

  const twice = signed(provider, { id: 'e2' })
  const res2 = await app.inject({ method: 'POST', url: '/v1/events', payload: twice.payload, headers: { ...twice.headers, 'x-test-topic': ['a', 'b'] } })
  t.equal(res2.statusCode, 202)
  const job2 = await app.webhooks.get('ts:/v1/events')!.queue.getJob(safeJobId('ts', 'e2'))
  t.same(job2!.data.headers, { 'x-test-topic': 'a, b' }, 'a repeated allow-listed header is joined')
  t.notOk('replayKey' in job2!.data)
})

t.test('providers see repeated headers as arrays, so a duplicated signature is refused', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'dups' })
  const { payload, headers } = signed(provider, { id: 'd1' })
  const res = await app.inject({
    method: 'POST', url: '/v1/events', payload, headers: { ...headers, 'x-test-signature': [headers['x-test-signature'], headers['x-test-signature']] }
  })
  t.equal(res.statusCode, 401)
  t.equal(webhookLines()[0].reason, 'duplicate_header')
})

t.test('inline answers: a handshake gets 200 and no job; an inline ack is sent after the enqueue', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'inline' })
  const intake = app.webhooks.get('inline:/v1/events')!
  const hs = signed(provider, { type: 'handshake', challenge: 'c-123' })
  const res = await app.inject({ method: 'POST', url: '/v1/events', ...hs })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { challenge: 'c-123' })
  t.equal(await intake.queue.count(), 0, 'nothing enqueued for a handshake')

  const ack = signed(provider, { id: 'cmd-1', type: 'inline' })
  const res2 = await app.inject({ method: 'POST', url: '/v1/events', ...ack })
  t.equal(res2.statusCode, 200)
  t.equal(res2.body, '', 'an empty 200')
  t.ok(await intake.queue.getJob(safeJobId('inline', 'cmd-1')), 'enqueued before the answer')
  t.same(webhookLines().map((l) => [l.outcome, l.status]), [['responded', 200], ['accepted', 200]])
  t.equal(intake.stats.responded, 1)
})

t.test('a provider that throws: 401 before verification, 503 after it; never a 500', async (t) => {
  for (const [where, status, reason] of [['verify', 401, 'verify_threw'], ['toEvent', 503, 'provider_threw'], ['respond', 503, 'provider_threw']] as const) {
    const provider = testProvider({ secret: 'k', throwIn: where })
    const { app, webhookLines, queueName } = await buildApp(t, { provider, source: 'boom', queueName: uniqueName(where) })
    const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { id: 'b1' }) })
    t.equal(res.statusCode, status, where)
    if (status === 503) t.equal(res.headers['retry-after'], '5')
    const [line] = webhookLines()
    t.match(line, { reason, status, err: { message: `${where} exploded` } }, `${where} is logged with its error`)
    t.equal(await app.webhooks.get('boom:/v1/events')!.queue.count(), 0, `no job (${queueName})`)
  }
})

t.test('form bodies reach toEvent as decoded fields', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app } = await buildApp(t, { provider, source: 'form' })
  const body = 'id=f-1&type=form.sent&note=a%20b'
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body, { contentType: 'application/x-www-form-urlencoded' }) })
  t.equal(res.statusCode, 202)
  const job = await app.webhooks.get('form:/v1/events')!.queue.getJob(safeJobId('form', 'f-1'))
  t.same(job!.data.payload, { id: 'f-1', type: 'form.sent', note: 'a b' })
})

t.test('a form body whose percent-decoded bytes are not UTF-8 is refused, as invalid JSON text is', async (t) => {
  const provider = testProvider({ secret: 'k' })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'form8' })
  const form = { contentType: 'application/x-www-form-urlencoded' }
  for (const body of ['id=f-2&note=%C3%28%FF', 'id=f-2&%FF=x', 'id=f-2&note=%C3&more=%A9']) {
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body, form) })
    t.equal(res.statusCode, 400, body)
    t.equal(res.json().code, 'FST_WEBHOOK_INVALID_UTF8', body)
  }
  t.match(webhookLines(), Array(3).fill({ outcome: 'rejected', reason: 'invalid_utf8' }))
  t.equal(await app.webhooks.get('form8:/v1/events')!.queue.count(), 0, 'no job')
  // Valid escapes, stray `%` signs and `+` still decode as before.
  const body = 'id=f-3&note=%C3%A9+100%25&odd=50%&bad=%zz'
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body, form) })
  t.equal(res.statusCode, 202)
  const job = await app.webhooks.get('form8:/v1/events')!.queue.getJob(safeJobId('form8', 'f-3'))
  t.same(job!.data.payload, { id: 'f-3', note: 'é 100%', odd: '50%', bad: '%zz' })
})

t.test('bodyLimit: the provider\'s raises the default, the user\'s wins over both', async (t) => {
  const provider = testProvider({ secret: 'k', bodyLimit: 2048 })
  const big = { id: 'big', pad: 'x'.repeat(1500) }
  const a = await buildApp(t, { provider, source: 'lim1' })
  t.equal((await a.app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, big) })).statusCode, 202)
  const b = await buildApp(t, { provider, source: 'lim2', bodyLimit: 1024 })
  const res = await b.app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, big) })
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'FST_WEBHOOK_BODY_TOO_LARGE')
})

t.test('secret resolver: per-tenant lookup with route params, cached, called with the context', async (t) => {
  const calls: Array<{ source: string, path: string, params: Record<string, string>, hasHeaders: boolean }> = []
  const secrets: Record<string, string> = { acme: 'acme-secret', globex: 'globex-secret' }
  const provider = testProvider({
    secret: async (ctx) => {
      calls.push({ source: ctx.source, path: ctx.path, params: { ...ctx.params }, hasHeaders: typeof ctx.headers['x-test-signature'] === 'string' })
      return secrets[ctx.params.tenant] ?? 'unknown-tenant'
    }
  })
  const { app, logText } = await buildApp(t, { provider, source: 'tenants', path: '/hooks/:tenant' })
  for (const tenant of ['acme', 'globex', 'acme', 'acme']) {
    const res = await app.inject({ method: 'POST', url: `/hooks/${tenant}`, ...signed(provider, { id: `${tenant}-${Math.random()}` }, { secret: secrets[tenant] }) })
    t.equal(res.statusCode, 202, tenant)
  }
  const wrong = await app.inject({ method: 'POST', url: '/hooks/globex', ...signed(provider, { id: 'w' }, { secret: 'acme-secret' }) })
  t.equal(wrong.statusCode, 401, 'one tenant\'s secret does not open another\'s route')
  t.same(calls, [
    { source: 'tenants', path: '/hooks/:tenant', params: { tenant: 'acme' }, hasHeaders: true },
    { source: 'tenants', path: '/hooks/:tenant', params: { tenant: 'globex' }, hasHeaders: true }
  ], 'one call per tenant while cached')
  t.notMatch(logText(), /acme-secret|globex-secret/, 'secrets never logged')
})

t.test('secret resolver: secretCacheMs 0 calls it every time; failures are 503 and never cached', async (t) => {
  let calls = 0
  let mode: 'ok' | 'throw' | 'hang' | 'invalid' = 'throw'
  const provider = testProvider({
    secret: () => {
      calls++
      if (mode === 'throw') throw new Error('vault is down')
      if (mode === 'hang') return new Promise<string>(() => {})
      if (mode === 'invalid') return ''
      return 'vault-secret'
    }
  })
  const { app, webhookLines, logText } = await buildApp(t, { provider, source: 'vault', secretCacheMs: 0, secretTimeoutMs: 300 })
  const send = async (): Promise<{ status: number, retryAfter: unknown, ms: number }> => {
    const started = Date.now()
    const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { id: `v${calls}` }, { secret: 'vault-secret' }) })
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], ms: Date.now() - started }
  }
  t.match(await send(), { status: 503, retryAfter: '5' }, 'a throwing resolver is a 503')
  mode = 'hang'
  const hung = await send()
  t.equal(hung.status, 503, 'a resolver past its deadline is a 503')
  t.ok(hung.ms < 300 + 1000, `answered within the deadline (${hung.ms} ms)`)
  mode = 'invalid'
  t.match(await send(), { status: 503 }, 'an empty secret from the resolver is a 503')
  mode = 'ok'
  t.match(await send(), { status: 202 }, 'the failure was not cached')
  t.match(await send(), { status: 202 })
  t.equal(calls, 5, 'called on every request with secretCacheMs 0')
  t.same(webhookLines().map((l) => l.reason), ['secret_resolver_failed', 'secret_resolver_timeout', 'secret_resolver_invalid', undefined, undefined])
  t.notMatch(logText(), /vault-secret/)
})

t.test('secret resolver: concurrent lookups of one key share one call; a throwing cache key is a 503', async (t) => {
  let calls = 0
  let release: (value: string) => void = () => {}
  const provider = testProvider({ secret: async () => { calls++; return await new Promise<string>((resolve) => { release = resolve }) } })
  const { app } = await buildApp(t, { provider, source: 'shared' })
  const requests = [1, 2, 3].map(async (n) => await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { id: `s${n}` }, { secret: 'late' }) }))
  await new Promise((resolve) => setTimeout(resolve, 100))
  release('late')
  t.same((await Promise.all(requests)).map((r) => r.statusCode), [202, 202, 202])
  t.equal(calls, 1)

  const keyed = testProvider({ secret: () => 'k' })
  const b = await buildApp(t, { provider: keyed, source: 'badkey', secretCacheKey: () => { throw new Error('no key') } })
  t.equal((await b.app.inject({ method: 'POST', url: '/v1/events', ...signed(keyed, { id: 'x' }, { secret: 'k' }) })).statusCode, 503)
})

t.test('encapsulation: the app\'s own routes keep JSON parsing and their parsers', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const { logger } = captureLogs()
  const app = Fastify({ loggerInstance: logger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const queueName = uniqueName('encap')
  const redis = testClient(t)
  t.teardown(async () => { await app.close(); await cleanQueue(redis, 'bull', queueName) })
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => { done(null, `text:${String(body)}`) })
  app.post('/api/orders', async (request) => ({ got: request.body }))
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName })
  app.post('/api/later', async (request) => ({ got: request.body }))
  await app.ready()
  await untilReady(app, 'hmac:/v1/events')

  for (const url of ['/api/orders', '/api/later']) {
    const res = await app.inject({ method: 'POST', url, payload: { a: 1 } })
    t.same(res.json(), { got: { a: 1 } }, `${url} still parses JSON into an object`)
    const text = await app.inject({ method: 'POST', url, payload: 'hi', headers: { 'content-type': 'text/plain' } })
    t.same(text.json(), { got: 'text:hi' }, `${url} keeps the app's own parser`)
    const proto = await app.inject({ method: 'POST', url, payload: '{"__proto__":{"x":1}}', headers: { 'content-type': 'application/json' } })
    t.equal(proto.statusCode, 400, `${url} keeps Fastify's prototype-poisoning guard`)
    const binary = await app.inject({ method: 'POST', url, payload: Buffer.from([1, 2, 3]), headers: { 'content-type': 'application/octet-stream' } })
    t.equal(binary.statusCode, 415, `${url}: the webhook route's catch-all buffer parser does not leak`)
    t.equal(binary.json().code, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
  }
  const webhook = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'enc-1' }) })
  t.equal(webhook.statusCode, 202, 'the webhook route verifies the raw bytes')
  const text = await app.inject({ method: 'POST', url: '/v1/events', payload: 'hi', headers: { 'content-type': 'text/plain' } })
  t.equal(text.statusCode, 415, 'the app\'s text parser does not leak into the webhook route')
})

t.test('a registration in a prefixed scope serves under that prefix; the plugin\'s `prefix` is BullMQ\'s', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const app = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const queueName = uniqueName('scoped')
  const redis = testClient(t)
  const prefix = 'whtest'
  t.teardown(async () => { await app.close(); await cleanQueue(redis, prefix, queueName) })
  let api: { webhooks: ReadonlyMap<string, { ready: boolean }> } | undefined
  await app.register(async function apiScope (scope) {
    await scope.register(webhookPlugin, { provider, connection: redisUrl(), queueName, prefix, source: 'scoped' })
    api = scope
  }, { prefix: '/api' })
  await app.ready()
  t.notOk(app.hasDecorator('webhooks'), 'decorations stay in the scope the plugin was registered in')
  await untilReady(api!, 'scoped:/v1/events')
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/events', ...signed(provider, { event_id: 'p1' }) })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'p2' }) })).statusCode, 404)
  t.equal(await redis.exists(`${prefix}:${queueName}:${safeJobId('scoped', 'p1')}`), 1, 'the job lives under the BullMQ prefix')
})

t.test('two registrations in one app: own paths, providers, queues; names must differ', async (t) => {
  const a = providers.hmac({ secret: 'secret-a' })
  const b = testProvider({ secret: 'secret-b' })
  const { logger } = captureLogs()
  const app = Fastify({ loggerInstance: logger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const [qa, qb] = [uniqueName('two-a'), uniqueName('two-b')]
  const redis = testClient(t)
  t.teardown(async () => { await app.close(); await cleanQueue(redis, 'bull', qa); await cleanQueue(redis, 'bull', qb) })
  await app.register(webhookPlugin, { provider: a, connection: redisUrl(), queueName: qa, path: '/hooks/a', source: 'alpha' })
  await app.register(webhookPlugin, { provider: b, connection: redisUrl(), queueName: qb, path: '/hooks/b', source: 'beta' })
  await app.ready()
  await untilReady(app, 'alpha:/hooks/a')
  await untilReady(app, 'beta:/hooks/b')
  t.equal((await app.inject({ method: 'POST', url: '/hooks/a', ...signed(a, { event_id: 'a1' }) })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/hooks/b', ...signed(b, { id: 'b1' }) })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/hooks/b', ...signed(a, { event_id: 'a2' }) })).statusCode, 401, 'each route verifies with its own provider')
  t.ok(await app.webhooks.get('alpha:/hooks/a')!.queue.getJob(safeJobId('alpha', 'a1')))
  t.ok(await app.webhooks.get('beta:/hooks/b')!.queue.getJob(safeJobId('beta', 'b1')))
  t.equal(await app.webhooks.get('alpha:/hooks/a')!.queue.count(), 1)

  const dup = Fastify({ logger: false })
  t.teardown(() => dup.close())
  await dup.register(webhookPlugin, { provider: a, connection: redisUrl(), queueName: qa, path: '/x' })
  await dup.register(webhookPlugin, { provider: a, connection: redisUrl(), queueName: qa, path: '/y' })
  await dup.register(webhookPlugin, { provider: a, connection: redisUrl(), queueName: qa, path: '/z', name: 'shop' })
  dup.register(webhookPlugin, { provider: a, connection: redisUrl(), queueName: qa, path: '/w', name: 'shop' })
  const err = await dup.ready().then(() => undefined, (e: unknown) => e)
  t.same([...dup.webhooks.keys()], ['hmac:/x', 'hmac:/y', 'shop'], 'one source on two paths: two default names')
  t.ok(err instanceof TypeError, 'a TypeError')
  t.match(err, { code: 'FST_WEBHOOK_DUPLICATE_NAME', message: /`shop`.*distinct `name`/ })
})

t.test('ownership on close: what the plugin created is closed, a passed ioredis instance stays open', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const mine = new Redis(redisUrl())
  t.teardown(() => mine.disconnect())
  const queueName = uniqueName('own')
  t.teardown(() => cleanQueue(mine, 'bull', queueName))
  const source = `own-${Date.now()}-${process.pid}`
  // The plugin names its connection `webhooks:<name>`: CLIENT LIST shows whether it is open.
  const producers = async (): Promise<number> => String(await mine.client('LIST')).split('\n').filter((l) => l.includes(` name=webhooks:${source}:/v1/events `)).length

  const app = Fastify({ logger: false })
  await app.register(webhookPlugin, { provider, connection: mine, queueName, source })
  await app.ready()
  await untilReady(app, `${source}:/v1/events`)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'o1' }) })).statusCode, 202)
  t.equal(await producers(), 1, 'the plugin produces through its own connection, not the user\'s')
  await app.close()
  t.equal(await producers(), 0, 'that connection is closed with the app')
  t.equal(await mine.ping(), 'PONG', 'the user\'s instance is still open')
  t.notOk(app.webhooks.has(`${source}:/v1/events`), 'the registration is gone')

  const byUrl = Fastify({ logger: false })
  await byUrl.register(webhookPlugin, { provider, connection: redisUrl(), queueName, source })
  await byUrl.ready()
  await untilReady(byUrl, `${source}:/v1/events`)
  t.equal(await producers(), 1)
  await byUrl.close()
  t.equal(await producers(), 0, 'a connection made from a URL is closed')
})

t.test('server timeouts left at 0 are warned about at registration, with recommended values', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const loose = await buildApp(t, { provider, source: 'loose' }, { connectionTimeout: 0, requestTimeout: 0 })
  const warning = loose.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('slow client'))
  t.ok(warning, 'a warning is logged')
  t.match(warning!.msg, /connectionTimeout: 30000/)
  t.match(warning!.msg, /requestTimeout: 15000/)
  t.equal(warning!.level, 40)
  const strict = await buildApp(t, { provider, source: 'strict' })
  t.notOk(strict.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('slow client')), 'no warning with both set')
})

t.test('logLevel quiets the route, including the webhook line', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'quiet', logLevel: 'silent' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'q1' }) })).statusCode, 202)
  t.same(webhookLines(), [])
})

t.test('errors from the app\'s own hooks on the route: a 4xx passes through, anything else is a 503, never a 500', async (t) => {
  const provider = providers.hmac({ secret: SECRET })
  const { logger, lines } = captureLogs()
  const app = Fastify({ loggerInstance: logger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const queueName = uniqueName('hooks')
  const redis = testClient(t)
  t.teardown(async () => { await app.close(); await cleanQueue(redis, 'bull', queueName) })
  app.addHook('preHandler', async (request) => {
    if (request.headers['x-crash'] === 'yes') throw new Error('an app hook crashed')
    if (request.headers['x-crash'] === 'forbidden') throw Object.assign(new Error('not from here'), { statusCode: 403, code: 'APP_FORBIDDEN' })
  })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName })
  await app.ready()
  await untilReady(app, 'hmac:/v1/events')
  const first = signed(provider, { event_id: 'h1' })
  const crash = await app.inject({ method: 'POST', url: '/v1/events', payload: first.payload, headers: { ...first.headers, 'x-crash': 'yes' } })
  t.equal(crash.statusCode, 503)
  t.equal(crash.headers['retry-after'], '5')
  t.equal(crash.json().code, 'FST_WEBHOOK_UNAVAILABLE')
  const second = signed(provider, { event_id: 'h2' })
  const forbidden = await app.inject({ method: 'POST', url: '/v1/events', payload: second.payload, headers: { ...second.headers, 'x-crash': 'forbidden' } })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.json().code, 'APP_FORBIDDEN')
  const webhook = lines.filter((l) => l.msg === 'webhook')
  t.match(webhook, [{ outcome: 'unavailable', reason: 'internal_error', status: 503, err: { message: 'an app hook crashed' } }, { outcome: 'rejected', reason: 'app_forbidden', status: 403 }])
})
