import { Queue } from 'bullmq'
import type { RedisClient } from './connection.js'
import { deadLetterQueueName, pollQueueName } from './keys.js'
import { pollKeys } from './lease.js'

/** A queue's depth by state, its dead letters and how old its next job is. */
export interface QueueStats {
  /** Jobs waiting for a worker (BullMQ's wait and prioritized lists). */
  waiting: number
  active: number
  /** Jobs waiting for their retry delay. */
  delayed: number
  /** Failed jobs BullMQ still keeps (the worker removes each once it is dead-lettered). */
  failed: number
  completed: number
  /** Dead letters not replayed yet. */
  deadLetters: number
  /** Dead letters already replayed (kept for the record until purged). */
  replayed: number
  /**
   * How long ago the job a worker takes next (the oldest of the wait list)
   * was added, in ms; `null` when nothing waits. A retried job counts from
   * its first add.
   */
  oldestWaitingAgeMs: number | null
}

/** The queues and the connection {@link readQueueStats} reads. */
export interface StatsSource {
  queue: Queue
  deadLetters: Queue
  client: RedisClient
}

/** Reads the stats of a queue in a few round trips; rejects when Redis does. */
export async function readQueueStats ({ queue, deadLetters, client }: StatsSource, now = Date.now()): Promise<QueueStats> {
  const [counts, dead, oldest] = await Promise.all([
    queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
    deadLetters.getJobCounts('wait', 'completed'),
    oldestWaitingTimestamp(queue, client)
  ])
  return {
    waiting: n(counts.wait) + n(counts.prioritized),
    active: n(counts.active),
    delayed: n(counts.delayed),
    failed: n(counts.failed),
    completed: n(counts.completed),
    deadLetters: n(dead.wait),
    replayed: n(dead.completed),
    oldestWaitingAgeMs: oldest === undefined ? null : Math.max(0, now - oldest)
  }
}

// BullMQ pushes new jobs on the left of the wait list and takes from the right.
async function oldestWaitingTimestamp (queue: Queue, client: RedisClient): Promise<number | undefined> {
  const id = await client.lindex(queue.keys.wait, -1)
  if (id === null) return undefined
  const timestamp = Number(await client.hget(queue.toKey(id), 'timestamp'))
  return Number.isFinite(timestamp) && timestamp > 0 ? timestamp : undefined
}

/**
 * The cursor lag of every poller of the queue, by source, in ms (`null`
 * before a source's first complete run). Pollers are found by their job
 * schedulers on `pollQueue`.
 */
export async function readCursorLags (pollQueue: Queue, client: RedisClient, options: { prefix: string, queueName: string }, now = Date.now()): Promise<Map<string, number | null>> {
  const schedulers = await pollQueue.getJobSchedulers(0, 99)
  const sources = schedulers
    .map((s) => (s.template?.data as { source?: unknown } | undefined)?.source ?? s.key.replace(/^poll\./, ''))
    .filter((s): s is string => typeof s === 'string' && s !== '')
  const lags = new Map<string, number | null>()
  if (sources.length === 0) return lags
  const synced = await Promise.all(sources.map(async (source) => await client.get(pollKeys(options.prefix, options.queueName, source).synced)))
  sources.forEach((source, i) => {
    const at = Number(synced[i])
    lags.set(source, synced[i] === null || !Number.isFinite(at) ? null : Math.max(0, now - at))
  })
  return lags
}

/**
 * Reads a queue's stats, backlog and poller lags on a client it does not own;
 * the dead-letter and poll queues are opened on first use and closed by `close`.
 */
export class QueueProbe {
  readonly queueName: string
  readonly prefix: string
  readonly #client: RedisClient
  readonly #queue: Queue
  readonly #ownQueue: boolean
  readonly #pollQueueName: string
  #dlq: Queue | undefined
  #poll: Queue | undefined

  constructor (client: RedisClient, options: { queueName: string, prefix: string, queue?: Queue, pollQueueName?: string }) {
    this.#client = client
    this.queueName = options.queueName
    this.prefix = options.prefix
    this.#pollQueueName = options.pollQueueName ?? pollQueueName(options.queueName)
    this.#ownQueue = options.queue === undefined
    this.#queue = options.queue ?? this.#open(options.queueName)
  }

  /** The queue's stats, its dead letters included. */
  async stats (now = Date.now()): Promise<QueueStats> {
    this.#dlq ??= this.#open(deadLetterQueueName(this.queueName))
    return await readQueueStats({ queue: this.#queue, deadLetters: this.#dlq, client: this.#client }, now)
  }

  /** Jobs waiting for a worker or for their retry delay: what a worker outage grows. */
  async backlog (): Promise<number> {
    const counts = await this.#queue.getJobCounts('wait', 'prioritized', 'delayed')
    return n(counts.wait) + n(counts.prioritized) + n(counts.delayed)
  }

  /** The cursor lag of each poller of the queue (on its poll queue, `<queueName>-poll` by default), by source. */
  async cursorLags (now = Date.now()): Promise<Map<string, number | null>> {
    this.#poll ??= this.#open(this.#pollQueueName)
    return await readCursorLags(this.#poll, this.#client, this, now)
  }

  /** Closes the queues it opened; the client stays open. */
  async close (): Promise<void> {
    await Promise.allSettled([this.#dlq?.close(), this.#poll?.close(), this.#ownQueue ? this.#queue.close() : undefined])
  }

  #open (name: string): Queue {
    // No INFO-based version check: a Redis that refuses INFO stays readable.
    const queue = new Queue(name, { connection: this.#client, prefix: this.prefix, skipVersionCheck: true })
    queue.on('error', () => {})
    return queue
  }
}

function n (value: number | undefined): number {
  return value ?? 0
}
