import t from 'tap'
import Fastify from 'fastify'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import { webhookOptions } from '../../plugin/typed-options.js'
import { createBacklogGuard } from '../../plugin/backlog.js'
import { JOB_NAME } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { QueueProbe } from '../../core/queue-stats.js'
import { cleanQueue, privateRedis, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp, captureLogs, signed, untilReady, waitFor } from '../helpers/webhook.js'

// Health, load shedding and type filtering, against real Redis servers.
t.setTimeout(90_000)

const SECRET = 'ops-secret'
const provider = providers.hmac({ secret: SECRET, typeHeader: 'x-event-type' })
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('health(): pass on a durable Redis; fail with Redis killed, and the readiness route says 503; pass again once it is back', async (t) => {
  const server = await privateRedis(t)
  const { logger } = captureLogs()
  const app = Fastify({ loggerInstance: logger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  t.teardown(() => app.close())
  await app.register(webhookPlugin, { provider, connection: server.url, source: 'health', ackTimeoutMs: 1000, healthRoute: '/healthz/webhooks' })
  await app.ready()
  await untilReady(app, 'health:/v1/events')

  const up = await app.webhooks.health()
  t.equal(up.status, 'pass', JSON.stringify(up))
  t.equal(up.ok, true)
  const intake = up.registrations['health:/v1/events']
  t.match(intake.checks, { redis: { status: 'pass' }, persistence: { status: 'pass' }, backlog: { status: 'pass', observed: 0, limit: 10_000 }, oldestWaiting: { status: 'pass', observed: null } })
  t.match(intake.queue, { waiting: 0, delayed: 0, deadLetters: 0, oldestWaitingAgeMs: null })
  const route = await app.inject({ method: 'GET', url: '/healthz/webhooks' })
  t.equal(route.statusCode, 200)
  t.equal(route.json().status, 'pass')

  await server.kill()
  const started = Date.now()
  const down = await app.webhooks.health()
  t.ok(Date.now() - started < 2000, 'a dead Redis is reported at once, not after a hang')
  t.equal(down.status, 'fail')
  t.equal(down.ok, false)
  t.match(down.registrations['health:/v1/events'].checks.redis, { status: 'fail', message: /Redis is not reachable/ })
  t.notOk('queue' in down.registrations['health:/v1/events'], 'no stats without Redis')
  const routeDown = await app.inject({ method: 'GET', url: '/healthz/webhooks' })
  t.equal(routeDown.statusCode, 503, 'the readiness route fails')
  t.equal(routeDown.json().registrations['health:/v1/events'].checks.redis.status, 'fail')

  await server.restart()
  await waitFor(async () => (await app.webhooks.health()).status === 'pass', 15_000, 'health to pass again')
  t.equal((await app.inject({ method: 'GET', url: '/healthz/webhooks' })).statusCode, 200)
})

t.test('health(): an old waiting job and a large backlog warn; the route stays 200 (the route still accepts)', async (t) => {
  const { app, queueName } = await buildApp(t, { provider, source: 'aging', healthRoute: '/ready', healthMaxAgeMs: 60_000, healthMaxBacklog: 1 })
  const intake = app.webhooks.get('aging:/v1/events')!
  const hourAgo = Date.now() - 3_600_000
  const event = { v: 1, id: 'old-1', source: 'aging', type: '', payload: {}, headers: {}, receivedAt: hourAgo, origin: 'webhook' }
  await intake.queue.add(JOB_NAME, event, { ...eventJobOptions(safeJobId('aging', 'old-1')), timestamp: hourAgo })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'new-1' }) })).statusCode, 202)

  const health = await app.webhooks.health()
  t.equal(health.status, 'warn')
  t.equal(health.ok, true)
  const report = health.registrations['aging:/v1/events']
  t.equal(report.queueName, queueName)
  t.equal(report.checks.oldestWaiting.status, 'warn')
  t.ok(report.checks.oldestWaiting.observed! >= 3_600_000, 'the age is the oldest job\'s')
  t.match(report.checks.oldestWaiting.message, /added 36\d\d s ago/)
  t.match(report.checks.backlog, { status: 'warn', observed: 2, limit: 1 })
  t.equal(report.queue?.waiting, 2)
  t.equal((await intake.health()).status, 'warn', 'one registration can be checked on its own')
  const route = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(route.statusCode, 200, 'warnings do not take the app out of rotation')
  t.equal(route.json().status, 'warn')
})

t.test('health(): a Redis without AOF warns under persistenceCheck warn, and is not checked under off', async (t) => {
  const server = await privateRedis(t, { appendonly: false })
  for (const persistenceCheck of ['warn', 'off'] as const) {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(webhookPlugin, { provider, connection: server.url, source: 'durable', persistenceCheck })
    await app.ready()
    await untilReady(app, 'durable:/v1/events')
    if (persistenceCheck === 'warn') await waitFor(async () => (await app.webhooks.health()).status === 'warn', 5000, 'the check to run')
    const check = (await app.webhooks.health()).registrations['durable:/v1/events'].checks.persistence
    if (persistenceCheck === 'warn') t.match(check, { status: 'warn', message: /appendonly is off/ })
    else t.match(check, { status: 'pass', message: /not checked/ })
  }
})

t.test('maxBacklog: past it, verified events get 503 with Retry-After, are counted as shed, and nothing is added; back under it, 202 again', async (t) => {
  const { app, webhookLines } = await buildApp(t, { provider, source: 'shed', maxBacklog: 3, healthRoute: '/ready' })
  const intake = app.webhooks.get('shed:/v1/events')!
  let n = 0
  let shed: Awaited<ReturnType<typeof app.inject>> | undefined
  await waitFor(async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: `s-${n++}` }) })
    if (res.statusCode === 503) shed = res
    else await sleep(100)
    return shed !== undefined
  }, 10_000, 'a 503 once the backlog is over maxBacklog')
  t.equal(shed!.headers['retry-after'], '5')
  t.equal(shed!.json().code, 'FST_WEBHOOK_UNAVAILABLE')
  // The count is at most a second old, so the backlog overshoots by what came in that second.
  const countBefore = await intake.queue.count()
  t.ok(countBefore > 3, `shedding started past the limit (${countBefore} jobs)`)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'more' }) })).statusCode, 503)
  t.equal(await intake.queue.count(), countBefore, 'a shed event is not enqueued')
  t.ok(intake.stats.shed >= 2)
  t.equal(intake.stats.shed, intake.stats.unavailable, 'every 503 here was a shed event')
  t.match(webhookLines().at(-1), { outcome: 'unavailable', reason: 'backlog_full', status: 503, eventId: 'more' })
  const health = (await app.webhooks.health()).registrations['shed:/v1/events']
  t.match(health.checks.backlog, { status: 'fail', limit: 3, message: /over maxBacklog/ })
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 503, 'not ready while shedding')

  // Invalid requests still get their 4xx, not a 503.
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: '{}', headers: { 'content-type': 'application/json' } })).statusCode, 401)

  await intake.queue.drain(true)
  await waitFor(async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: `after-${n++}` }) })
    if (res.statusCode !== 202) await sleep(100)
    return res.statusCode === 202
  }, 10_000, 'a 202 once the workers caught up')
})

t.test('the backlog is read at most once a second, whatever the request rate, and never makes a request wait', async (t) => {
  const redis = testClient(t)
  const { app } = await buildApp(t, { provider, source: 'rate' })
  const intake = app.webhooks.get('rate:/v1/events')!
  const probe = new QueueProbe(redis, { queueName: intake.queueName, prefix: intake.prefix })
  t.teardown(() => probe.close())
  let reads = 0
  let release = (): void => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const guard = createBacklogGuard(5, async () => {
    reads++
    const value = await probe.backlog()
    // Held until released: a request must not wait for it.
    await held
    return value
  }, 10_000)
  const started = Date.now()
  for (let i = 0; i < 200; i++) t.equal(guard.over(), false)
  t.equal(reads, 1, 'one read for 200 checks')
  t.equal(guard.last, undefined, 'the first read is still running')
  release()
  await waitFor(() => guard.last === 0, 2000, 'the read')
  for (let i = 0; i < 200; i++) guard.over()
  t.equal(reads, 1, 'no new read within the second')
  await sleep(1000 - (Date.now() - started) + 50)
  for (let i = 0; i < 200; i++) guard.over()
  t.equal(reads, 2, 'one more read once a second has passed')

  for (let i = 0; i < 7; i++) await intake.queue.add(JOB_NAME, { i }, eventJobOptions(safeJobId('rate', `r${i}`)))
  const direct = createBacklogGuard(5, async () => await probe.backlog(), 1000)
  direct.over()
  await waitFor(() => direct.last === 7, 2000, 'the count')
  t.equal(direct.over(), true, 'over once the count is past the limit')
})

t.test('acceptTypes as a list: other verified types get 202, are counted and logged as ignored, and are not enqueued', async (t) => {
  const { app, webhookLines } = await buildApp(t, { provider, source: 'types', acceptTypes: ['invoice.paid', 'invoice.voided'] })
  const intake = app.webhooks.get('types:/v1/events')!
  const paid = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'ty-1' }, { type: 'invoice.paid' }) })
  const other = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'ty-2' }, { type: 'customer.created' }) })
  const none = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'ty-3' }) })
  t.equal(paid.statusCode, 202)
  t.same(other.json(), { received: true })
  t.equal(other.statusCode, 202)
  t.equal(none.statusCode, 202)
  t.ok(await intake.queue.getJob(safeJobId('types', 'ty-1')))
  t.notOk(await intake.queue.getJob(safeJobId('types', 'ty-2')), 'an ignored type is not enqueued')
  t.notOk(await intake.queue.getJob(safeJobId('types', 'ty-3')), 'nor an event without a type')
  t.equal(intake.stats.ignored, 2)
  t.equal(intake.stats.accepted, 1)
  t.match(webhookLines()[1], { outcome: 'ignored', reason: 'type_not_accepted', type: 'customer.created', eventId: 'ty-2', status: 202 })

  const forged = await app.inject({ method: 'POST', url: '/v1/events', payload: '{"event_id":"x"}', headers: { 'content-type': 'application/json', 'x-event-type': 'customer.created' } })
  t.equal(forged.statusCode, 401, 'filtering happens after verification')
})

t.test('acceptTypes through webhookOptions<Events>(): the options as they are; a list is logged once at registration', async (t) => {
  const options = { provider, source: 'typed', acceptTypes: ['invoice.paid', 'invoice.voided'] as const }
  const typed = webhookOptions<'invoice.paid' | 'invoice.voided' | 'customer.created'>({ ...options, connection: redisUrl() })
  t.same(typed, { ...options, connection: redisUrl() })
  const { app, lines } = await buildApp(t, typed)
  t.match(lines.filter((l) => l.msg === 'webhook intake: only these event types are enqueued'), [{ level: 30, acceptTypes: ['invoice.paid', 'invoice.voided'], webhookSource: 'typed' }])
  const paid = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'wo-1' }, { type: 'invoice.paid' }) })
  t.equal(paid.statusCode, 202)
  t.equal(app.webhooks.get('typed:/v1/events')?.stats.accepted, 1)
})

t.test('acceptTypes as a predicate sees the type and the event; a predicate that throws gives 503', async (t) => {
  const seen: Array<[string, string]> = []
  const { app } = await buildApp(t, {
    provider,
    source: 'pred',
    acceptTypes: (type, event) => {
      seen.push([type, event.id])
      if (type === 'boom') throw new Error('predicate exploded')
      return (event.payload as { live?: boolean }).live === true
    }
  })
  const intake = app.webhooks.get('pred:/v1/events')!
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'p-1', live: true }, { type: 'a' }) })).statusCode, 202)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'p-2', live: false }, { type: 'a' }) })).statusCode, 202)
  const boom = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'p-3' }, { type: 'boom' }) })
  t.equal(boom.statusCode, 503)
  t.equal(boom.headers['retry-after'], '5')
  t.same(seen, [['a', 'p-1'], ['a', 'p-2'], ['boom', 'p-3']])
  t.equal(await intake.queue.count(), 1)
  t.match(intake.stats, { accepted: 1, ignored: 1, unavailable: 1 })
})

t.test('acceptTypes with an inline answer: the provider\'s answer is sent, nothing is enqueued', async (t) => {
  const slack = providers.slack({ secret: 'slack-secret' })
  const { app } = await buildApp(t, { provider: slack, source: 'slackops', acceptTypes: ['app_mention'] })
  const intake = app.webhooks.get('slackops:/v1/events')!
  const body = 'command=%2Fdeploy&text=now&trigger_id=trig-1&team_id=T1'
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: slack.sign(body, { contentType: 'application/x-www-form-urlencoded' }) })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '', 'Slack still gets its empty 200')
  t.equal(await intake.queue.count(), 0)
  t.equal(intake.stats.ignored, 1)
})

t.test('app.webhooks reads like a Map; two registrations naming one health route share it; the report covers both', async (t) => {
  const redis = testClient(t)
  const app = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const [qa, qb] = [uniqueName('reg-a'), uniqueName('reg-b')]
  t.teardown(async () => { await app.close(); await cleanQueue(redis, 'bull', qa); await cleanQueue(redis, 'bull', qb) })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName: qa, path: '/a', source: 'one', healthRoute: '/healthz' })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName: qb, path: '/b', name: 'second', healthRoute: '/healthz' })
  await app.ready()
  for (const name of app.webhooks.keys()) await untilReady(app, name)
  t.equal(app.webhooks.size, 2)
  t.same([...app.webhooks].map(([name, intake]) => [name, intake.queueName]), [['one:/a', qa], ['second', qb]])
  t.same([...app.webhooks.entries()].map(([name]) => name), ['one:/a', 'second'])
  t.same([...app.webhooks.values()].map((intake) => intake.source), ['one', 'hmac'])
  const names: string[] = []
  app.webhooks.forEach((intake, name, map) => { if (map === app.webhooks) names.push(`${name}=${intake.path}`) })
  t.same(names, ['one:/a=/a', 'second=/b'])
  const res = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.same(Object.keys(res.json().registrations), ['one:/a', 'second'])
})

t.test('a webhooks decoration that is not the registry fails register with a coded error', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.decorate('webhooks', { mine: true } as never)
  app.register(webhookPlugin, { provider, connection: redisUrl() })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'FST_WEBHOOK_DECORATOR_CONFLICT', message: /already decorated/ })
})
