import createError from '@fastify/error'

/**
 * Thrown from `hydrate` or `apply` to say that retrying cannot help: the event
 * goes to the dead-letter queue at once. Recognised by `name` too, so a copy
 * from another installation of this package works the same.
 */
export class PermanentError extends Error {
  override name = 'PermanentError'
}

/**
 * Thrown from `hydrate` (or `fetchChanges`) when the provider's API asked us to
 * slow down: hydration pauses for the queue for `retryAfterMs`, and the job is
 * delayed without spending an attempt. Recognised by `name` too.
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError'
  /** How long to pause, in milliseconds. */
  readonly retryAfterMs: number
  constructor (retryAfterMs: number, message = `Rate limited, retry after ${retryAfterMs} ms`, options?: { cause?: unknown }) {
    super(message, options)
    this.retryAfterMs = retryAfterMs
  }
}

/** True for a {@link PermanentError} or BullMQ's `UnrecoverableError`, by class or by name. */
export function isPermanentError (err: unknown): boolean {
  return err instanceof PermanentError ||
    (err instanceof Error && (err.name === 'PermanentError' || err.name === 'UnrecoverableError'))
}

/** True for a {@link RateLimitedError}, by class or by name. */
export function isRateLimitedError (err: unknown): err is RateLimitedError {
  return err instanceof RateLimitedError || (err instanceof Error && err.name === 'RateLimitedError')
}

/**
 * The worker's coded errors. Bad options are `TypeError`s; every code is listed
 * in the README's errors table (a test checks it).
 */
export const WorkerErrors = {
  /** An option has the wrong type or value. */
  WEBHOOK_WORKER_INVALID_OPTION: createError('WEBHOOK_WORKER_INVALID_OPTION', '%s', 500, TypeError),
  /** Another live worker of the queue registered different lock settings. */
  WEBHOOK_WORKER_LOCK_MISMATCH: createError('WEBHOOK_WORKER_LOCK_MISMATCH', '%s'),
  /** Job data the worker cannot decode (unknown schema version or shape). */
  WEBHOOK_WORKER_BAD_JOB: createError('WEBHOOK_WORKER_BAD_JOB', '%s'),
  /** hydrate or apply exceeded its timeout. */
  WEBHOOK_WORKER_TIMEOUT: createError('WEBHOOK_WORKER_TIMEOUT', '%s exceeded its timeout of %d ms'),
  /** The worker lost its claim on an event (a stall let another worker take it over). */
  WEBHOOK_WORKER_CLAIM_LOST: createError('WEBHOOK_WORKER_CLAIM_LOST', 'The claim on event %s was lost'),
  /** `persistenceCheck: 'refuse'` and Redis lacks AOF or `maxmemory-policy noeviction`. */
  WEBHOOK_WORKER_PERSISTENCE: createError('WEBHOOK_WORKER_PERSISTENCE', '%s'),
  /** The worker was closed (and its timeout ran out) while the attempt was running. */
  WEBHOOK_WORKER_CLOSED: createError('WEBHOOK_WORKER_CLOSED', 'The worker closed before the attempt finished'),
  /** `objectKey` or `version` returned a value the worker cannot use (retried like any failure, stage `hydrate`). */
  WEBHOOK_WORKER_BAD_CALLBACK_VALUE: createError('WEBHOOK_WORKER_BAD_CALLBACK_VALUE', '%s'),
  /** An optional peer dependency is not installed. */
  WEBHOOK_WORKER_MISSING_DEPENDENCY: createError('WEBHOOK_WORKER_MISSING_DEPENDENCY', '%s')
} as const
