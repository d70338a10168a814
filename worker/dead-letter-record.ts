import type { WebhookEvent } from './event.js'

/** Where an event failed for good. */
export type DeadLetterStage = 'hydrate' | 'apply' | 'stalled' | 'decode' | 'internal'

/** The stages, in the order they run. */
export const DEAD_LETTER_STAGES: readonly DeadLetterStage[] = ['decode', 'hydrate', 'apply', 'stalled', 'internal']

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

/** A dead letter: the event that could not be applied, and why. */
export interface DeadLetter<P = unknown> {
  /** The dead letter's id in the dead-letter queue: the event job id and a failure generation. */
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
  /** When it was replayed; a dead letter is replayed at most once. */
  replayedAt?: number
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

/** A page of a listing. */
export interface DeadLetterPage {
  /** @defaultValue `0` */
  offset?: number
  /** At most 1000. @defaultValue `100` */
  limit?: number
}

/** What `replay` did with one dead letter. */
export interface ReplayResult {
  id: string
  status: 'replayed' | 'already-replayed' | 'not-found'
  /** The job id the event was queued under, when replayed. */
  jobId?: string
}

/**
 * The dead letter id of a failed job: its id plus its creation time, the
 * "failure generation". A worker that dies after writing the dead letter and
 * fails the same job again writes the same id (BullMQ then ignores the add),
 * while a later redelivery of the event is a new job with a new time.
 */
export function deadLetterId (jobId: string, jobTimestamp: number): string {
  return `${jobId}.${jobTimestamp}`
}

// BullMQ's own reason for a job that stalled more than maxStalledCount times.
const STALLED_REASON = /stalled more than allowable limit/
const STAGE_PREFIX = /^\[(hydrate|apply|decode|internal)\] /

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
  const own = typeof out.code === 'string' && out.code.startsWith('WEBHOOK_WORKER_')
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
