import type { MinimalJob } from 'bullmq'
import type { RetryOptions } from './options.js'

/** A retry schedule with every field set. */
export type RetrySchedule = Required<RetryOptions>

/**
 * The bounds of the delay before retry `retry` (1 for the first retry):
 * d = min(maxDelayMs, baseDelayMs · 2^(retry-1)), and the delay is drawn
 * uniformly from [d/2, d] ("equal jitter": never less than half the
 * exponential step, so retries spread out without collapsing to zero).
 */
export function retryDelayBounds (retry: number, schedule: RetrySchedule): { min: number, max: number } {
  // 2^(retry-1) overflows to Infinity for huge retry numbers, and min() then caps it.
  const max = Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** Math.max(0, retry - 1))
  return { min: Math.ceil(max / 2), max }
}

/** A delay for retry `retry`, uniform in its bounds. */
export function retryDelayMs (retry: number, schedule: RetrySchedule, random: () => number = Math.random): number {
  const { min, max } = retryDelayBounds(retry, schedule)
  return Math.min(max, min + Math.floor(random() * (max - min + 1)))
}

/**
 * The attempts a job may use: the worker's budget, or fewer when the job was
 * added with a smaller `attempts` (producers use `ATTEMPTS_CEILING`, so the
 * worker's budget normally decides).
 */
export function attemptBudget (job: Pick<MinimalJob, 'opts'>, schedule: RetrySchedule): number {
  const own = job.opts.attempts
  return typeof own === 'number' && own >= 1 ? Math.min(own, schedule.attempts) : 1
}

/** Delays chosen by the processor for the errors it rethrows, read back by BullMQ's backoff call. */
const chosenDelays = new WeakMap<object, number>()

/** Records the delay the processor chose (and logged) for a failed attempt. */
export function rememberRetryDelay (err: Error, delayMs: number): void {
  chosenDelays.set(err, delayMs)
}

/**
 * BullMQ's `settings.backoffStrategy` for the `webhook` backoff type: the
 * delay the processor already chose for this error (so the logged delay is the
 * one used), else a fresh one; `-1` (fail for good) once the budget is spent,
 * which is the processor's cue as well, so both agree on the last attempt.
 */
export function createBackoffStrategy (schedule: RetrySchedule) {
  return function webhookBackoff (attemptsMade: number, _type?: string, err?: Error, job?: MinimalJob): number {
    const budget = job === undefined ? schedule.attempts : attemptBudget(job, schedule)
    if (attemptsMade >= budget) return -1
    const chosen = err === undefined ? undefined : chosenDelays.get(err)
    return chosen ?? retryDelayMs(attemptsMade, schedule)
  }
}
