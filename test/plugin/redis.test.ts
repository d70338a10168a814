import t, { type Test } from 'tap'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { WebhookPluginOptions } from '../../plugin/options.js'
import { safeJobId } from '../../core/job-id.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { privateRedis } from '../helpers/redis.js'
import { captureLogs, signed, untilReady, waitFor, type LogLine } from '../helpers/webhook.js'

// Redis faults against private servers: stopped, frozen, full, down at boot,
// not durable. The contract: 503 with Retry-After within ackTimeoutMs + 1 s,
// never a hang or a 500, and every acknowledged event is in the queue.
t.setTimeout(110_000)

const ACK_TIMEOUT_MS = 1000
const provider = providers.hmac({ secret: 'fault-secret' })

interface Harness {
  app: FastifyInstance
  lines: LogLine[]
  logText: () => string
  acked: string[]
  post: (id: string) => Promise<{ status: number, ms: number, retryAfter: unknown, code: unknown }>
  /** Posts fresh events until one is accepted. */
  until202: (label: string, timeoutMs?: number) => Promise<void>
  /** Asserts every acknowledged event is in the queue. */
  checkAcked: (t: Test) => Promise<void>
}

async function start (t: Test, options: Partial<WebhookPluginOptions> & Pick<WebhookPluginOptions, 'connection'>): Promise<Harness> {
  const { logger, lines, text } = captureLogs()
  const app: FastifyInstance = Fastify({ loggerInstance: logger as FastifyBaseLogger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  t.teardown(() => app.close())
  await app.register(webhookPlugin, { provider, source: 'faults', name: 'faults', ackTimeoutMs: ACK_TIMEOUT_MS, queueName: 'fault-events', ...options })
  await app.ready()
  const acked: string[] = []
  let n = 0
  async function post (id: string): Promise<{ status: number, ms: number, retryAfter: unknown, code: unknown }> {
    const started = Date.now()
    const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: id }) })
    if (res.statusCode === 202) acked.push(id)
    const json = res.headers['content-type']?.toString().includes('json') === true ? res.json() : {}
    return { status: res.statusCode, ms: Date.now() - started, retryAfter: res.headers['retry-after'], code: json.code }
  }
  return {
    app,
    lines,
    logText: text,
    acked,
    post,
    async until202 (label, timeoutMs = 15_000) {
      await waitFor(async () => (await post(`${label}-${n++}`)).status === 202, timeoutMs, `a 202 (${label})`)
    },
    async checkAcked (t) {
      const queue = app.webhooks.get('faults')!.queue
      const missing: string[] = []
      for (const id of acked) if (await queue.getJob(safeJobId('faults', id)) === undefined) missing.push(id)
      t.same(missing, [], `all ${acked.length} acknowledged events are in the queue`)
    }
  }
}

function assertUnavailable (t: Test, r: { status: number, ms: number, retryAfter: unknown, code: unknown }, what: string): void {
  t.equal(r.status, 503, `${what}: 503`)
  t.equal(r.code, 'FST_WEBHOOK_UNAVAILABLE', `${what}: coded`)
  t.equal(r.retryAfter, '5', `${what}: Retry-After`)
  t.ok(r.ms < ACK_TIMEOUT_MS + 1000, `${what}: answered in ${r.ms} ms`)
}

t.test('Redis stopped: 503 at once; 202 again once it is back, every acknowledged event kept', async (t) => {
  const server = await privateRedis(t)
  const h = await start(t, { connection: server.url })
  await untilReady(h.app, 'faults')
  for (const id of ['s1', 's2', 's3']) t.equal((await h.post(id)).status, 202)
  await server.kill()
  for (const id of ['down1', 'down2']) assertUnavailable(t, await h.post(id), `Redis killed (${id})`)
  t.ok(h.lines.some((l) => l.msg === 'webhook' && l.reason === 'redis_not_ready'), 'logged as redis_not_ready')
  await server.restart()
  await h.until202('back')
  await h.checkAcked(t)
  const checks = h.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('persistence verified'))
  t.equal(checks.length, 2, 'the persistence check ran at first connect and after the reconnect')
})

t.test('Redis frozen (SIGSTOP): 503 within ackTimeoutMs + 1 s, never a hang; 202 once thawed', async (t) => {
  const server = await privateRedis(t)
  const h = await start(t, { connection: server.url })
  await untilReady(h.app, 'faults')
  for (const id of ['f1', 'f2']) t.equal((await h.post(id)).status, 202)
  server.signal('SIGSTOP')
  t.teardown(() => server.signal('SIGCONT'))
  const frozen = await Promise.all(['frozen1', 'frozen2', 'frozen3'].map(async (id) => await h.post(id)))
  frozen.forEach((r, i) => assertUnavailable(t, r, `Redis frozen (${i})`))
  t.ok(h.lines.some((l) => l.msg === 'webhook' && l.reason === 'enqueue_timeout'), 'logged as enqueue_timeout')
  server.signal('SIGCONT')
  await h.until202('thawed')
  await h.checkAcked(t)
})

t.test('Redis at maxmemory with noeviction: 503 (OOM), then 202 once memory is freed', async (t) => {
  const server = await privateRedis(t, { maxmemory: '4mb' })
  const h = await start(t, { connection: server.url })
  await untilReady(h.app, 'faults')
  for (const id of ['m1', 'm2']) t.equal((await h.post(id)).status, 202)
  const filler = new Redis(server.url)
  t.teardown(() => filler.disconnect())
  const chunk = 'x'.repeat(64 * 1024)
  let i = 0
  let full = false
  while (!full && i < 500) {
    try { await filler.set(`filler:${i++}`, chunk) } catch (err) { full = /OOM/.test((err as Error).message) }
  }
  t.ok(full, `Redis refused writes after ${i} fillers`)
  // Freed query buffers can bring used memory back just under the limit: pin
  // the limit below what is used, so every write is refused.
  const used = Number(/used_memory:(\d+)/.exec(await filler.info('memory'))![1])
  await filler.config('SET', 'maxmemory', String(Math.floor(used / 2)))
  for (const id of ['oom1', 'oom2']) assertUnavailable(t, await h.post(id), `Redis full (${id})`)
  const line = h.lines.find((l) => l.msg === 'webhook' && l.status === 503)
  t.match(line, { reason: 'enqueue_failed', detail: /OOM/ }, 'logged with the OOM error')
  const keys = Array.from({ length: i }, (_, k) => `filler:${k}`)
  await filler.del(...keys)
  await filler.config('SET', 'maxmemory', '4mb')
  await h.until202('freed')
  await h.checkAcked(t)
})

t.test('boot with Redis down: register succeeds, 503 until Redis is ready, then 202', async (t) => {
  const port = await freePort()
  const started = Date.now()
  const h = await start(t, { connection: `redis://127.0.0.1:${port}`, persistenceCheck: 'off' })
  t.ok(Date.now() - started < 2000, 'the app boots without waiting for Redis')
  const first = await h.post('early')
  assertUnavailable(t, first, 'Redis not up yet')
  t.equal(h.app.webhooks.get('faults')!.ready, false)
  await waitFor(() => h.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('not reachable')), 5000, 'the outage warning')
  t.equal(h.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('not reachable')).length, 1, 'the outage is logged once')
  await privateRedis(t, { port })
  await h.until202('up')
  await h.checkAcked(t)
  t.notOk(h.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('persistence')), 'persistenceCheck off: no check')
})

t.test('requireRedisAtBoot: register fails while Redis is down, succeeds when it is up', async (t) => {
  const port = await freePort()
  const app = Fastify({ logger: false })
  const started = Date.now()
  app.register(webhookPlugin, { provider, connection: `redis://127.0.0.1:${port}`, requireRedisAtBoot: true, readyTimeoutMs: 500 })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT', message: /not ready within 500 ms/ })
  // Closing a client that is between reconnects takes closeClient's 2 s bound: ioredis emits no 'end' then.
  t.ok(Date.now() - started < 500 + 2000 + 1500, `fails soon after readyTimeoutMs (${Date.now() - started} ms)`)
  await app.close()

  const server = await privateRedis(t)
  const h = await start(t, { connection: server.url, requireRedisAtBoot: true })
  t.equal(h.app.webhooks.get('faults')!.ready, true, 'ready as soon as register resolves')
  t.equal((await h.post('required')).status, 202)
})

t.test('persistenceCheck: refuse fails register on a non-durable Redis; warn logs and accepts', async (t) => {
  const server = await privateRedis(t, { appendonly: false, maxmemoryPolicy: 'allkeys-lru' })
  const app = Fastify({ logger: false })
  app.register(webhookPlugin, { provider, connection: server.url, persistenceCheck: 'refuse' })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'WEBHOOK_PERSISTENCE', message: /appendonly is off.*maxmemory-policy is allkeys-lru/ })
  await app.close()

  const h = await start(t, { connection: server.url, persistenceCheck: 'warn' })
  await untilReady(h.app, 'faults')
  await waitFor(() => h.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('not durable')), 5000, 'the warning')
  const warning = h.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('not durable'))!
  t.equal(warning.level, 40, 'a warning')
  t.match(warning, { aof: false, maxmemoryPolicy: 'allkeys-lru', problems: [/appendonly/, /maxmemory-policy/] })
  t.equal((await h.post('warned')).status, 202, 'warn still accepts')
})

t.test('persistenceCheck refuse: a Redis that comes up later non-durable is refused with 503', async (t) => {
  const port = await freePort()
  const h = await start(t, { connection: `redis://127.0.0.1:${port}`, persistenceCheck: 'refuse', readyTimeoutMs: 1000 })
  await privateRedis(t, { port, appendonly: false })
  await waitFor(() => h.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('refusing webhooks')), 10_000, 'the refusal')
  const r = await h.post('refused')
  assertUnavailable(t, r, 'non-durable Redis under refuse')
  t.ok(h.lines.some((l) => l.msg === 'webhook' && l.reason === 'persistence_refused'))
})

t.test('a Redis that refuses INFO is logged as unverifiable and still used, even under refuse', async (t) => {
  const server = await privateRedis(t)
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())
  await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '&*', '+@all', '-info')
  const h = await start(t, {
    // ioredis' own ready check needs INFO too; a user on such a service turns it off.
    connection: { host: server.host, port: server.port, username: 'limited', password: 'limited-pw', enableReadyCheck: false },
    persistenceCheck: 'refuse'
  })
  await untilReady(h.app, 'faults')
  const line = h.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('unverifiable'))
  t.ok(line, 'logged as unverifiable')
  t.equal(line?.level, 40)
  t.notOk(h.logText().includes('limited-pw'), 'the password is not logged')
  t.equal((await h.post('no-info')).status, 202)
})
