import type { Logger } from 'pino'
import type { RedisClient } from '../core/connection.js'
import type { DeadLetter } from '../dead-letters/dead-letter-record.js'
import { counter, histogram, METRIC_PREFIX, openMetrics, seconds, workerMissingDependency, type Metrics, type MetricsOption } from '../core/prom.js'
import { probeSource, trackQueueGauges } from '../core/queue-gauges.js'
import { QueueProbe } from '../core/queue-stats.js'
import type { AttemptOutcome, AttemptReport } from './reports.js'

/** Where the reporter sends what it counts, when metrics are on. */
export interface WorkerMetrics {
  attempt: (report: AttemptReport) => void
  deadLetter: (letter: DeadLetter) => void
  hydrateShared: (how: 'coalesced' | 'cache') => void
  /** Leaves the queue gauges (the counters stay: they are the process's totals). */
  close: () => Promise<void>
}

/** What the worker's metrics need to know. */
export interface WorkerMetricsOptions {
  metrics: MetricsOption
  queueMetrics: boolean
  queueName: string
  prefix: string
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
// Attempts that end the event without applying it, by the result label they count under.
const FINISHED: Partial<Record<AttemptOutcome, string>> = { applied: 'applied', duplicate: 'duplicate', replay: 'replay', stale: 'stale', unchanged: 'unchanged', unhandled: 'unhandled' }
// Attempts that end without a result for the event: it waits, or another worker has it.
const POSTPONED: Partial<Record<AttemptOutcome, string>> = { busy: 'busy', 'object-busy': 'object_busy', 'rate-limited': 'rate_limited', 'claim-lost': 'claim_lost', closed: 'closed' }

/**
 * Opens the worker's metrics, or `undefined` when `metrics` is off. Rejects
 * with `WEBHOOK_MISSING_DEPENDENCY` when prom-client is not installed.
 */
export async function openWorkerMetrics (o: WorkerMetricsOptions, client: RedisClient, log: Logger): Promise<WorkerMetrics | undefined> {
  const m = await openMetrics(o.metrics, workerMissingDependency)
  if (m === undefined) return undefined
  const w = workerMetrics(m)
  const queue = o.queueName
  let probe: QueueProbe | undefined
  let untrack = (): void => {}
  if (o.queueMetrics) {
    probe = new QueueProbe(client, { queueName: o.queueName, prefix: o.prefix })
    untrack = trackQueueGauges(m, probeSource(probe, (err) => { log.debug({ err }, 'worker metrics: could not read the queue gauges') }))
  }

  return {
    attempt (report) {
      const source = report.source ?? ''
      if (report.hydrateMs !== undefined) w.hydrate.observe({ queue, source }, seconds(report.hydrateMs))
      if (report.applyMs !== undefined) w.apply.observe({ queue, source }, seconds(report.applyMs))
      const finished = FINISHED[report.outcome]
      if (finished !== undefined) w.events.inc({ queue, source, result: finished })
      const postponed = POSTPONED[report.outcome]
      if (postponed !== undefined) w.postponed.inc({ queue, source, reason: postponed })
      if (report.outcome === 'retry') w.retries.inc({ queue, source, stage: report.stage ?? 'internal' })
      if (report.outcome === 'unhandled') w.unhandled.inc({ queue, source, type: report.type ?? '' })
    },
    deadLetter (letter) {
      const source = (letter.event as { source?: unknown } | null)?.source
      w.deadLettered.inc({ queue, source: typeof source === 'string' ? source : '', stage: letter.stage })
    },
    hydrateShared (how) {
      w.saved.inc({ queue, reason: how })
    },
    async close () {
      untrack()
      await probe?.close()
    }
  }
}

function workerMetrics (m: Metrics): {
  events: ReturnType<typeof counter<'queue' | 'source' | 'result'>>
  retries: ReturnType<typeof counter<'queue' | 'source' | 'stage'>>
  deadLettered: ReturnType<typeof counter<'queue' | 'source' | 'stage'>>
  postponed: ReturnType<typeof counter<'queue' | 'source' | 'reason'>>
  saved: ReturnType<typeof counter<'queue' | 'reason'>>
  unhandled: ReturnType<typeof counter<'queue' | 'source' | 'type'>>
  hydrate: ReturnType<typeof histogram<'queue' | 'source'>>
  apply: ReturnType<typeof histogram<'queue' | 'source'>>
} {
  const p = METRIC_PREFIX
  return {
    events: counter(m, `${p}worker_events_total`, 'Events finished: applied, or skipped as a duplicate, a replay, stale, unchanged or unhandled.', ['queue', 'source', 'result']),
    retries: counter(m, `${p}worker_retries_total`, 'Failed attempts that will be retried, by stage.', ['queue', 'source', 'stage']),
    deadLettered: counter(m, `${p}worker_dead_lettered_total`, 'Events dead-lettered, by stage.', ['queue', 'source', 'stage']),
    postponed: counter(m, `${p}worker_postponed_total`, 'Attempts that ended without a result: busy (another worker has the event), object_busy, rate_limited, claim_lost, closed.', ['queue', 'source', 'reason']),
    unhandled: counter(m, `${p}worker_unhandled_total`, 'Events skipped because no handler matched them, by source and type.', ['queue', 'source', 'type']),
    saved: counter(m, `${p}worker_hydrate_calls_saved_total`, 'Hydrate calls not made: coalesced with one in flight, or served by the cache.', ['queue', 'reason']),
    hydrate: histogram(m, `${p}worker_hydrate_seconds`, 'Time in hydrate.', ['queue', 'source'], SECONDS_BUCKETS),
    apply: histogram(m, `${p}worker_apply_seconds`, 'Time in apply.', ['queue', 'source'], SECONDS_BUCKETS)
  }
}
