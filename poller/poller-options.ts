import { pino, type Logger } from 'pino'
import type { CursorStore } from './cursor.js'
import type { FetchChanges } from './poll-page.js'
import { connectionProblem, type RedisConnection } from '../core/connection.js'
import { SOURCE_PATTERN } from '../core/event.js'
import { WebhookErrors } from '../core/errors.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkRedisName, checkString, expected, unknownKeys
} from '../core/validate.js'

/** Options of {@link createPoller}. */
export interface PollerOptions<P = unknown> {
  /** How to reach Redis. An instance you pass stays open. */
  connection: RedisConnection
  /** The event source, the same as the webhook route's, so both map to one job id. */
  source: string
  /** Asks the provider for the changes after a cursor. */
  fetchChanges: FetchChanges<P>
  /** The cursor of the very first run, or a (possibly async) function computing it; saved before the first page. */
  initialCursor: string | (() => string | Promise<string>)
  /**
   * The queue the events go to.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix, the same on plugin, worker and poller.
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * The queue of the poll schedule. Each poller (source) of a queue needs its own.
   * @defaultValue `` `${queueName}-poll` ``
   */
  pollQueueName?: string
  /**
   * Milliseconds between scheduled runs (BullMQ's job scheduler `every`).
   * @defaultValue `60_000`
   */
  every?: number
  /**
   * Pages fetched at most per run.
   * @defaultValue `10`
   */
  maxPagesPerRun?: number
  /**
   * When the last run that reached `hasMore: false` is older than this, warn
   * and run a catch-up at once instead of waiting for the schedule. Looked at
   * after every run, and every `lagThresholdMs` in case the schedule stalls.
   * @defaultValue `300_000`
   */
  lagThresholdMs?: number
  /**
   * Run once when the poller starts, instead of waiting `every`.
   * @defaultValue `true`
   */
  runOnStart?: boolean
  /**
   * Keep the cursor here instead of in Redis.
   * @defaultValue `undefined` (Redis, under the queue's keys)
   */
  store?: CursorStore
  /**
   * How long a run's lease lives without renewal; it is renewed every third of it while the run is alive.
   * @defaultValue `30_000`
   */
  leaseMs?: number
  /**
   * A `fetchChanges` call slower than this is aborted through `ctx.signal` and counts as a failure.
   * @defaultValue `30_000`
   */
  fetchTimeoutMs?: number
  /**
   * Calls of `fetchChanges` per page before the run gives up (the next run starts from the same cursor).
   * @defaultValue `3`
   */
  fetchAttempts?: number
  /**
   * The delay before retry k is uniform in [d/2, d], d = min(60 s, fetchBackoffMs · 2^(k-1)).
   * @defaultValue `1000`
   */
  fetchBackoffMs?: number
  /**
   * Deadline for Redis to be ready and to take a page's events (and for each lease or cursor command).
   * @defaultValue `5000`
   */
  enqueueTimeoutMs?: number
  /**
   * BullMQ lock duration of poll jobs.
   * @defaultValue `30_000`
   */
  lockDuration?: number
  /**
   * BullMQ stalled-job check interval of the poll queue.
   * @defaultValue `30_000`
   */
  stalledInterval?: number
  /**
   * A pino logger: fetch failures at warn, failed runs at error, lag at warn, runs at debug.
   * @defaultValue a silent logger
   */
  logger?: Logger
  /**
   * Prometheus metrics through prom-client (an optional peer dependency):
   * `true` for its default registry, or a `Registry`. Without prom-client,
   * `ready()` rejects with `WEBHOOK_MISSING_DEPENDENCY`.
   * @defaultValue `false`
   */
  metrics?: MetricsOption
  /**
   * With `metrics`, also compute the queue gauges (and this poll queue's
   * cursor lag) at each scrape. Off: the plugin computes them by default.
   * @defaultValue `false`
   */
  queueMetrics?: boolean
}

/** The defaults of {@link PollerOptions}; every default lives here and nowhere else. */
export const POLLER_DEFAULTS = {
  queueName: 'integration-events',
  prefix: 'bull',
  every: 60_000,
  maxPagesPerRun: 10,
  lagThresholdMs: 300_000,
  runOnStart: true,
  leaseMs: 30_000,
  fetchTimeoutMs: 30_000,
  fetchAttempts: 3,
  fetchBackoffMs: 1000,
  enqueueTimeoutMs: 5000,
  lockDuration: 30_000,
  stalledInterval: 30_000,
  logger: pino({ level: 'silent' }),
  metrics: false as MetricsOption,
  queueMetrics: false
} as const

const KNOWN = [
  'connection', 'source', 'fetchChanges', 'initialCursor', 'store', 'pollQueueName', ...Object.keys(POLLER_DEFAULTS)
] as const

const DURATIONS = [
  ['every', 10], ['lagThresholdMs', 1], ['leaseMs', 300], ['fetchTimeoutMs', 1], ['fetchBackoffMs', 0],
  ['enqueueTimeoutMs', 1], ['lockDuration', 100], ['stalledInterval', 100]
] as const

/**
 * Checks poller options and fills in defaults. Pure; throws a
 * `WEBHOOK_INVALID_OPTION` `TypeError` for the first problem found.
 */
export function validatePollerOptions<P> (options: PollerOptions<P>): Required<Omit<PollerOptions<P>, 'store'>> & Pick<PollerOptions<P>, 'store'> {
  if (typeof options !== 'object' || options === null) fail(expected('options', 'an object', options))
  const unknown = unknownKeys(options, KNOWN)
  if (unknown.length > 0) fail(`Unknown option \`${unknown[0]}\`; known options are ${KNOWN.join(', ')}`)
  const o = { ...POLLER_DEFAULTS, ...stripUndefined(options) }
  const problem = connectionProblem(o.connection)
  check(problem === undefined ? undefined : `Expected \`connection\` to be ${problem}`)
  check(checkString('source', o.source, SOURCE_PATTERN))
  check(checkFunction('fetchChanges', o.fetchChanges))
  if (typeof o.initialCursor !== 'string' && typeof o.initialCursor !== 'function') {
    fail(expected('initialCursor', 'a string or a function returning one', o.initialCursor))
  }
  check(checkRedisName('queueName', o.queueName))
  check(checkRedisName('prefix', o.prefix))
  const pollQueue = o.pollQueueName ?? `${o.queueName}-poll`
  check(checkRedisName('pollQueueName', pollQueue))
  if (pollQueue === o.queueName) fail(expected('pollQueueName', 'a queue other than `queueName`', pollQueue, 'The webhook worker would take poll jobs'))
  for (const [name, min] of DURATIONS) check(checkInteger(name, o[name], min))
  check(checkInteger('maxPagesPerRun', o.maxPagesPerRun, 1))
  check(checkInteger('fetchAttempts', o.fetchAttempts, 1))
  check(checkBoolean('runOnStart', o.runOnStart))
  check(metricsProblem(o.metrics))
  check(checkBoolean('queueMetrics', o.queueMetrics))
  if (o.store !== undefined) {
    if (typeof o.store !== 'object' || o.store === null) fail(expected('store', 'an object with load() and save(next, prev)', o.store))
    check(checkFunction('store.load', o.store.load))
    check(checkFunction('store.save', o.store.save))
  }
  if (typeof o.logger !== 'object' || o.logger === null || typeof o.logger.child !== 'function') {
    fail(expected('logger', 'a pino logger', o.logger))
  }
  return { ...o, pollQueueName: pollQueue }
}

function stripUndefined<T extends object> (options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T
}

function check (problem: string | undefined): void {
  if (problem !== undefined) fail(problem)
}

function fail (message: string): never {
  throw new WebhookErrors.WEBHOOK_INVALID_OPTION(message)
}
