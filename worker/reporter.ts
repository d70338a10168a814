import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ClaimDecision } from './claim.js'
import type { DeadLetter, DeadLetterError, DeadLetterStage } from './dead-letter-record.js'
import type { ObjectVersion } from './options.js'
import type { WorkerMetrics } from './worker-metrics.js'

/** How an attempt ended. */
export type AttemptOutcome =
  | 'applied'
  /** The event id was already applied within the dedupe TTL. */
  | 'duplicate'
  /** Another event with the same replayKey (same signed bytes, another id) was already applied. */
  | 'replay'
  /** Another worker holds the claim: the job waits, without spending an attempt. */
  | 'busy'
  /** The claim was lost (a stall let another worker take over): apply not started, or its commit refused. */
  | 'claim-lost'
  /** Hydration is paused (a 429) or over `rateLimit`: the job waits `retryInMs`, without spending an attempt. */
  | 'rate-limited'
  /** Another job is applying the same object: the job waits `retryInMs`, without spending an attempt. */
  | 'object-busy'
  /** The hydrated state is older than the last committed version of its object: not applied, the event is done. */
  | 'stale'
  /** The hydrated state has the last committed version and `skipEqualVersion` is set: not applied, the event is done. */
  | 'unchanged'
  /** Failed; retried after `retryInMs`. */
  | 'retry'
  /** A forced `close` aborted the attempt: the job went back to wait, without spending an attempt. */
  | 'closed'
  | 'dead-lettered'

/** One line per attempt: what the `attempt` event carries and the debug log says. */
export interface AttemptReport {
  jobId: string
  eventId?: string
  source?: string
  type?: string
  origin?: string
  attempt: number
  /** The claim decision; `'none'` when the job was dead-lettered before claiming (decode). */
  claim: ClaimDecision | 'none'
  hydrateMs?: number
  applyMs?: number
  /** The whole attempt, claim to commit. */
  durationMs: number
  outcome: AttemptOutcome
  /** Where it failed, for `retry`, `claim-lost`, `rate-limited`, `object-busy`, `closed` and `dead-lettered`. */
  stage?: DeadLetterStage
  error?: DeadLetterError
  retryInMs?: number
}

/** The payload of `deadLetterAlert`. */
export interface DeadLetterAlert {
  queueName: string
  /** Dead letters not replayed yet. */
  count: number
  threshold: number
}

/**
 * The payload of `stale`: a state skipped because its object already has a
 * newer (or, with `skipEqualVersion`, the same) version, or was deleted after
 * the state may have been fetched.
 */
export interface StaleInfo {
  jobId: string
  eventId: string
  objectKey: string
  decision: 'stale' | 'unchanged'
  /** The version of the state that was skipped. */
  version: ObjectVersion
  /** The last committed version of the object (after a deletion, the one before it; `undefined` if none). */
  lastAppliedVersion: ObjectVersion | undefined
  /** When the object was deleted (ms, Redis's clock), if the state was skipped for a deletion. */
  deletedAt?: number
}

/** Running totals of this worker, since it started. */
export interface WorkerStats {
  applied: number
  duplicates: number
  replays: number
  busy: number
  claimLost: number
  retries: number
  deadLettered: number
  stalled: number
  commitRefused: number
  /** States skipped as older than their object's last committed version. */
  stale: number
  /** States skipped as equal to it (`skipEqualVersion`). */
  unchanged: number
  /** Jobs given back because hydration was paused or over `rateLimit`. */
  rateLimited: number
  /** Jobs given back because another job was applying the same object. */
  objectBusy: number
  /** Calls of the user's `hydrate`. */
  hydrateCalls: number
  /** Hydrate calls saved by sharing a call in flight. */
  coalesced: number
  /** Hydrate calls saved by the cache. */
  cacheHits: number
  /** Pauses of the queue's hydration set by a rate-limit answer seen here. */
  hydrationPauses: number
}

/** The events of a worker handle. */
export interface WebhookWorkerEvents {
  /** After every attempt. The hook for metrics. */
  attempt: [report: AttemptReport]
  /** After a dead letter was written. */
  deadLetter: [letter: DeadLetter]
  /** When pending dead letters reach the threshold (again after falling below half of it). */
  deadLetterAlert: [alert: DeadLetterAlert]
  /** When this worker's stall check moved a job back to wait. */
  stalled: [info: { jobId: string }]
  /** When a hydrated state was skipped as stale (or unchanged); also an `attempt` with that outcome. */
  stale: [info: StaleInfo]
  /** When a rate-limit answer from `hydrate` paused hydration for the queue. */
  hydrationPaused: [info: { pauseMs: number, error: { name: string, message: string } }]
  /** Only for a failure to start (e.g. `WEBHOOK_WORKER_LOCK_MISMATCH`). */
  error: [err: Error]
}

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
  'object-busy': 'objectBusy'
}

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
    hydrationPauses: 0
  }

  /** Set once the worker's metrics are open (the `metrics` option). */
  metrics: WorkerMetrics | undefined
  readonly #log: Logger
  readonly #emitter: EventEmitter<WebhookWorkerEvents>

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
