import t, { type Test } from 'tap'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { webhookPlugin } from '../../plugin/plugin.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import { providers } from '../../providers/index.js'
import { safeJobId } from '../../core/job-id.js'
import { privateRedis, type RedisServer } from '../helpers/redis.js'
import { captureLogs, signed, untilReady, waitFor, type LogLine } from '../helpers/webhook.js'

// Replicated acknowledgements (`waitReplicas`) against a real primary and a
// real replica (`--replicaof`): a 202 only once the replica has the job, a 503
// within ackTimeoutMs + 1 s when it does not confirm, and the retry of the
// same delivery accepted once it does.
t.setTimeout(60_000)

const ACK_TIMEOUT_MS = 800
const provider = providers.hmac({ secret: 'replica-secret' })
const QUEUE = 'replica-events'

interface Pair { primary: RedisServer, replica: RedisServer, onReplica: Redis }

async function pair (t: Test): Promise<Pair> {
  const primary = await privateRedis(t)
  const replica = await privateRedis(t, { args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  const onReplica = new Redis(replica.url, { maxRetriesPerRequest: null })
  t.teardown(() => { onReplica.disconnect() })
  await waitFor(async () => /master_link_status:up/.test(await onReplica.info('replication')), 10_000, 'the replica to sync')
  return { primary, replica, onReplica }
}

async function app (t: Test, url: string, waitReplicas?: number): Promise<{ app: FastifyInstance, lines: LogLine[] }> {
  const { logger, lines } = captureLogs()
  const app: FastifyInstance = Fastify({ loggerInstance: logger as FastifyBaseLogger, connectionTimeout: 30_000, requestTimeout: 15_000 })
  t.teardown(() => app.close())
  await app.register(webhookPlugin, {
    provider, connection: url, source: 'rep', name: 'rep', queueName: QUEUE, ackTimeoutMs: ACK_TIMEOUT_MS, ...(waitReplicas === undefined ? {} : { waitReplicas })
  })
  await app.ready()
  await untilReady(app, 'rep')
  return { app, lines }
}

async function post (app: FastifyInstance, id: string): Promise<{ status: number, ms: number, retryAfter: unknown }> {
  const started = Date.now()
  const res = await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: id }) })
  return { status: res.statusCode, ms: Date.now() - started, retryAfter: res.headers['retry-after'] }
}

const jobKey = (id: string): string => `bull:${QUEUE}:${safeJobId('rep', id)}`

t.test('waitReplicas: 1 acknowledges once the replica has the job', async (t) => {
  const { primary, onReplica } = await pair(t)
  const { app: a } = await app(t, primary.url, 1)
  for (const id of ['r-1', 'r-2', 'r-3']) {
    const res = await post(a, id)
    t.equal(res.status, 202, `${id} accepted`)
    t.equal(await onReplica.exists(jobKey(id)), 1, `${id} is on the replica when the 202 is sent`)
  }
})

t.test('a frozen replica: 503 within ackTimeoutMs + 1 s, then the same delivery is accepted once it confirms', async (t) => {
  const { primary, replica, onReplica } = await pair(t)
  const { app: a, lines } = await app(t, primary.url, 1)
  replica.signal('SIGSTOP')
  t.teardown(() => replica.signal('SIGCONT'))
  const frozen = await post(a, 'f-1')
  t.equal(frozen.status, 503, 'not acknowledged while the replica cannot confirm')
  t.ok(frozen.ms < ACK_TIMEOUT_MS + 1000, `answered in ${frozen.ms} ms`)
  t.equal(frozen.retryAfter, '5', 'with Retry-After')
  const line = lines.find((l) => l.msg === 'webhook' && l.eventId === 'f-1')
  t.match(line, { outcome: 'unavailable', reason: 'not_replicated', detail: /0 of 1 replicas/ }, 'logged as not_replicated')
  replica.signal('SIGCONT')
  await waitFor(async () => /master_link_status:up/.test(await onReplica.info('replication')), 10_000, 'the replica to catch up')
  const retried = await post(a, 'f-1')
  t.equal(retried.status, 202, 'the sender\'s retry is accepted')
  t.equal(await onReplica.exists(jobKey('f-1')), 1, 'and the job is on the replica')
})

t.test('more replicas asked for than exist: 503, never a 202', async (t) => {
  const { primary } = await pair(t)
  const { app: a, lines } = await app(t, primary.url, 2)
  const res = await post(a, 'two-1')
  t.equal(res.status, 503)
  t.ok(res.ms < ACK_TIMEOUT_MS + 1000, `answered in ${res.ms} ms`)
  t.match(lines.find((l) => l.msg === 'webhook' && l.eventId === 'two-1'), { reason: 'not_replicated', detail: /1 of 2 replicas/ })
})

t.test('without waitReplicas a frozen replica does not hold up the 202 (the default)', async (t) => {
  const { primary, replica } = await pair(t)
  const { app: a } = await app(t, primary.url)
  replica.signal('SIGSTOP')
  t.teardown(() => replica.signal('SIGCONT'))
  t.equal((await post(a, 'd-1')).status, 202)
})

t.test('waitReplicas validation', async (t) => {
  const base = { provider, connection: 'redis://127.0.0.1:1' }
  t.equal(validatePluginOptions(base).waitReplicas, 0, 'defaults to 0')
  for (const bad of [-1, 1.5, 101, '1', null]) {
    t.throws(() => validatePluginOptions({ ...base, waitReplicas: bad }), { code: 'WEBHOOK_INVALID_OPTION', message: /`waitReplicas`/ }, `refuses ${String(bad)}`)
  }
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
  t.teardown(() => { cluster.disconnect() })
  t.throws(() => validatePluginOptions({ ...base, connection: cluster, waitReplicas: 1 }), { code: 'WEBHOOK_INVALID_OPTION', message: /Cluster/ }, 'refused on a Cluster connection')
  t.equal(validatePluginOptions({ ...base, connection: cluster }).waitReplicas, 0, 'a Cluster connection without waitReplicas is fine')
})
