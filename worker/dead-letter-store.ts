import { Queue, type Job } from 'bullmq'
import { eventKeys } from './claim.js'
import type { RedisClient } from './connection.js'
import { matchesFilter, type DeadLetter, type DeadLetterFilter, type DeadLetterPage, type ReplayResult } from './dead-letter-record.js'
import { decodeEvent } from './decode.js'
import { WorkerErrors } from './errors.js'
import { JOB_NAME } from './event.js'
import { safeJobId } from './job-id.js'
import { eventJobOptions } from './job-options.js'
import { deadLetterQueueName, queueKeyBase } from './keys.js'
import { defineScript, runScript } from './scripts.js'
import { checkInteger, expected } from './validate.js'

/** A dead letter as stored: the id is the BullMQ job id. */
export type StoredLetter = Omit<DeadLetter, 'id'>

// A replayed dead letter moves from the dead-letter queue's wait list to its
// completed set, atomically and only once: the move is the "replayed once" gate,
// and keeps pending letters countable in O(1).
// KEYS: 1 job hash, 2 wait, 3 completed; ARGV: 1 id, 2 new data, 3 now ms
const REPLAY_GATE = defineScript('replayGate', `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('LREM', KEYS[2], 0, ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'finishedOn', ARGV[3])
return 1
`)

const PENDING = ['wait'] as const
const REPLAYED = ['completed'] as const
const BATCH = 200

/** The dead-letter queue of one event queue, and the event queue for replays. */
export class DeadLetterStore {
  readonly #client: RedisClient
  readonly #queueName: string
  readonly #prefix: string
  readonly #dlq: Queue
  #main: Queue | undefined

  constructor (client: RedisClient, options: { queueName: string, prefix: string }) {
    this.#client = client
    this.#queueName = options.queueName
    this.#prefix = options.prefix
    this.#dlq = new Queue(deadLetterQueueName(options.queueName), { connection: client, prefix: options.prefix })
    this.#dlq.on('error', () => {})
  }

  /** The event queue (created on first use). */
  mainQueue (): Queue {
    if (this.#main === undefined) {
      this.#main = new Queue(this.#queueName, { connection: this.#client, prefix: this.#prefix })
      this.#main.on('error', () => {})
    }
    return this.#main
  }

  /** Adds a dead letter under `id`; a second write of the same id is ignored by BullMQ. */
  async write (id: string, letter: StoredLetter): Promise<void> {
    await this.#dlq.add('dead-letter', letter, { jobId: id, removeOnComplete: false, removeOnFail: false })
  }

  /** Dead letters not yet replayed, counted in O(1). */
  async pendingCount (): Promise<number> {
    return await this.#dlq.getJobCountByTypes(...PENDING)
  }

  async get (id: string): Promise<DeadLetter | undefined> {
    checkId(id)
    const job = await this.#dlq.getJob(id)
    return job === undefined ? undefined : toLetter(job)
  }

  async list (filter: DeadLetterFilter = {}, page: DeadLetterPage = {}): Promise<DeadLetter[]> {
    const offset = page.offset ?? 0
    const limit = page.limit ?? 100
    failIf(checkInteger('page.offset', offset, 0))
    failIf(checkInteger('page.limit', limit, 1, 1000))
    const out: DeadLetter[] = []
    let skipped = 0
    for await (const letter of this.#scan(filter)) {
      if (skipped < offset) skipped++
      else out.push(letter)
      if (out.length === limit) break
    }
    return out
  }

  async count (filter: DeadLetterFilter = {}): Promise<number> {
    checkFilter(filter)
    const narrowed = Object.entries(filter).some(([key, value]) => key !== 'replayed' && value !== undefined)
    if (!narrowed) {
      const types = filter.replayed === undefined ? [...PENDING, ...REPLAYED] : filter.replayed ? REPLAYED : PENDING
      return await this.#dlq.getJobCountByTypes(...types)
    }
    return (await this.#ids(filter)).length
  }

  async purge (filter: DeadLetterFilter = {}): Promise<number> {
    const ids = await this.#ids(filter)
    let removed = 0
    for (const id of ids) removed += await this.#dlq.remove(id)
    return removed
  }

  async replay (target: string | DeadLetterFilter, options: { force?: boolean } = {}): Promise<ReplayResult | ReplayResult[]> {
    const force = options.force ?? false
    if (typeof force !== 'boolean') fail(expected('options.force', 'a boolean', force))
    if (typeof target === 'string') return await this.#replayOne(target, force)
    checkFilter(target)
    const ids = await this.#ids({ ...target, replayed: false })
    const results: ReplayResult[] = []
    for (const id of ids) results.push(await this.#replayOne(id, force))
    return results
  }

  async close (): Promise<void> {
    await Promise.all([this.#dlq.close(), this.#main?.close()])
  }

  async #replayOne (id: string, force: boolean): Promise<ReplayResult> {
    checkId(id)
    const job = await this.#dlq.getJob(id)
    if (job === undefined) return { id, status: 'not-found' }
    if (typeof job.finishedOn === 'number') return { id, status: 'already-replayed' }
    const letter = job.data as StoredLetter
    const decoded = decodeEvent(letter.event)
    let jobId = letter.jobId
    let data: unknown = letter.event
    if (decoded.ok) {
      jobId = safeJobId(decoded.event.source, decoded.event.id)
      data = { ...decoded.event, origin: 'replay' }
      if (force) await this.#forget(jobId, decoded.event.replayKey)
    }
    // Queued before the gate: a crash in between leaves the letter pending, and
    // replaying it again is harmless (same job id, and the done marker).
    const jobOptions = eventJobOptions(jobId)
    // BullMQ refuses integer-like custom ids; only a job it numbered itself has one.
    if (/^\d+$/.test(jobId)) delete jobOptions.jobId
    await this.mainQueue().add(JOB_NAME, data, jobOptions)
    const replayedAt = Date.now()
    const stored = JSON.stringify({ ...letter, replayedAt })
    const keys = [this.#dlq.toKey(id), this.#dlq.keys.wait, this.#dlq.keys.completed]
    const gate = await runScript(this.#client, REPLAY_GATE, keys, [id, stored, replayedAt])
    if (gate === 1) return { id, status: 'replayed', jobId }
    return { id, status: gate === 0 ? 'already-replayed' : 'not-found' }
  }

  // A forced replay forgets that the event was applied: its done and replay
  // markers, and a completed job that would swallow the add as a duplicate.
  async #forget (jobId: string, replayKey: string | undefined): Promise<void> {
    const keys = eventKeys(queueKeyBase(this.#prefix, this.#queueName), jobId, replayKey)
    await this.#client.del(keys.done, ...(keys.replayMarker === undefined ? [] : [keys.replayMarker]))
    const existing = await this.mainQueue().getJob(jobId)
    if (existing !== undefined && await existing.isCompleted()) await existing.remove()
  }

  async #ids (filter: DeadLetterFilter): Promise<string[]> {
    const ids: string[] = []
    for await (const letter of this.#scan(filter)) ids.push(letter.id)
    return ids
  }

  async * #scan (filter: DeadLetterFilter): AsyncGenerator<DeadLetter> {
    checkFilter(filter)
    const groups = filter.replayed === undefined ? [PENDING, REPLAYED] : [filter.replayed ? REPLAYED : PENDING]
    for (const types of groups) {
      for (let start = 0; ; start += BATCH) {
        const jobs = await this.#dlq.getJobs([...types], start, start + BATCH - 1, true)
        for (const job of jobs) {
          const letter = toLetter(job)
          if (matchesFilter(letter, filter)) yield letter
        }
        if (jobs.length < BATCH) break
      }
    }
  }
}

function toLetter (job: Job): DeadLetter {
  return { id: String(job.id), ...(job.data as StoredLetter) }
}

function checkId (id: unknown): void {
  if (typeof id !== 'string' || id === '') fail(expected('id', 'a dead letter id', id))
}

function checkFilter (filter: unknown): void {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) fail(expected('filter', 'an object', filter))
}

export function failIf (problem: string | undefined): void {
  if (problem !== undefined) fail(problem)
}

export function fail (message: string): never {
  throw new WorkerErrors.WEBHOOK_WORKER_INVALID_OPTION(message)
}
