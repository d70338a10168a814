import { isOwnCode } from '../core/errors.js'
import type { WebhookEvent } from '../core/event.js'

/** Where an event failed for good; `unhandled`: no handler matched it, under `unhandled: 'dead-letter'`. */
export type DeadLetterStage = 'hydrate' | 'apply' | 'stalled' | 'decode' | 'unhandled' | 'internal'

/** How many failures a dead letter keeps in its `history` (its `failures` counts them all). */
export const MAX_FAILURE_HISTORY = 20

/** The stages, in the order they run. */
export const DEAD_LETTER_STAGES: readonly DeadLetterStage[] = ['decode', 'unhandled', 'hydrate', 'apply', 'stalled', 'internal']

/** The error of a dead letter, without its stack unless `deadLetters.includeStack` is on. */
export interface DeadLetterError {
  name: string
  message: string
  /** The error's `code`, when it has one. */
  code?: string
  /** An HTTP status from `status`, `statusCode` or `response.status`, when the error has one. */
  status?: number
  stack?: string
}

/** One final failure of an event: the last attempt of one of its jobs. */
export interface DeadLetterFailure {
  /** Milliseconds since epoch. */
  deadAt: number
  stage: DeadLetterStage
  /** Attempts used by that job, the last one included. */
  attemptsMade: number
  /** Its error, without the stack. */
  error: DeadLetterError
}

/**
 * A dead letter: an event that could not be applied, and why. There is one per
 * event: a later failure of the event updates it (and makes it pending again
 * when it was replayed). `stage`, `error`, `attemptsMade`, `firstAttemptAt` and
 * `deadAt` describe its last failure.
 */
export interface DeadLetter<P = unknown> {
  /** The dead letter's id in the dead-letter queue: the event's job id (the job id and a failure time for letters written before letters were kept per event). */
  id: string
  /** The event as it was queued. For stage `decode`, the raw job data, which may not have this shape. */
  event: WebhookEvent<P>
  stage: DeadLetterStage
  error: DeadLetterError
  /** Attempts used, the last one included. */
  attemptsMade: number
  /** Milliseconds since epoch. */
  firstAttemptAt: number
  /** Milliseconds since epoch. */
  deadAt: number
  /** The BullMQ job id of the failed job. */
  jobId: string
  /** When it was replayed, if it has not failed again since. */
  replayedAt?: number
  /** How many times the event failed for good. */
  failures: number
  /** Its last failures, oldest first (at most {@link MAX_FAILURE_HISTORY}). */
  history: DeadLetterFailure[]
  /** When the event first failed for good (ms since epoch). */
  firstDeadAt: number
}

/** Selects dead letters. Every field narrows; none selects all. */
export interface DeadLetterFilter {
  stage?: DeadLetterStage | DeadLetterStage[]
  source?: string
  type?: string
  eventId?: string
  /** `false`: only those not replayed yet; `true`: only replayed ones. */
  replayed?: boolean
  /** Dead at or after this time (ms since epoch). */
  deadAfter?: number
  /** Dead before this time (ms since epoch). */
  deadBefore?: number
}

/** A page of a listing by offset. */
export interface DeadLetterPage {
  /**
   * Letters to skip.
   * @deprecated Offsets shift while letters are written, replayed and purged: page with `page()` and its `next` cursor instead.
   * @defaultValue `0`
   */
  offset?: number
  /** At most 1000. @defaultValue `100` */
  limit?: number
}

/** Where a page of `page()` starts, and its size. */
export interface DeadLetterCursor {
  /** The `next` of the previous page; none for the first page. */
  after?: string
  /** At most 1000. @defaultValue `100` */
  limit?: number
}

/** A page of `page()`. */
export interface DeadLetterCursorPage {
  letters: DeadLetter[]
  /** The cursor of the next page, when this one is full (the next may then be empty); absent otherwise. */
  next?: string
}

/** What `replay` did with one dead letter. */
export interface ReplayResult {
  id: string
  /**
   * `replayed`: this call queued the event. `not-queued`: a job of the event is
   * still in the event queue (see `jobState`), so nothing was queued and the
   * letter stays pending; replay it again once that job is done (if it fails,
   * its failure updates this letter). `already-replayed`, `not-found`: nothing queued.
   */
  status: 'replayed' | 'not-queued' | 'already-replayed' | 'not-found'
  /** The event's job id, when replayed or not queued. */
  jobId?: string
  /** For `not-queued`: the state of the job already in the event queue (`waiting`, `active`, `delayed`, `failed`, …). */
  jobState?: string
}

// BullMQ's own reason for a job that stalled more than maxStalledCount times.
const STALLED_REASON = /stalled more than allowable limit/
const STAGE_PREFIX = /^\[(hydrate|apply|decode|unhandled|internal)\] /

/** The `failedReason` the worker gives a job it fails for good: the stage first, so a sweep can read it back. */
export function finalFailedReason (stage: DeadLetterStage, message: string): string {
  return `[${stage}] ${message}`
}

/** The stage and message of a failed job, from its `failedReason`. */
export function stageOfFailedReason (reason: string | undefined): { stage: DeadLetterStage, message: string } {
  const text = reason ?? 'unknown failure'
  if (STALLED_REASON.test(text)) return { stage: 'stalled', message: text }
  const m = STAGE_PREFIX.exec(text)
  if (m !== null) return { stage: m[1] as DeadLetterStage, message: text.slice(m[0].length) }
  return { stage: 'internal', message: text }
}

/** The storable form of an error: name, message, code, HTTP status; the stack only when asked. */
export function serializeError (err: unknown, includeStack: boolean): DeadLetterError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) }
  const e = err as Error & { code?: unknown, status?: unknown, statusCode?: unknown, response?: { status?: unknown } }
  const out: DeadLetterError = { name: e.name, message: e.message }
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = String(e.code)
  // Our own coded errors carry @fastify/error's default statusCode 500, which says nothing about a provider.
  const own = isOwnCode(out.code)
  const status = own ? undefined : [e.status, e.response?.status, e.statusCode].find((s) => typeof s === 'number')
  if (typeof status === 'number') out.status = status
  if (includeStack && typeof e.stack === 'string') out.stack = e.stack
  return out
}

/** True when a dead letter matches every field of the filter. */
export function matchesFilter (letter: DeadLetter, filter: DeadLetterFilter): boolean {
  const stages = filter.stage === undefined ? undefined : Array.isArray(filter.stage) ? filter.stage : [filter.stage]
  const event = letter.event as Partial<WebhookEvent> | null
  if (stages !== undefined && !stages.includes(letter.stage)) return false
  if (filter.source !== undefined && event?.source !== filter.source) return false
  if (filter.type !== undefined && event?.type !== filter.type) return false
  if (filter.eventId !== undefined && event?.id !== filter.eventId) return false
  if (filter.replayed !== undefined && (letter.replayedAt !== undefined) !== filter.replayed) return false
  if (filter.deadAfter !== undefined && letter.deadAt < filter.deadAfter) return false
  if (filter.deadBefore !== undefined && letter.deadAt >= filter.deadBefore) return false
  return true
}
