import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { DeadLetter } from '../dead-letters/dead-letter-record.js'
import type { AttemptOutcome, AttemptReport, DeadLetterAlert, StaleInfo, WorkerStats, WebhookWorkerEvents } from './reports.js'
import type { WorkerMetrics } from './worker-metrics.js'

export type { AttemptOutcome, AttemptReport, DeadLetterAlert, StaleInfo, WorkerStats, WebhookWorkerEvents }

const OUTCOME_COUNTER: Partial<Record<AttemptOutcome, keyof WorkerStats>> = {
  applied: 'applied',
  duplicate: 'duplicates',
  replay: 'replays',
  busy: 'busy',
  'claim-lost': 'claimLost',
  retry: 'retries',
  stale: 'stale',
  unchanged: 'unchanged',
  'rate-limited': 'rateLimited',
  'object-busy': 'objectBusy',
  unhandled: 'unhandled'
}

// The (source, type) pairs already warned about, at most this many: types come from verified events, but a source may have many.
const MAX_UNHANDLED_WARNINGS = 1000

/**
 * The one place counts, durations and outcomes pass through: it logs them,
 * keeps the totals, and emits them on the handle (metrics subscribe there).
 */
export class Reporter {
  readonly stats: WorkerStats = {
    applied: 0,
    duplicates: 0,
    replays: 0,
    busy: 0,
    claimLost: 0,
    retries: 0,
    deadLettered: 0,
    stalled: 0,
    commitRefused: 0,
    stale: 0,
    unchanged: 0,
    rateLimited: 0,
    objectBusy: 0,
    hydrateCalls: 0,
    coalesced: 0,
    cacheHits: 0,
    hydrationPauses: 0,
    unhandled: 0
  }

  /** Set once the worker's metrics are open (the `metrics` option). */
  metrics: WorkerMetrics | undefined
  readonly #log: Logger
  readonly #emitter: EventEmitter<WebhookWorkerEvents>
  readonly #warnedUnhandled = new Set<string>()

  constructor (log: Logger, emitter: EventEmitter<WebhookWorkerEvents>) {
    this.#log = log
    this.#emitter = emitter
  }

  attempt (report: AttemptReport): void {
    const counter = OUTCOME_COUNTER[report.outcome]
    if (counter !== undefined) this.stats[counter]++
    if (report.outcome === 'retry') this.#log.warn(report, 'webhook attempt failed')
    else this.#log.debug(report, 'webhook attempt')
    this.metrics?.attempt(report)
    this.#emitter.emit('attempt', report)
  }

  deadLetter (letter: DeadLetter): void {
    this.stats.deadLettered++
    const event = letter.event as { id?: unknown, source?: unknown } | null
    this.#log.error({
      deadLetterId: letter.id,
      jobId: letter.jobId,
      eventId: event?.id,
      source: event?.source,
      stage: letter.stage,
      attemptsMade: letter.attemptsMade,
      error: { name: letter.error.name, message: letter.error.message, code: letter.error.code, status: letter.error.status }
    }, 'webhook dead-lettered')
    this.metrics?.deadLetter(letter)
    this.#emitter.emit('deadLetter', letter)
  }

  alert (alert: DeadLetterAlert): void {
    this.#log.error(alert, 'dead-letter queue reached its alert threshold')
    this.#emitter.emit('deadLetterAlert', alert)
  }

  stalled (jobId: string): void {
    this.stats.stalled++
    this.#log.warn({ jobId }, 'job stalled: its lock expired and it was moved back to wait')
    this.#emitter.emit('stalled', { jobId })
  }

  commitRefused (info: { jobId: string, eventId: string }): void {
    this.stats.commitRefused++
    this.#log.warn(info, 'commit refused: the claim was lost to another worker')
  }

  /** A state not applied because of its version (counted by its attempt's outcome). */
  skipped (info: StaleInfo): void {
    const line = { ...info, version: String(info.version), lastAppliedVersion: String(info.lastAppliedVersion) }
    if (info.deletedAt !== undefined) this.#log.info(line, 'stale state skipped: its object was deleted after it may have been fetched')
    else if (info.decision === 'stale') this.#log.info(line, 'stale state skipped: older than the last applied version of its object')
    else this.#log.debug(line, 'state skipped: same version as the last applied one')
    this.#emitter.emit('stale', info)
  }

  /** An event skipped for want of a handler (counted by its attempt's outcome): warned once per source and type. */
  unhandled (source: string, type: string): void {
    const key = JSON.stringify([source, type])
    if (this.#warnedUnhandled.has(key) || this.#warnedUnhandled.size >= MAX_UNHANDLED_WARNINGS) return
    this.#warnedUnhandled.add(key)
    this.#log.warn({ source, type }, 'no handler for this event type: its events are skipped (logged once per source and type)')
  }

  hydrateCalled (): void {
    this.stats.hydrateCalls++
  }

  /** A hydrate call saved: an event shared a call in flight, or took a cached state. */
  hydrateShared (how: 'coalesced' | 'cache'): void {
    if (how === 'cache') this.stats.cacheHits++
    else this.stats.coalesced++
    this.metrics?.hydrateShared(how)
  }

  hydrationPaused (pauseMs: number, err: Error): void {
    this.stats.hydrationPauses++
    const error = { name: err.name, message: err.message }
    this.#log.warn({ pauseMs, error }, 'hydrate was rate limited: hydration paused for the queue')
    this.#emitter.emit('hydrationPaused', { pauseMs, error })
  }

  /** For internal trouble that is not an attempt's (sweeps, heartbeats, connection errors). */
  problem (err: unknown, msg: string): void {
    this.#log.warn({ err }, msg)
  }
}
