import { Queue } from 'bullmq'
import { createWorkerClient, type RedisConnection } from '../core/connection.js'
import { PLUGIN_DEFAULTS } from '../plugin/resolve-options.js'
import { TestingErrors } from './errors.js'

/** A queue to drain, by where it lives. */
export interface DrainTarget {
  /** How to reach Redis, as on the plugin and the worker. */
  connection: RedisConnection
  /** @defaultValue `'integration-events'` */
  queueName?: string
  /** BullMQ's key prefix. @defaultValue `'bull'` */
  prefix?: string
}

/** Options of {@link drain}. */
export interface DrainOptions {
  /** How long to wait for the queue to empty. @defaultValue `10000` */
  timeoutMs?: number
}

/** The jobs {@link drain} waits for: any of them means an event is not settled yet. */
export interface PendingCounts {
  waiting: number
  active: number
  delayed: number
  prioritized: number
}

const STATES = ['waiting', 'active', 'delayed', 'prioritized'] as const
const POLL_MS = 25

/**
 * Waits until the queue holds no waiting, active, delayed (a retry, a
 * postponed attempt) or prioritized job: every event in it was applied,
 * skipped (a duplicate, a replay, stale) or dead-lettered. Pass the BullMQ
 * `Queue` (e.g. `app.webhooks.get(name).queue`), or where the queue lives; a
 * queue opened here is closed before it returns. Rejects with
 * `WEBHOOK_TESTING_TIMEOUT` after `timeoutMs`, with the last counts seen (or
 * the last Redis error) in its message.
 *
 * A job a worker is about to retry with a long delay counts as pending: give
 * the worker short retry delays in tests, or a `timeoutMs` to match.
 *
 * @example
 * await app.inject(signedRequest(provider, { id: 'evt_1', type: 'invoice.paid' }))
 * await drain({ connection: redis.url })
 * assert.deepEqual(applied, ['evt_1'])
 */
export async function drain (target: Queue | DrainTarget, options: DrainOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadline = Date.now() + timeoutMs
  if (isQueue(target)) {
    await waitUntilEmpty(target, deadline, timeoutMs)
    return
  }
  const managed = createWorkerClient(target.connection, { connectionName: 'fhw-testing-drain' })
  const queue = new Queue(target.queueName ?? PLUGIN_DEFAULTS.queueName, { connection: managed.client, prefix: target.prefix ?? PLUGIN_DEFAULTS.prefix })
  queue.on('error', () => {})
  try {
    await waitUntilEmpty(queue, deadline, timeoutMs)
  } finally {
    await queue.close().catch(() => {})
    await managed.close()
  }
}

async function waitUntilEmpty (queue: Queue, deadline: number, timeoutMs: number): Promise<void> {
  let last: PendingCounts | undefined
  let lastError: unknown
  for (;;) {
    const left = deadline - Date.now()
    try {
      const counts = await beforeDeadline(queue.getJobCounts(...STATES), left)
      if (counts !== undefined) {
        last = { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, prioritized: counts.prioritized ?? 0 }
        lastError = undefined
        if (STATES.every((state) => last?.[state] === 0)) return
      }
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const seen = last === undefined ? 'no counts read' : STATES.map((state) => `${state} ${last?.[state] ?? 0}`).join(', ')
      const error = lastError === undefined ? '' : `; last error: ${(lastError as Error).message}`
      throw new TestingErrors.WEBHOOK_TESTING_TIMEOUT(`drain(): queue ${queue.name} still has jobs after ${timeoutMs} ms (${seen}${error})`)
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))))
  }
}

// A Redis that stops answering must not hold drain() past its deadline.
async function beforeDeadline<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  promise.catch(() => {})
  return await Promise.race([
    promise,
    new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), Math.max(0, ms)) })
  ]).finally(() => clearTimeout(timer))
}

// Duck-typed: the app may hold another copy of BullMQ.
function isQueue (value: unknown): value is Queue {
  return typeof (value as Queue | null)?.getJobCounts === 'function' && typeof (value as Queue).name === 'string'
}
