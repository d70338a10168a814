import {
  MAX_FAILURE_HISTORY, type DeadLetter, type DeadLetterError, type DeadLetterFailure, type DeadLetterStage
} from './dead-letter-record.js'

/** One final failure of a job, as the sink reports it. */
export interface FailureInput {
  jobId: string
  /**
   * The job's creation time: with `attemptsMade`, it tells a second write of
   * one failure (a crash between the letter and the job's failure, two sweeps
   * of one failed job) from a new failure of the event.
   */
  jobTimestamp: number
  event: unknown
  stage: DeadLetterStage
  error: DeadLetterError
  attemptsMade: number
  firstAttemptAt: number
  deadAt: number
}

/** A failure as stored: with the key that identifies it. */
interface StoredFailure extends DeadLetterFailure {
  key?: string
}

/** A dead letter as stored in its job's data: the id is the BullMQ job id. */
export type StoredLetter = Omit<DeadLetter, 'id' | 'history'> & { history: StoredFailure[] }

/**
 * The stored form of job data, whichever version wrote it: a letter from
 * before letters were kept per event is one failure.
 */
export function storedOf (data: unknown): StoredLetter {
  const letter = (typeof data === 'object' && data !== null ? data : {}) as Partial<StoredLetter>
  if (Array.isArray(letter.history) && typeof letter.failures === 'number' && typeof letter.firstDeadAt === 'number') return letter as StoredLetter
  const old = letter as Omit<StoredLetter, 'failures' | 'history' | 'firstDeadAt'>
  return {
    ...old,
    failures: 1,
    history: [{ deadAt: old.deadAt, stage: old.stage, attemptsMade: old.attemptsMade, error: withoutStack(old.error) }],
    firstDeadAt: old.deadAt
  }
}

/** The public form of a stored letter. */
export function letterOf (id: string, stored: StoredLetter): DeadLetter {
  return { id, ...stored, history: stored.history.map(({ key: _key, ...failure }) => failure) }
}

/**
 * The letter after one more failure, or `undefined` when there is nothing to
 * write: a failure recorded before, whose letter has been replayed since.
 * A new failure makes the letter pending again (no `replayedAt`).
 */
export function withFailure (previous: StoredLetter | undefined, f: FailureInput): StoredLetter | undefined {
  const key = `${f.jobTimestamp}:${f.attemptsMade}`
  const entry: StoredFailure = { deadAt: f.deadAt, stage: f.stage, attemptsMade: f.attemptsMade, error: withoutStack(f.error), key }
  const history = previous?.history ?? []
  const repeat = history.some((h) => h.key === key)
  if (repeat && previous?.replayedAt !== undefined) return undefined
  return {
    event: f.event as DeadLetter['event'],
    stage: f.stage,
    error: f.error,
    attemptsMade: f.attemptsMade,
    firstAttemptAt: f.firstAttemptAt,
    deadAt: f.deadAt,
    jobId: f.jobId,
    failures: (previous?.failures ?? 0) + (repeat ? 0 : 1),
    history: repeat ? history.map((h) => (h.key === key ? entry : h)) : [...history, entry].slice(-MAX_FAILURE_HISTORY),
    firstDeadAt: previous?.firstDeadAt ?? f.deadAt
  }
}

function withoutStack (error: DeadLetterError | undefined): DeadLetterError {
  if (error === undefined) return { name: 'Error', message: 'unknown failure' }
  const { stack: _stack, ...rest } = error
  return rest
}
