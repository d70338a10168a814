import type { JobsOptions } from 'bullmq'

/** Completed jobs are kept an hour (at most 10,000), so a redelivery within that time is an add-time duplicate. */
export const REMOVE_ON_COMPLETE = { age: 3600, count: 10_000 } as const

/**
 * The worker, not the producer, owns the retry budget: producers add every job
 * with this ceiling and the custom `webhook` backoff type, and the worker fails
 * a job for good (and dead-letters it) once its own `attempts` are spent, with
 * delays from its own schedule.
 */
export const ATTEMPTS_CEILING = 1_000_000

/** The BullMQ backoff type whose delays the worker computes. */
export const BACKOFF_TYPE = 'webhook'

/** The job options every producer (plugin, poller, replay) uses for an event job. */
export function eventJobOptions (jobId: string): JobsOptions {
  return {
    jobId,
    attempts: ATTEMPTS_CEILING,
    backoff: { type: BACKOFF_TYPE },
    removeOnComplete: REMOVE_ON_COMPLETE,
    // A failed job stays until the worker has dead-lettered it; the worker then removes it,
    // so a later redelivery of the same event is processed instead of silently ignored.
    removeOnFail: false
  }
}
