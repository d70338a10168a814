import { setTimeout as sleep } from 'node:timers/promises'
import { Queue } from 'bullmq'
import type { RedisClient } from '../core/connection.js'
import { letterOf, withFailure, type FailureInput } from './dead-letter-failures.js'
import { LetterIndex, type RawLetter } from './dead-letter-index.js'
import {
  matchesFilter, type DeadLetter, type DeadLetterCursor, type DeadLetterCursorPage, type DeadLetterFilter, type DeadLetterPage, type ReplayResult
} from './dead-letter-record.js'
import {
  CURSOR, PURGE_LETTER, REPLAY_GATE, WRITE_LETTER
} from './dead-letter-scripts.js'
import { decodeEvent } from '../core/decode.js'
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { JOB_NAME } from '../core/event.js'
import { safeJobId } from '../core/job-id.js'
import { eventJobOptions } from '../core/job-options.js'
import { deadLetterQueueName, eventKeys, queueKeyBase } from '../core/keys.js'
import { runScript } from '../core/scripts.js'
import { checkInteger, expected } from '../core/validate.js'

const PENDING = ['wait'] as const
const REPLAYED = ['completed'] as const
// Writes of one letter conflict only while one event fails in several places at
// once; each retry reads what the others wrote, and one of them always wins a round.
const MAX_TRIES = 50

/** Throws `WEBHOOK_INVALID_OPTION` for a bad argument, here and in `createDeadLetters`. */
export const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

/** The dead-letter queue of one event queue, and the event queue for replays. */
export class DeadLetterStore {
  readonly #client: RedisClient
  readonly #queueName: string
  readonly #prefix: string
  readonly #dlq: Queue
  readonly #letters: LetterIndex
  #main: Queue | undefined

  constructor (client: RedisClient, options: { queueName: string, prefix: string }) {
    this.#client = client
    this.#queueName = options.queueName
    this.#prefix = options.prefix
    this.#dlq = new Queue(deadLetterQueueName(options.queueName), { connection: client, prefix: options.prefix })
    this.#dlq.on('error', () => {})
    this.#letters = new LetterIndex(client, this.#dlq, queueKeyBase(options.prefix, options.queueName))
  }

  /** The event queue (created on first use). */
  mainQueue (): Queue {
    if (this.#main === undefined) {
      this.#main = new Queue(this.#queueName, { connection: this.#client, prefix: this.#prefix })
      this.#main.on('error', () => {})
    }
    return this.#main
  }

  /**
   * Records a final failure in the event's dead letter (keyed by its job id):
   * creates it, or adds the failure to it and makes it pending again. A second
   * write of one failure updates it without counting it twice.
   */
  async record (failure: FailureInput): Promise<DeadLetter> {
    const id = failure.jobId
    for (let i = 0; i < MAX_TRIES; i++) {
      const raw = await this.#letters.read(id)
      const next = withFailure(raw?.stored, failure)
      if (next === undefined) return letterOf(id, (raw as RawLetter).stored)
      const options = JSON.stringify({ jobId: id, removeOnComplete: false, removeOnFail: false, attempts: 0 })
      const args = [id, raw?.sha ?? '', JSON.stringify(next), String(next.firstDeadAt), options]
      if (await runScript(this.#client, WRITE_LETTER, this.#letters.writeKeys(id), args) === 1) return letterOf(id, next)
      // Spread the writers of one letter apart, so that they stop colliding.
      await sleep(Math.random() * Math.min(50, 2 ** i))
    }
    throw new WebhookErrors.WEBHOOK_DEAD_LETTER_CONTENDED(id)
  }

  /** Dead letters not yet replayed, counted in O(1). */
  async pendingCount (): Promise<number> {
    return await this.#dlq.getJobCountByTypes(...PENDING)
  }

  async get (id: string): Promise<DeadLetter | undefined> {
    checkId(id)
    const raw = await this.#letters.read(id)
    return raw === undefined ? undefined : letterOf(id, raw.stored)
  }

  /** A page of the letters matching the filter, in the order they were created, from a cursor. */
  async page (filter: DeadLetterFilter = {}, cursor: DeadLetterCursor = {}): Promise<DeadLetterCursorPage> {
    checkFilter(filter)
    if (typeof cursor !== 'object' || cursor === null) invalid.fail(expected('cursor', 'an object', cursor))
    const limit = cursor.limit ?? 100
    invalid.failIf(checkInteger('cursor.limit', limit, 1, 1000))
    if (cursor.after !== undefined && (typeof cursor.after !== 'string' || !CURSOR.test(cursor.after))) {
      invalid.fail(expected('cursor.after', 'the `next` of a previous page', cursor.after))
    }
    if (cursor.after === undefined) await this.#letters.ensureIndexed()
    const letters: DeadLetter[] = []
    // A page without a filter needs `limit` letters: read no more than that, nor fewer than a few dozen.
    for await (const { member, raw } of this.#letters.walk(cursor.after, Math.min(200, Math.max(limit, 25)))) {
      const letter = letterOf(raw.id, raw.stored)
      if (!matchesFilter(letter, filter)) continue
      letters.push(letter)
      if (letters.length === limit) return { letters, next: member }
    }
    return { letters }
  }

  async list (filter: DeadLetterFilter = {}, page: DeadLetterPage = {}): Promise<DeadLetter[]> {
    const offset = page.offset ?? 0
    const limit = page.limit ?? 100
    invalid.failIf(checkInteger('page.offset', offset, 0))
    invalid.failIf(checkInteger('page.limit', limit, 1, 1000))
    checkFilter(filter)
    await this.#letters.ensureIndexed()
    const out: DeadLetter[] = []
    let skipped = 0
    for (const replayed of filter.replayed === undefined ? [false, true] : [filter.replayed]) {
      for await (const { raw } of this.#letters.walk()) {
        const letter = letterOf(raw.id, raw.stored)
        if (!matchesFilter(letter, { ...filter, replayed })) continue
        if (skipped < offset) skipped++
        else out.push(letter)
        if (out.length === limit) return out
      }
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
    let removed = 0
    for await (const raw of this.#matching(filter)) if (await this.#purgeOne(raw, filter)) removed++
    return removed
  }

  async replay (target: string | DeadLetterFilter, options: { force?: boolean } = {}): Promise<ReplayResult | ReplayResult[]> {
    const force = options.force ?? false
    if (typeof force !== 'boolean') invalid.fail(expected('options.force', 'a boolean', force))
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
    const raw = await this.#letters.read(id)
    if (raw === undefined) return { id, status: 'not-found' }
    if (raw.replayed) return { id, status: 'already-replayed' }
    const letter = raw.stored
    const decoded = decodeEvent(letter.event)
    const jobId = decoded.ok ? safeJobId(decoded.event.source, decoded.event.id) : letter.jobId
    const data = decoded.ok ? { ...decoded.event, origin: 'replay' } : letter.event
    const forget = force && decoded.ok ? { replayKey: decoded.event.replayKey } : undefined
    const queued = await this.#queue(jobId, data, forget)
    if ('state' in queued) return { id, status: 'not-queued', jobId, jobState: queued.state }
    // After the add: a crash in between leaves the letter pending, and replaying it
    // again says the event's job is already queued. The gate refuses when the letter
    // changed since it was read (the replayed job failed already): it stays pending.
    const replayedAt = Date.now()
    await runScript(this.#client, REPLAY_GATE, this.#letters.keys(id), [id, raw.sha, JSON.stringify({ ...letter, replayedAt }), replayedAt])
    return { id, status: 'replayed', jobId: queued.jobId }
  }

  /**
   * Queues the event unless a job of its id is still in the event queue: BullMQ's
   * add would silently keep that one, so the replay says it queued nothing.
   * A completed job goes first (the done marker still dedupes the replay).
   */
  async #queue (jobId: string, data: unknown, forget: { replayKey: string | undefined } | undefined): Promise<{ jobId: string } | { state: string }> {
    const main = this.mainQueue()
    const options = eventJobOptions(jobId)
    // BullMQ refuses integer-like custom ids; only a job it numbered itself has one, and gets a new number.
    if (/^\d+$/.test(jobId)) {
      delete options.jobId
      return { jobId: String((await main.add(JOB_NAME, data, options)).id) }
    }
    const state = await main.getJobState(jobId)
    if (state === 'completed') await main.remove(jobId)
    else if (state !== 'unknown') return { state }
    if (forget !== undefined) await this.#forget(jobId, forget.replayKey)
    const job = await main.add(JOB_NAME, data, options)
    // A job of this id added meanwhile makes the add a no-op: ours is the one with our timestamp.
    if (Number(await this.#client.hget(main.toKey(jobId), 'timestamp')) === job.timestamp) return { jobId }
    return { state: await main.getJobState(jobId) }
  }

  // A forced replay forgets that the event was applied: its done and replay markers.
  async #forget (jobId: string, replayKey: string | undefined): Promise<void> {
    const keys = eventKeys(queueKeyBase(this.#prefix, this.#queueName), jobId, replayKey)
    await this.#client.del(keys.done, ...(keys.replayMarker === undefined ? [] : [keys.replayMarker]))
  }

  async #purgeOne (first: RawLetter, filter: DeadLetterFilter): Promise<boolean> {
    let raw: RawLetter | undefined = first
    for (let i = 0; i < MAX_TRIES && raw !== undefined; i++) {
      // Checked again after a change: a replayed letter that failed again is pending now.
      if (!matchesFilter(letterOf(raw.id, raw.stored), filter)) return false
      const result = await runScript(this.#client, PURGE_LETTER, [...this.#letters.keys(raw.id), this.#letters.index, `${this.#dlq.toKey(raw.id)}:logs`], [raw.id, raw.sha])
      if (result !== 0) return result === 1
      raw = await this.#letters.read(raw.id)
    }
    return false
  }

  async #ids (filter: DeadLetterFilter): Promise<string[]> {
    const ids: string[] = []
    for await (const raw of this.#matching(filter)) ids.push(raw.id)
    return ids
  }

  /** Every letter matching the filter, in index order. */
  async * #matching (filter: DeadLetterFilter): AsyncGenerator<RawLetter> {
    checkFilter(filter)
    await this.#letters.ensureIndexed()
    for await (const { raw } of this.#letters.walk()) if (matchesFilter(letterOf(raw.id, raw.stored), filter)) yield raw
  }
}

function checkId (id: unknown): void {
  if (typeof id !== 'string' || id === '') invalid.fail(expected('id', 'a dead letter id', id))
}

function checkFilter (filter: unknown): void {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) invalid.fail(expected('filter', 'an object', filter))
}
