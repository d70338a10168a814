import { createHash } from 'node:crypto'
import type { Queue } from 'bullmq'
import type { RedisClient } from '../core/connection.js'
import { storedOf, type StoredLetter } from './dead-letter-failures.js'
import { DROP_STALE, idOfMember, INDEX_GAP, INDEX_LETTERS } from './dead-letter-scripts.js'
import { runScript } from '../core/scripts.js'

/** A letter as read, with the SHA1 of its data, on which every write is conditional. */
export interface RawLetter {
  id: string
  sha: string
  /** Its creation time in ms. */
  timestamp: number
  /** Its index member, once indexed. */
  member: string | undefined
  replayed: boolean
  stored: StoredLetter
}

const BATCH = 200

/** Reads the letters of a dead-letter queue, one by one or in the order of the index. */
export class LetterIndex {
  readonly #client: RedisClient
  readonly #dlq: Queue
  /** The sorted set of index members. */
  readonly index: string
  /** The counter that numbers new members. */
  readonly sequence: string

  constructor (client: RedisClient, dlq: Queue, keyBase: string) {
    this.#client = client
    this.#dlq = dlq
    this.index = `${keyBase}dlq-index`
    this.sequence = `${keyBase}dlq-sequence`
  }

  /** The letters after a cursor, in index order; drops index members whose letter is gone. */
  async * walk (after?: string, batch = BATCH): AsyncGenerator<{ member: string, raw: RawLetter }> {
    let start = after === undefined ? '-' : `(${after}`
    for (;;) {
      const members = await this.#client.zrangebylex(this.index, start, '+', 'LIMIT', 0, batch)
      const raws = await Promise.all(members.map(async (member) => await this.read(idOfMember(member))))
      for (const [i, member] of members.entries()) {
        const raw = raws[i]
        if (raw !== undefined && raw.member === member) {
          yield { member, raw }
          continue
        }
        await runScript(this.#client, DROP_STALE, [this.#dlq.toKey(idOfMember(member)), this.index], [member])
      }
      if (members.length < batch) return
      start = `(${members[members.length - 1]}`
    }
  }

  /** Indexes the letters written by an older version, which are in the queue but not in the index. */
  async ensureIndexed (): Promise<void> {
    const [letters, indexed] = await runScript(this.#client, INDEX_GAP, [this.#dlq.keys.wait, this.#dlq.keys.completed, this.index], []) as [number, number]
    if (indexed >= letters) return
    const ids = [...await this.#client.lrange(this.#dlq.keys.wait, 0, -1), ...await this.#client.zrange(this.#dlq.keys.completed, 0, -1)]
    const unindexed = (await Promise.all(ids.map(async (id) => await this.read(id)))).filter((raw) => raw !== undefined && raw.member === undefined) as RawLetter[]
    unindexed.sort((a, b) => a.timestamp - b.timestamp)
    for (let i = 0; i < unindexed.length; i += BATCH) {
      const chunk = unindexed.slice(i, i + BATCH).map((raw) => raw.id)
      await runScript(this.#client, INDEX_LETTERS, [this.index, this.sequence, ...chunk.map((id) => this.#dlq.toKey(id))], chunk)
    }
  }

  /** A letter as it is now, or `undefined`. */
  async read (id: string): Promise<RawLetter | undefined> {
    const [data, finishedOn, timestamp, member] = await this.#client.hmgetBuffer(this.#dlq.toKey(id), 'data', 'finishedOn', 'timestamp', 'whix')
    if (data === null) return undefined
    return {
      id,
      sha: createHash('sha1').update(data).digest('hex'),
      timestamp: Number(timestamp?.toString() ?? 0),
      member: member?.toString() ?? undefined,
      replayed: finishedOn !== null,
      stored: storedOf(parseData(data))
    }
  }

  /** The keys of a letter: its job hash, the wait list and the completed set. */
  keys (id: string): string[] {
    return [this.#dlq.toKey(id), this.#dlq.keys.wait, this.#dlq.keys.completed]
  }

  /** The keys of a letter, the index and its sequence. */
  writeKeys (id: string): string[] {
    return [...this.keys(id), this.index, this.sequence]
  }
}

// Data that is not JSON (written by something else) is shown as its text.
function parseData (data: Buffer): unknown {
  try {
    return JSON.parse(data.toString())
  } catch {
    return { event: data.toString() }
  }
}
