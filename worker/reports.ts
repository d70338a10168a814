/** What the worker reports about its attempts: the types of its events, stats and outcomes. */
import type { DeadLetter, DeadLetterError, DeadLetterStage } from '../dead-letters/dead-letter-record.js'
import type { ObjectVersion } from './options.js'

/** What a claim attempt found. */
export type ClaimDecision = 'claimed' | 'done' | 'replay' | 'busy'

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
  /** No handler (nor fallback, nor top-level `apply`) matches the event, and `unhandled` is `'skip'`: not applied, the job completes. */
  | 'unhandled'
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
  /** Where it failed, for `retry`, `claim-lost`, `rate-limited`, `object-busy`, `closed` and `dead-lettered` (`unhandled` for `unhandled`). */
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
  /** Events skipped because no handler matched them (`unhandled: 'skip'`). */
  unhandled: number
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
