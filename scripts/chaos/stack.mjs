// One scenario's stack: a private redis-server, the app, N workers and the
// harness's own view of the queue, all in a temporary run directory.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { freePort } from '../redis-server.mjs'
import { openLedger } from './ledger.mjs'
import { nodeChild, reapDir, startRedis } from './processes.mjs'

/**
 * @param {object} o scenario settings (see run.mjs DEFAULTS)
 */
export async function startStack (o) {
  const dir = mkdtempSync(join(tmpdir(), 'fhw-chaos-'))
  reapDir(dir)
  const ledgerFile = join(dir, 'ledger.sqlite')
  openLedger(ledgerFile).close()

  const redis = await startRedis({ appendonly: o.appendonly })
  const queueName = `chaos-${o.name}`
  const prefix = 'chaos'
  const common = { redisUrl: redis.url, queueName, prefix, logLevel: 'warn' }
  const port = await freePort()
  const app = nodeChild('app', 'app.mjs', {
    ...common,
    port,
    secret: o.secret,
    path: '/v1/events',
    source: 'chaos',
    ackTimeoutMs: o.ackTimeoutMs,
    requestTimeout: o.requestTimeout,
    connectionTimeout: o.connectionTimeout,
    keepAliveTimeout: o.keepAliveTimeout
  }, join(dir, 'app.log'))

  const workers = Array.from({ length: o.workers }, (_, i) => nodeChild(`worker-${i}`, 'worker.mjs', {
    ...common,
    mode: o.workerMode,
    ledgerFile,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    hydrateLatencyMs: o.hydrateLatencyMs,
    applyLatencyMs: o.applyLatencyMs,
    applyFailureRate: o.applyFailureRate
  }, join(dir, `worker-${i}.log`)))

  // The harness's own connection waits out Redis kills, like a worker's.
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null })
  connection.on('error', () => {})
  const queue = new Queue(queueName, { connection, prefix })
  queue.on('error', () => {})
  // Counted straight from BullMQ, not through the package's dead-letter API: the auditor does not trust the audited.
  const deadLetters = new Queue(`${queueName}-dlq`, { connection, prefix })
  deadLetters.on('error', () => {})

  try {
    await app.start()
    await Promise.all(workers.map((w) => w.start()))
  } catch (err) {
    await stop()
    throw err
  }

  async function stop () {
    await Promise.all([app.stop(), ...workers.map((w) => w.stop())])
    await queue.close().catch(() => {})
    await deadLetters.close().catch(() => {})
    connection.disconnect()
    await redis.stop()
    if (!o.keep) {
      rmSync(dir, { recursive: true, force: true })
      reapDir(dir, true)
    }
  }

  return {
    dir,
    ledgerFile,
    redis,
    app,
    workers,
    queue,
    target: () => ({ host: '127.0.0.1', port }),
    /** Jobs not yet finished, and jobs failed for good. */
    async counts () {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'failed', 'completed')
      return { ...c, pending: c.waiting + c.active + c.delayed + c.prioritized + c.paused }
    },
    async deadLetterCount () {
      const c = await deadLetters.getJobCounts()
      return Object.values(c).reduce((a, b) => a + b, 0)
    },
    stop
  }
}
