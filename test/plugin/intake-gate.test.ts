import t, { type Test } from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { createProducerClient, waitForReady, type ManagedClient, type RedisConnection } from '../../core/connection.js'
import { createIntakeGate, type GateOptions, type IntakeGate } from '../../plugin/intake-gate.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { privateRedis, redisUrl } from '../helpers/redis.js'
import { captureLogs, type LogLine } from '../helpers/webhook.js'
import { sleep, waitFor } from '../helpers/wait.js'

// The producer's gate on its own, over real Redis servers: it refuses an add
// until Redis is ready and the queue set up, and under `persistenceCheck:
// 'refuse'` until a check of the current connection found Redis durable; at
// boot it fails `register` only as the options say.
t.setTimeout(60_000)

const NOT_DURABLE_WARN = 'webhook intake: Redis is not durable; an acknowledged webhook can be lost'

interface Opened { managed: ManagedClient, gate: IntakeGate, lines: LogLine[] }

function open (t: Test, connection: RedisConnection, options: Partial<GateOptions> = {}): Opened {
  const { logger, lines } = captureLogs()
  const managed = createProducerClient(connection)
  const gate = createIntakeGate(managed.client, {
    queueName: 'gate-events', requireRedisAtBoot: false, readyTimeoutMs: 5000, persistenceCheck: 'warn', ...options
  }, logger as unknown as FastifyBaseLogger)
  t.teardown(async () => {
    gate.detach()
    await managed.close()
  })
  return { managed, gate, lines }
}

/** What the producer's queue setup is to the gate: done once the connection is ready. */
function setUp ({ managed, gate }: Opened): Promise<void> {
  return waitForReady(managed.client, 10_000).then(() => { gate.queueReady() })
}

t.test('refuses until Redis is ready and the queue set up, then accepts', async (t) => {
  const opened = open(t, redisUrl(), { persistenceCheck: 'off' })
  const { managed, gate } = opened
  t.equal(gate.refusal(), 'redis_not_ready', 'not connected yet')
  await waitForReady(managed.client, 10_000)
  t.equal(gate.refusal(), 'redis_not_ready', 'connected, but the queue is not set up')
  t.notOk(gate.open)
  gate.queueReady()
  t.equal(gate.refusal(), undefined)
  t.ok(gate.open)
  t.equal(gate.persistence, undefined, "'off' runs no check")
  await gate.boot(Promise.resolve(), async () => { t.fail('boot must not close') })
})

t.test('an unreachable Redis: refused, logged once, and the boot is not held up unless required', async (t) => {
  const url = `redis://127.0.0.1:${await freePort()}`
  const opened = open(t, url, { readyTimeoutMs: 5000 })
  const { gate, lines } = opened
  gate.queueReady()
  const started = Date.now()
  await gate.boot(new Promise(() => {}), async () => { t.fail('boot must not close') })
  t.ok(Date.now() - started < 2500, `a refused connection does not wait out readyTimeoutMs (${Date.now() - started} ms)`)
  t.equal(gate.refusal(), 'redis_not_ready')
  await sleep(500) // a few reconnect attempts
  const down = lines.filter((l) => l.msg === 'webhook intake: Redis is not reachable; answering 503 until it is')
  t.equal(down.length, 1, 'one warning for the outage, not one per attempt')
  t.match(down[0], { level: 40, queueName: 'gate-events', err: { code: 'ECONNREFUSED' } })

  const required = open(t, url, { requireRedisAtBoot: true, readyTimeoutMs: 300 })
  let closed = false
  const err = await required.gate.boot(new Promise(() => {}), async () => { closed = true }).then(() => undefined, (e: unknown) => e)
  t.match(err, {
    code: 'FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT',
    message: /^Redis was not ready within 300 ms \(requireRedisAtBoot is true; status: /
  })
  t.ok(closed, 'closed before failing the boot')
})

t.test("'refuse' on a durable Redis: refused at each connect until that connection's check passed", async (t) => {
  const server = await privateRedis(t)
  const opened = open(t, server.url, { persistenceCheck: 'refuse' })
  const { managed, gate, lines } = opened
  const atConnect: Array<string | undefined> = []
  // Registered after the gate's own listener: the check has just started.
  managed.client.on('ready', () => { atConnect.push(gate.refusal()) })
  // Set up from the start, so the check is the only thing refused on.
  gate.queueReady()
  await gate.boot(Promise.resolve(), async () => { t.fail('boot must not close') })
  t.equal(gate.refusal(), undefined, 'accepted once the check passed')
  t.match(gate.persistence, { ok: true, verifiable: true, aof: true, maxmemoryPolicy: 'noeviction' })
  t.same(atConnect, ['persistence_refused'])
  t.ok(lines.some((l) => l.msg === 'webhook intake: Redis persistence verified (appendonly yes, noeviction)'))

  managed.client.disconnect(true)
  await waitFor(() => atConnect.length === 2, 10_000, 'the reconnect')
  t.equal(atConnect[1], 'persistence_refused', 'the check of the old connection does not count')
  await waitFor(() => gate.refusal() === undefined, 10_000, 'the new check')
  t.ok(lines.some((l) => l.msg === 'webhook intake: lost the Redis connection; answering 503 until it is back'))
})

t.test("'refuse' on a Redis without AOF: the boot closes and fails, and adds stay refused", async (t) => {
  const server = await privateRedis(t, { appendonly: false })
  const opened = open(t, server.url, { persistenceCheck: 'refuse' })
  const { gate, lines } = opened
  let refusedAtClose: string | undefined
  const err = await gate.boot(setUp(opened), async () => { refusedAtClose = gate.refusal() ?? 'accepted' }).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'WEBHOOK_PERSISTENCE', message: /^Redis is not durable and persistenceCheck is 'refuse': .*appendonly/ })
  t.equal(refusedAtClose, 'persistence_refused', 'closed, while refusing')
  t.equal(gate.refusal(), 'persistence_refused')
  t.match(gate.persistence, { ok: false, verifiable: true, aof: false })
  t.ok(lines.some((l) => l.level === 50 && l.msg === 'webhook intake: Redis is not durable; refusing webhooks (503) until it is'))
})

t.test("'warn' on a Redis without AOF: accepts, and warns that an acknowledged webhook can be lost", async (t) => {
  const server = await privateRedis(t, { appendonly: false })
  const opened = open(t, server.url, { persistenceCheck: 'warn' })
  const { gate, lines } = opened
  await setUp(opened)
  t.equal(gate.refusal(), undefined, 'accepted before the check answered')
  await waitFor(() => gate.persistence, 10_000, 'the check')
  t.equal(gate.refusal(), undefined, 'and after it')
  t.match(gate.persistence, { ok: false, aof: false })
  t.ok(lines.some((l) => l.level === 40 && l.msg === NOT_DURABLE_WARN))
})

t.test("'refuse' on a Redis that refuses INFO: unverifiable, accepted with a warning", async (t) => {
  const server = await privateRedis(t, { args: ['--rename-command', 'INFO', ''] })
  // ioredis' own ready check uses INFO too: turn it off, as a client of such a Redis must.
  const opened = open(t, { host: server.host, port: server.port, enableReadyCheck: false }, { persistenceCheck: 'refuse' })
  const { gate, lines } = opened
  await gate.boot(setUp(opened), async () => { t.fail('boot must not close') })
  t.equal(gate.refusal(), undefined)
  t.match(gate.persistence, { ok: false, verifiable: false })
  t.ok(lines.some((l) => l.level === 40 && /persistence is unverifiable/.test(String(l.msg))))
})

t.test('detach: a later connect is no longer followed', async (t) => {
  const server = await privateRedis(t)
  const opened = open(t, server.url, { persistenceCheck: 'refuse' })
  const { managed, gate, lines } = opened
  await gate.boot(setUp(opened), async () => { t.fail('boot must not close') })
  const report = gate.persistence
  t.ok(report)
  gate.detach()
  managed.client.disconnect(true)
  await waitForReady(managed.client, 10_000)
  await sleep(200)
  t.equal(gate.persistence, report, 'no new check ran')
  t.equal(gate.refusal(), undefined, 'the close did not revoke the check')
  t.equal(lines.filter((l) => l.msg === 'webhook intake: Redis is ready').length, 1, 'one ready line, from before detaching')
})
