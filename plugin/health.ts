import { within } from '../core/connection.js'
import type { PersistenceReport } from '../core/persistence.js'
import type { QueueProbe, QueueStats } from '../core/queue-stats.js'
import type { EventProducer } from './enqueue.js'
import type { ResolvedPluginOptions } from './resolve-options.js'

/** `pass`: fine; `warn`: look at it, the route still accepts; `fail`: the route cannot accept events now. */
export type HealthStatus = 'pass' | 'warn' | 'fail'

/** One check of a health report. */
export interface HealthCheck {
  status: HealthStatus
  /** What was seen, in words, when the status is not `pass` (or the check was skipped). */
  message?: string
  /** The measured value: a latency, a count, an age in ms. */
  observed?: number | null
  /** The threshold the value was held against. */
  limit?: number
}

/** The health of one registration. */
export interface IntakeHealth {
  /** The worst status of its checks. */
  status: HealthStatus
  name: string
  queueName: string
  checks: {
    /** A `PING` on the plugin's connection (fails when Redis is unreachable). */
    redis: HealthCheck
    /** The last `appendonly`/`maxmemory-policy` check; fails only under `persistenceCheck: 'refuse'`. */
    persistence: HealthCheck
    /** Waiting plus delayed jobs against `healthMaxBacklog` (warn) and `maxBacklog` (fail: events are being shed). */
    backlog: HealthCheck
    /** The age of the job a worker takes next against `healthMaxAgeMs` (warn). */
    oldestWaiting: HealthCheck
  }
  /** The queue's stats, when Redis could be read. */
  queue?: QueueStats
}

const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 }

/** The worst of some statuses. */
export function worst (statuses: Iterable<HealthStatus>): HealthStatus {
  let result: HealthStatus = 'pass'
  for (const status of statuses) if (RANK[status] > RANK[result]) result = status
  return result
}

/**
 * Builds the health check of one registration. Its Redis reads run at once
 * under one deadline, `ackTimeoutMs`, and concurrent calls share one check,
 * so a frozen Redis costs each caller at most that long, however many probe it.
 */
export function createHealthCheck (options: ResolvedPluginOptions, producer: EventProducer, probe: QueueProbe): () => Promise<IntakeHealth> {
  let running: Promise<IntakeHealth> | undefined
  return async function checkIntakeHealth () {
    running ??= check().finally(() => { running = undefined })
    return await running
  }

  async function check (): Promise<IntakeHealth> {
    const { redis, stats } = await readRedis()
    const checks = {
      redis,
      persistence: persistenceCheck(producer.persistence),
      backlog: backlogCheck(stats),
      oldestWaiting: ageCheck(stats)
    }
    const health: IntakeHealth = { status: worst(Object.values(checks).map((c) => c.status)), name: options.name, queueName: options.queueName, checks }
    if (stats !== undefined) health.queue = stats
    return health
  }

  // A read still running at the deadline counts as failed: PING as
  // unreachable, the stats as unknown.
  async function readRedis (): Promise<{ redis: HealthCheck, stats: QueueStats | undefined }> {
    const started = Date.now()
    let redis: HealthCheck = { status: 'fail', message: `Redis is not reachable: PING took longer than ${options.ackTimeoutMs} ms` }
    let stats: QueueStats | undefined
    const ping = producer.client.ping().then(() => {
      redis = { status: 'pass', observed: Date.now() - started }
    }, (err: unknown) => {
      redis = { status: 'fail', message: `Redis is not reachable: ${(err as Error).message}` }
    })
    const read = probe.stats().then((value) => { stats = value }, () => {})
    await within(Promise.all([ping, read]), options.ackTimeoutMs)
    return { redis, stats }
  }

  function persistenceCheck (report: PersistenceReport | undefined): HealthCheck {
    if (options.persistenceCheck === 'off') return { status: 'pass', message: 'not checked (persistenceCheck: off)' }
    if (report === undefined) return { status: 'warn', message: 'not checked yet: Redis has not been ready' }
    if (report.ok) return { status: 'pass' }
    const message = report.problems.join('; ')
    if (!report.verifiable) return { status: 'warn', message }
    return { status: options.persistenceCheck === 'refuse' ? 'fail' : 'warn', message }
  }

  function backlogCheck (stats: QueueStats | undefined): HealthCheck {
    if (stats === undefined) return { status: 'warn', message: 'unknown: the queue could not be read' }
    const backlog = stats.waiting + stats.delayed
    if (options.maxBacklog !== false && backlog > options.maxBacklog) {
      return { status: 'fail', observed: backlog, limit: options.maxBacklog, message: `${backlog} waiting and delayed jobs: over maxBacklog, events are refused` }
    }
    if (backlog > options.healthMaxBacklog) {
      return { status: 'warn', observed: backlog, limit: options.healthMaxBacklog, message: `${backlog} waiting and delayed jobs: are the workers keeping up?` }
    }
    return { status: 'pass', observed: backlog, limit: options.healthMaxBacklog }
  }

  function ageCheck (stats: QueueStats | undefined): HealthCheck {
    if (stats === undefined) return { status: 'warn', message: 'unknown: the queue could not be read' }
    const age = stats.oldestWaitingAgeMs
    if (age !== null && age > options.healthMaxAgeMs) {
      return { status: 'warn', observed: age, limit: options.healthMaxAgeMs, message: `the next job was added ${Math.round(age / 1000)} s ago: are the workers running?` }
    }
    return { status: 'pass', observed: age, limit: options.healthMaxAgeMs }
  }
}
