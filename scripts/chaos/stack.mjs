// @ts-check
// One scenario's stack: a private redis-server (or a local three-node Redis
// Cluster, or a primary and a replica behind a proxy), one or more apps, N workers, optionally a poller reading a fake
// provider API, and the harness's own view of the queue, all in a temporary
// run directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { freePort } from '../redis-server.mjs'
import { chaosConnection } from './connection.mjs'
import { openLedger } from './ledger.mjs'
import { nodeChild, reapDir, startRedis } from './processes.mjs'
import { startProviderApi } from './provider-api.mjs'
import { startCluster } from './redis-cluster.mjs'
import { startReplicated } from './redis-replicated.mjs'

/** The hash tag every key of the cluster scenario's queue shares. */
export const CLUSTER_HASH_TAG = 'webhooks'

// 'paused' is BullMQ's pre-v5 paused list: out of its JobType, still counted.
const COUNTED = /** @type {import('bullmq').JobType[]} */ (['waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'completed'])
const DEAD_LETTER_STATES = /** @type {import('bullmq').JobType[]} */ (['waiting', 'completed', 'failed', 'delayed', 'active', 'paused', 'prioritized'])

/**
 * @param {import('./types.d.mts').Settings} o scenario settings (see run.mjs DEFAULTS; plus `apps`,
 *   `cluster`, `poller`, `redis` (extra startRedisServer options) and `app`
 *   (extra app settings) from the scenario)
 */
export async function startStack (o) {
  const dir = mkdtempSync(join(tmpdir(), 'fhw-chaos-'))
  // Removed by the reaper if the harness dies, unless asked to keep it.
  if (!o.keep) reapDir(dir)
  const ledgerFile = join(dir, 'ledger.sqlite')
  openLedger(ledgerFile).close()

  const cluster = o.cluster ? await startCluster({ appendonly: o.appendonly, hashTag: CLUSTER_HASH_TAG }) : undefined
  const redis = cluster ?? (o.replicated
    ? await startReplicated({ dir })
    : await startRedis({ appendonly: o.appendonly, ...o.redis }))
  const queueName = `chaos-${o.name}`
  const prefix = o.cluster ? `{${CLUSTER_HASH_TAG}}` : 'chaos'
  /** @type {import('./types.d.mts').CommonConfig} */
  const common = { redisUrl: redis.url, clusterNodes: cluster?.clusterNodes, queueName, prefix, logLevel: process.env.CHAOS_LOG_LEVEL ?? 'warn', source: 'chaos' }
  /** @type {number[]} */
  const ports = []
  for (let i = 0; i < (o.apps ?? 1); i++) ports.push(await freePort())
  const apps = ports.map((port, i) => nodeChild(ports.length === 1 ? 'app' : `app-${i}`, 'app.mjs', /** @satisfies {import('./types.d.mts').AppConfig} */ ({
    ...common,
    port,
    secret: o.secret,
    path: '/v1/events',
    ackTimeoutMs: o.ackTimeoutMs,
    requestTimeout: o.requestTimeout,
    connectionTimeout: o.connectionTimeout,
    keepAliveTimeout: o.keepAliveTimeout,
    ...o.app
  }), join(dir, ports.length === 1 ? 'app.log' : `app-${i}.log`)))

  const workers = Array.from({ length: o.workers }, (_, i) => nodeChild(`worker-${i}`, 'worker.mjs', /** @satisfies {import('./types.d.mts').WorkerConfig} */ ({
    ...common,
    mode: o.workerMode,
    ledgerFile,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    hydrateLatencyMs: o.hydrateLatencyMs,
    slowHydrateMs: o.slowHydrateMs,
    applyLatencyMs: o.applyLatencyMs,
    applyFailureRate: o.applyFailureRate
  }), join(dir, `worker-${i}.log`)))

  const api = o.poller ? await startProviderApi() : undefined
  const poller = api
    ? nodeChild('poller', 'poller.mjs', /** @satisfies {import('./types.d.mts').PollerConfig} */ ({
      ...common,
      apiUrl: api.url,
      every: /** @type {number} */ (o.pollEveryMs),
      pageSize: 200,
      maxPagesPerRun: 50,
      lockDuration: o.lockDuration,
      stalledInterval: o.stalledInterval,
      leaseMs: 3000,
      // A lagging cursor (no run reached the end for this long) is caught up at once.
      lagThresholdMs: 5000
    }), join(dir, 'poller.log'))
    : undefined

  // The harness's own connection waits out Redis kills, like a worker's.
  const connection = o.cluster ? /** @type {import('ioredis').Cluster} */ (chaosConnection(common)) : new Redis(redis.url, { maxRetriesPerRequest: null })
  connection.on('error', () => {})
  const queue = new Queue(queueName, { connection, prefix })
  queue.on('error', () => {})
  // Counted straight from BullMQ, not through the package's dead-letter API: the auditor does not trust the audited.
  const deadLetters = new Queue(`${queueName}-dlq`, { connection, prefix })
  deadLetters.on('error', () => {})

  try {
    await Promise.all(apps.map((a) => a.start()))
    // A scenario may start its workers later (a worker outage from the start).
    if (o.startWorkers !== false) await Promise.all(workers.map((w) => w.start()))
    await poller?.start()
  } catch (err) {
    await stop()
    throw err
  }

  async function stop () {
    await Promise.all([...apps.map((a) => a.stop()), ...workers.map((w) => w.stop()), poller?.stop()])
    await api?.close()
    await queue.close().catch(() => {})
    await deadLetters.close().catch(() => {})
    connection.disconnect()
    await redis.stop()
    if (!o.keep) {
      rmSync(dir, { recursive: true, force: true })
      reapDir(dir, true)
    }
  }

  let turn = 0
  return {
    dir,
    ledgerFile,
    redis,
    app: apps[0],
    apps,
    workers,
    poller,
    api,
    queue,
    deadLetterQueue: deadLetters,
    connection,
    common,
    /** Where the sender posts: the apps in turn, as a round-robin balancer would. */
    target: () => ({ host: '127.0.0.1', port: ports[turn++ % ports.length] }),
    ports,
    /**
     * `INFO` of the Redis (its first node on a cluster), parsed into fields.
     * @param {string} section
     * @returns {Promise<Record<string, string>>}
     */
    async redisInfo (section) {
      const text = await (o.cluster ? /** @type {import('ioredis').Cluster} */ (connection).nodes('master')[0] : connection).info(section)
      return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]))
    },
    /**
     * Jobs not yet finished, and jobs failed for good.
     * @returns {Promise<Record<string, number> & { pending: number }>}
     */
    async counts () {
      const c = await queue.getJobCounts(...COUNTED)
      return { ...c, pending: c.waiting + c.active + c.delayed + c.prioritized + c.paused }
    },
    async deadLetterCount () {
      const c = await deadLetters.getJobCounts()
      return Object.values(c).reduce((a, b) => a + b, 0)
    },
    /** The event ids of the dead letters, read from BullMQ's dead-letter queue itself. */
    async deadLetterEventIds () {
      const jobs = await deadLetters.getJobs(DEAD_LETTER_STATES)
      return jobs.filter(Boolean).map((j) => j.data?.event?.id)
    },
    stop
  }
}
