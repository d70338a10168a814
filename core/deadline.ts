/**
 * One way of bounding work in time. A frozen Redis keeps its sockets open and
 * user code may ignore its signal, so nothing that waits on either can rely on
 * the work ending by itself: every wait in the package goes through here.
 */

/** The rejection of a {@link deadline} that passed, unless the caller chose its own error. */
export class DeadlineError extends Error {
  override name = 'DeadlineError'
  /** The deadline that passed, in milliseconds. */
  readonly ms: number
  constructor (ms: number) {
    super(`no answer within ${ms} ms`)
    this.ms = ms
  }
}

/** What a {@link deadline} does when it passes. */
export interface DeadlineOptions<F = never> {
  /**
   * The error to abort `fn`'s signal with and to reject with, so a call site
   * keeps its own class, code and message. Default: a {@link DeadlineError}.
   */
  error?: () => unknown
  /**
   * Resolve with this value instead of rejecting (for sentinel results);
   * `fn`'s signal still aborts with the deadline's error.
   */
  fallback?: () => F
}

// setTimeout fires at once (with a warning) for more than 2^31 - 1 ms: a
// deadline that long is no deadline.
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Runs `fn` with a signal that aborts when `ms` pass or `signal` aborts, and
 * settles like `fn` or at the first of those, whether or not `fn` listens to
 * its signal:
 *
 * - `fn` settled first: its value or error, as it is (a synchronous throw rejects).
 * - the deadline passed: rejects with `options.error()` or a {@link DeadlineError}
 *   (or resolves `options.fallback()`), after aborting `fn`'s signal with that error.
 * - `signal` aborted: rejects with its reason, after aborting `fn`'s signal with
 *   it; `fn` is not called at all when `signal` has aborted already.
 *
 * `ms` of 0 (or less, or NaN) passes on the next timer turn, so a result that is
 * already at hand still wins; `Infinity` (or more than 2^31 - 1) sets no timer.
 * The timer is always cleared once the call settles, and a late settling of
 * `fn` is absorbed: a rejection after the deadline is never unhandled.
 */
export function deadline<T, F = never> (
  ms: number,
  signal: AbortSignal | undefined,
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
  options: DeadlineOptions<F> = {}
): Promise<T | F> {
  if (signal?.aborted === true) return Promise.reject(signal.reason)
  const inner = new AbortController()
  return new Promise<T | F>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    function done (): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    function onAbort (): void {
      done()
      const reason: unknown = signal?.reason
      inner.abort(reason)
      reject(reason)
    }
    function expire (): void {
      done()
      const err = options.error === undefined ? new DeadlineError(ms) : options.error()
      inner.abort(err)
      if (options.fallback === undefined) reject(err)
      else resolve(options.fallback())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (!(ms > MAX_TIMER_MS)) timer = setTimeout(expire, ms > 0 ? ms : 0)
    let running: T | PromiseLike<T>
    try {
      running = fn(inner.signal)
    } catch (err) {
      done()
      reject(err)
      return
    }
    Promise.resolve(running).then((value) => {
      done()
      resolve(value)
    }, (err: unknown) => {
      done()
      reject(err)
    })
  })
}
