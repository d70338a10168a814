/**
 * The options of `createPoller`: what each one does, its default, its unit
 * and the values it takes. Resolving and checking them is
 * `resolve-poller-options.ts`'s work; a value outside what is written here
 * throws `WEBHOOK_INVALID_OPTION`.
 */
import type { Logger } from 'pino'
import type { CursorStore } from './cursor.js'
import type { FetchChanges } from './poll-page.js'
import type { RedisConnection } from '../core/connection.js'
import type { MetricsOption } from '../core/prom.js'

/** Options of {@link createPoller}. Validated first: a bad value throws `WEBHOOK_INVALID_OPTION`. */
export interface PollerOptions<P = unknown> {
  /**
   * How to reach Redis: a `redis://` URL, ioredis options, or an ioredis
   * instance (which stays open when the poller closes). Required.
   * @defaultValue none
   */
  connection: RedisConnection
  /**
   * The event source, the same as the webhook route's, so both map an event
   * to one job id. Required; matches `/^[a-z][a-z0-9_-]{0,62}$/i`.
   * @defaultValue none
   */
  source: string
  /**
   * Asks the provider for the changes after a cursor:
   * `(cursor, ctx) => ({ events, cursor, hasMore })`, may be async. Required.
   * @defaultValue none
   */
  fetchChanges: FetchChanges<P>
  /**
   * The cursor of the very first run, or a (possibly async) function
   * computing it; saved before the first page. Required.
   * @defaultValue none
   */
  initialCursor: string | (() => string | Promise<string>)
  /**
   * The queue the events go to, the same as the plugin's and the worker's.
   * A non-empty string without `:`.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix, the same on plugin, worker and poller. A non-empty
   * string without `:`.
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * The queue of the poll schedule. Each poller (source) of a queue needs its
   * own. A non-empty string without `:`, other than `queueName` (the webhook
   * worker would take the poll jobs).
   * @defaultValue `` `${queueName}-poll` ``
   */
  pollQueueName?: string
  /**
   * Milliseconds between scheduled runs (BullMQ's job scheduler `every`). An
   * integer from 10 and up.
   * @defaultValue `60_000`
   */
  every?: number
  /**
   * Pages fetched at most per run; the rest waits for the next run. An
   * integer from 1 and up.
   * @defaultValue `10`
   */
  maxPagesPerRun?: number
  /**
   * When the last run that reached `hasMore: false` is older than this, in
   * milliseconds, warn and run a catch-up at once instead of waiting for the
   * schedule. Looked at after every run, and every `lagThresholdMs` in case
   * the schedule stalls. An integer from 1 and up.
   * @defaultValue `300_000`
   */
  lagThresholdMs?: number
  /**
   * Run once when the poller starts, instead of waiting `every`.
   * @defaultValue `true`
   */
  runOnStart?: boolean
  /**
   * Keep the cursor here instead of in Redis: an object with `load()` and a
   * compare-and-set `save(next, prev, { token, source })`, e.g. in your database.
   * @defaultValue `undefined` (Redis, under the queue's keys)
   */
  store?: CursorStore
  /**
   * How long a run's lease lives without renewal, in milliseconds; it is
   * renewed every third of it while the run is alive. An integer from 300 and up.
   * @defaultValue `30_000`
   */
  leaseMs?: number
  /**
   * A `fetchChanges` call slower than this, in milliseconds, is aborted
   * through `ctx.signal` and counts as a failure. An integer from 1 and up.
   * @defaultValue `30_000`
   */
  fetchTimeoutMs?: number
  /**
   * Calls of `fetchChanges` per page before the run gives up (the next run
   * starts from the same cursor). An integer from 1 and up.
   * @defaultValue `3`
   */
  fetchAttempts?: number
  /**
   * The delay before retry k is uniform in [d/2, d], d = min(60 s,
   * fetchBackoffMs · 2^(k-1)), in milliseconds. An integer from 0 and up.
   * @defaultValue `1000`
   */
  fetchBackoffMs?: number
  /**
   * Deadline for Redis to be ready and to take a page's events (and for each
   * lease or cursor command), in milliseconds. An integer from 1 and up.
   * @defaultValue `5000`
   */
  enqueueTimeoutMs?: number
  /**
   * BullMQ lock duration of poll jobs, in milliseconds. An integer from 100 and up.
   * @defaultValue `30_000`
   */
  lockDuration?: number
  /**
   * BullMQ stalled-job check interval of the poll queue, in milliseconds. An
   * integer from 100 and up.
   * @defaultValue `30_000`
   */
  stalledInterval?: number
  /**
   * A pino logger: fetch failures at warn, failed runs at error, lag at warn,
   * runs at debug. `false` logs nothing.
   * @defaultValue a pino logger writing `warn` and above to stderr
   */
  logger?: Logger | false
  /**
   * Prometheus metrics through prom-client (an optional peer dependency):
   * `true` for its default registry, a `Registry`, or `false` for none.
   * Without prom-client, `ready()` rejects with
   * `WEBHOOK_MISSING_DEPENDENCY`.
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
