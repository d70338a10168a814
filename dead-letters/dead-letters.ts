import { connectionProblem, createWorkerClient, type RedisConnection } from '../core/connection.js'
import type { DeadLetter, DeadLetterCursor, DeadLetterCursorPage, DeadLetterFilter, DeadLetterPage, ReplayResult } from './dead-letter-record.js'
import { DeadLetterStore, invalid } from './dead-letter-store.js'
import { checkRedisName, expected } from '../core/validate.js'

/** Where the dead letters of a queue are. */
export interface DeadLettersOptions {
  /** How to reach Redis, as for the worker. */
  connection: RedisConnection
  /** The event queue (not the dead-letter queue). @defaultValue `'integration-events'` */
  queueName?: string
  /** BullMQ's key prefix. @defaultValue `'bull'` */
  prefix?: string
}

/** Options of `replay`. */
export interface ReplayOptions {
  /** Apply again even if the event (or its replayKey) was applied within the dedupe TTL. @defaultValue `false` */
  force?: boolean
}

/** The dead-letter API. */
export interface DeadLetters {
  /**
   * Dead letters matching the filter: pending ones first, then replayed ones,
   * each in the order they were created. To go through many, use `page`:
   * an offset shifts while letters are written, replayed and purged.
   */
  list: (filter?: DeadLetterFilter, page?: DeadLetterPage) => Promise<DeadLetter[]>
  /**
   * One page of the dead letters matching the filter, in the order of their
   * creation (pending and replayed together), and, when the page is full, the
   * cursor of the next page (`after: next`). A walk sees every letter
   * that exists from its first page to its last exactly once, whatever is
   * written, replayed or purged meanwhile.
   */
  page: (filter?: DeadLetterFilter, cursor?: DeadLetterCursor) => Promise<DeadLetterCursorPage>
  /** One dead letter, or `undefined`. */
  get: (id: string) => Promise<DeadLetter | undefined>
  /**
   * Queues dead letters again (origin `'replay'`): a second replay reports
   * `'already-replayed'`, until the event fails again (its letter is then
   * pending again). When a job of the event is still in the event queue,
   * nothing is queued: `'not-queued'`, and the letter stays pending. The
   * replayed job honours the done marker unless `force`. A filter replays the
   * matching letters not replayed yet.
   */
  replay: {
    (id: string, options?: ReplayOptions): Promise<ReplayResult>
    (filter: DeadLetterFilter, options?: ReplayOptions): Promise<ReplayResult[]>
  }
  /** Deletes the matching dead letters (all without a filter); resolves to how many. */
  purge: (filter?: DeadLetterFilter) => Promise<number>
  /** How many dead letters match (all without a filter): one per event. */
  count: (filter?: DeadLetterFilter) => Promise<number>
  /** Closes what this object opened. On a worker's `deadLetters`, a no-op: the worker's `close` does it. */
  close: () => Promise<void>
}

/** Opens the dead letters of a queue without a worker, e.g. from an admin script. Close it when done. */
export function createDeadLetters (options: DeadLettersOptions): DeadLetters {
  if (typeof options !== 'object' || options === null) invalid.fail(expected('options', 'an object', options))
  const problem = connectionProblem(options.connection)
  if (problem !== undefined) invalid.fail(`Expected \`connection\` to be ${problem}`)
  const queueName = options.queueName ?? 'integration-events'
  const prefix = options.prefix ?? 'bull'
  invalid.failIf(checkRedisName('queueName', queueName))
  invalid.failIf(checkRedisName('prefix', prefix))
  const managed = createWorkerClient(options.connection)
  const store = new DeadLetterStore(managed.client, { queueName, prefix })
  return deadLettersApi(store, async () => {
    await store.close()
    await managed.close()
  })
}

/** The public face of a store, with the given `close`. */
export function deadLettersApi (store: DeadLetterStore, close: () => Promise<void>): DeadLetters {
  return {
    list: async (filter, page) => await store.list(filter, page),
    page: async (filter, cursor) => await store.page(filter, cursor),
    get: async (id) => await store.get(id),
    replay: (async (target: string | DeadLetterFilter, options?: ReplayOptions) => await store.replay(target, options)) as DeadLetters['replay'],
    purge: async (filter) => await store.purge(filter),
    count: async (filter) => await store.count(filter),
    close
  }
}
