import type { Job } from 'bullmq'
import type { RedisClient } from '../core/connection.js'
import type { FailureInput } from './dead-letter-failures.js'
import { serializeError, stageOfFailedReason, type DeadLetter, type DeadLetterStage } from './dead-letter-record.js'
import type { DeadLetterStore } from './dead-letter-store.js'

/** Where the sink tells what it did: the worker's reporter. */
export interface SinkReporter {
  deadLetter: (letter: DeadLetter) => void
  alert: (alert: { queueName: string, count: number, threshold: number }) => void
  problem: (err: unknown, msg: string) => void
}

/** What the processor knows when it gives up on a job. */
export interface FinalFailure {
  job: Job
  /** The decoded event, or the raw job data for stage `decode`. */
  event: unknown
  stage: DeadLetterStage
  err: unknown
  attemptsMade: number
  firstAttemptAt: number
}

const SWEEP_BATCH = 100
const SWEEP_MAX = 1000

/**
 * Writes dead letters, moves failed jobs that never reached the dead-letter
 * queue (a stall past the limit, a crash between the dead letter and the
 * failure, a worker of an older version), and raises the alert.
 */
export class DeadLetterSink {
  readonly #store: DeadLetterStore
  readonly #client: RedisClient
  readonly #reporter: SinkReporter
  readonly #includeStack: boolean
  readonly #threshold: number
  readonly #queueName: string
  #armed = true

  constructor (options: {
    store: DeadLetterStore
    client: RedisClient
    reporter: SinkReporter
    includeStack: boolean
    alertThreshold: number
    queueName: string
  }) {
    this.#store = options.store
    this.#client = options.client
    this.#reporter = options.reporter
    this.#includeStack = options.includeStack
    this.#threshold = options.alertThreshold
    this.#queueName = options.queueName
  }

  /** Records the final failure of a job the processor gives up on in its event's dead letter (before BullMQ fails it). */
  async fromAttempt (failure: FinalFailure): Promise<void> {
    const { job } = failure
    await this.#record({
      jobId: String(job.id),
      jobTimestamp: job.timestamp,
      event: failure.event,
      stage: failure.stage,
      error: serializeError(failure.err, this.#includeStack),
      attemptsMade: failure.attemptsMade,
      firstAttemptAt: failure.firstAttemptAt,
      deadAt: Date.now()
    })
  }

  /**
   * Dead-letters a job in the failed set, then removes it from there so a
   * later redelivery of the event is processed rather than taken for a duplicate.
   */
  async fromFailedJob (job: Job, err?: Error): Promise<void> {
    const { stage, message } = stageOfFailedReason(job.failedReason)
    const cause = err?.cause instanceof Error ? err.cause : err
    const error = cause === undefined ? { name: 'Error', message } : { ...serializeError(cause, this.#includeStack), message }
    const firstAttempt = await this.#client.hget(this.#store.mainQueue().toKey(String(job.id)), 'whfa')
    await this.#record({
      jobId: String(job.id),
      jobTimestamp: job.timestamp,
      event: job.data,
      stage,
      error,
      attemptsMade: job.attemptsMade,
      firstAttemptAt: firstAttempt === null ? (job.processedOn ?? job.timestamp) : Number(firstAttempt),
      deadAt: job.finishedOn ?? Date.now()
    })
    // Another worker's sweep may have removed it first.
    await job.remove().catch(() => {})
  }

  /** Moves what is in the failed set to the dead-letter queue (up to 1000 per call); resolves to how many. */
  async sweep (): Promise<number> {
    let moved = 0
    while (moved < SWEEP_MAX) {
      const jobs = await this.#store.mainQueue().getFailed(0, SWEEP_BATCH - 1)
      for (const job of jobs) await this.fromFailedJob(job)
      moved += jobs.length
      if (jobs.length < SWEEP_BATCH) break
    }
    return moved
  }

  /** Fires `deadLetterAlert` when pending letters reach the threshold; re-arms below half of it. */
  async checkAlert (): Promise<void> {
    const count = await this.#store.pendingCount()
    if (this.#armed && count >= this.#threshold) {
      this.#armed = false
      this.#reporter.alert({ queueName: this.#queueName, count, threshold: this.#threshold })
    } else if (!this.#armed && count < this.#threshold / 2) {
      this.#armed = true
    }
  }

  async #record (failure: FailureInput): Promise<void> {
    this.#reporter.deadLetter(await this.#store.record(failure))
    await this.checkAlert().catch((err: unknown) => this.#reporter.problem(err, 'could not count dead letters'))
  }
}
