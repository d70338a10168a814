/**
 * The errors a `hydrate`, `apply` or `fetchChanges` throws to steer what
 * happens next. They are the caller's to throw, so they carry no code of the
 * table in `errors.ts`; both are recognised by `name` too, so a copy from
 * another installation of this package works the same.
 */

/**
 * Thrown from `hydrate` or `apply` to say that retrying cannot help: the event
 * goes to the dead-letter queue at once.
 */
export class PermanentError extends Error {
  override name = 'PermanentError'
}

/**
 * Thrown from `hydrate` (or `fetchChanges`) when the provider's API asked us to
 * slow down: hydration pauses for the queue for `retryAfterMs`, and the job is
 * delayed without spending an attempt.
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
