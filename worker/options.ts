import { pino, type Logger } from 'pino'
import type { Job } from 'bullmq'
import { connectionProblem, type RedisConnection } from '../core/connection.js'
import { WebhookErrors } from '../core/errors.js'
import type { WebhookEvent } from '../core/event.js'
import { ATTEMPTS_CEILING } from '../core/job-options.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkOneOf, checkRedisName, expected, unknownKeys
} from '../core/validate.js'

/** What `hydrate` and `apply` are given besides the event. */
export interface WorkerContext {
  /** `safeJobId(source, id)`: stable across retries, redeliveries and replays. Store it with your effect. */
  idempotencyKey: string
  /** 1 for the first attempt; a stall re-run keeps the number of the attempt it interrupted. */
  attempt: number
  /** Where the event came from: `'webhook'`, `'poll'` or `'replay'`. */
  origin: WebhookEvent['origin']
  /**
   * Aborted on timeout, when the claim is lost (taken by another worker, or
   * not renewed by the lease's local deadline, as in a partition from Redis),
   * or when the worker is forced to close. Once it aborts, stop writing and
   * throw (`ctx.signal.throwIfAborted()`): another attempt may take over, and
   * on the last attempt an apply that resolves after its timeout is
   * committed as applied (see `applyGraceMs`).
   */
  signal: AbortSignal
  /**
   * The claim's fencing token: a positive integer from one counter per queue,
   * so every later claim of the event (a retry, a takeover after a stall or a
   * partition, a replay) has a higher one, for as long as Redis keeps its
   * data. Store it with your effect and refuse a write whose fence is not
   * higher than the stored one (`… WHERE fence < $fence`): that refuses the
   * late write of an apply that ran on past its timeout or its lease.
   */
  fence: number
  /** A child of the `logger` option, bound to the job and event ids. */
  log: Logger
  /** The BullMQ job. */
  job: Job
  /**
   * The version last committed for the event's object (see the `version`
   * option), read when the claim was taken and again, under the object's
   * lease, just before `apply`; `undefined` when none was committed (or no
   * `version` option). After a deletion (a committed `null` state), the
   * version committed before it. A transactional apply can guard with it
   * (`… WHERE version < $new`).
   */
  lastAppliedVersion?: ObjectVersion
}

/**
 * A state's version: a number, a bigint or a string. Strings compare
 * lexicographically (by UTF-16 code unit), so use ISO-8601 timestamps or
 * zero-padded counters; numbers and bigints compare numerically.
 */
export type ObjectVersion = number | bigint | string

/** Names the object an event is about (e.g. `stripe:cus_123`); `undefined` opts the event out of sharing and ordering. */
export type ObjectKeyOf<P = unknown> = (event: WebhookEvent<P>) => string | undefined

/** Reads the version of a hydrated (non-null) state, e.g. its `updated_at` or a sequence number. */
export type VersionOf<S> = (state: S) => ObjectVersion

/** A budget for `hydrate` calls, shared by every worker of the queue: at most `max` calls in any `duration` ms. */
export interface RateLimitOptions {
  /**
   * Calls allowed in any window of `duration` ms. Required.
   * @defaultValue none
   */
  max: number
  /**
   * The window, in ms (the name mirrors BullMQ's limiter). Required.
   * @defaultValue none
   */
  duration: number
}

/**
 * Fetches the authoritative state for an event, usually from the provider's
 * API. Return `null` when the object no longer exists: `apply` still runs, with
 * `null`, so it can delete its copy.
 */
export type Hydrate<S, P = unknown> = (event: WebhookEvent<P>, ctx: WorkerContext) => S | null | Promise<S | null>

/**
 * Writes the state. For exactly-once effects, write the effect and
 * `ctx.idempotencyKey` in one transaction and skip when the key is there.
 */
export type Apply<S, P = unknown> = (state: S | null, event: WebhookEvent<P>, ctx: WorkerContext) => unknown

/** The retry schedule: retry k waits a uniform delay in [d/2, d], d = min(maxDelayMs, baseDelayMs · 2^(k-1)). */
export interface RetryOptions {
  /**
   * Attempts in all, the first included. When they are spent the event is dead-lettered.
   * @defaultValue `24`
   */
  attempts?: number
  /**
   * The delay bound d of the first retry.
   * @defaultValue `1000`
   */
  baseDelayMs?: number
  /**
   * The largest delay bound.
   * @defaultValue `600000` (10 minutes)
   */
  maxDelayMs?: number
}

/** How long done markers are kept. */
export interface DedupeOptions {
  /**
   * How long an applied event id (and its `replayKey`) is remembered, so a
   * duplicate within that time is skipped: a number, or a function of the
   * event (e.g. a preset's suggestion per source). Memory: about
   * event rate × TTL × 200 bytes.
   * @defaultValue `1209600000` (14 days)
   */
  ttlMs?: number | ((event: WebhookEvent) => number)
}

/** Dead-letter settings. */
export interface DeadLetterOptions {
  /**
   * `deadLetterAlert` fires when the number of dead letters not yet replayed
   * reaches this, and re-arms once it is back below half of it.
   * @defaultValue `10`
   */
  alertThreshold?: number
  /**
   * Keep the error's stack in the dead letter. Off by default: stacks are
   * large and may reveal paths.
   * @defaultValue `false`
   */
  includeStack?: boolean
}

/** What the worker does when Redis lacks AOF or `maxmemory-policy noeviction`. */
export type WorkerPersistenceCheck = 'warn' | 'refuse' | 'off'

/** Options of `createWebhookWorker`. Validated first: a bad value throws `WEBHOOK_INVALID_OPTION`. */
export interface WebhookWorkerOptions<S = unknown, P = unknown> {
  /**
   * How to reach Redis: a `redis://` URL, ioredis options, or an ioredis
   * instance (left open on close; one without `maxRetriesPerRequest: null`
   * is duplicated). Required.
   * @defaultValue none
   */
  connection: RedisConnection
  /**
   * Writes the hydrated state. Required.
   * @defaultValue none
   */
  apply: Apply<S, P>
  /**
   * Fetches the state to apply.
   * @defaultValue the event's `payload`
   */
  hydrate?: Hydrate<S, P>
  /**
   * The BullMQ queue to consume.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix, the same as the plugin's (a hash tag such as `'{webhooks}'` on Redis Cluster).
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * Jobs processed at once by this worker.
   * @defaultValue `10`
   */
  concurrency?: number
  /**
   * How long `hydrate` may take; then `ctx.signal` aborts and the attempt fails (and is retried).
   * @defaultValue `30000`
   */
  hydrateTimeoutMs?: number
  /**
   * How long `apply` may take; then `ctx.signal` aborts and the attempt
   * fails (and is retried) once apply has settled, or `applyGraceMs` has passed.
   * @defaultValue `60000`
   */
  applyTimeoutMs?: number
  /**
   * After `apply` times out, how long the attempt still waits for it to
   * settle, keeping the event's claim (and object lease) renewed, so no other
   * attempt of the event starts meanwhile. The timed-out attempt then fails
   * (and is retried); on the last attempt, an apply that resolved within
   * this time is committed as applied instead of dead-lettered. Past it, the
   * claim is left to lapse within one `lockDuration` while the apply may
   * still run: `ctx.fence` is then what refuses its late write.
   * @defaultValue `60000`
   */
  applyGraceMs?: number
  /**
   * The retry schedule. About 1.2 to 2.5 hours in all by default.
   * @defaultValue `{ attempts: 24, baseDelayMs: 1000, maxDelayMs: 600000 }`
   */
  retry?: RetryOptions
  /**
   * Done-marker retention.
   * @defaultValue `{ ttlMs: 1209600000 }`
   */
  dedupe?: DedupeOptions
  /**
   * BullMQ's job lock, which the claim on the event follows. Must be the same on every worker of the queue.
   * @defaultValue `30000`
   */
  lockDuration?: number
  /**
   * How often BullMQ looks for stalled jobs. Must be the same on every worker of the queue.
   * @defaultValue `30000`
   */
  stalledInterval?: number
  /**
   * How many times a job may stall before it is dead-lettered (stage `stalled`). Must be the same on every worker of the queue.
   * @defaultValue `2`
   */
  maxStalledCount?: number
  /**
   * Dead-letter settings.
   * @defaultValue `{ alertThreshold: 10, includeStack: false }`
   */
  deadLetters?: DeadLetterOptions
  /**
   * Checks `appendonly yes` and `maxmemory-policy noeviction` at start and
   * after reconnects: `'warn'` logs, `'refuse'` refuses to start, `'off'` skips.
   * @defaultValue `'warn'`
   */
  persistenceCheck?: WorkerPersistenceCheck
  /**
   * A pino logger: one line per attempt at debug, failures at warn, dead letters at error.
   * @defaultValue a silent logger
   */
  logger?: Logger
  /**
   * At most `max` calls to `hydrate` in any `duration` ms, across every worker
   * of the queue (a budget kept in Redis). Cache hits and shared calls are
   * free. A job over the budget waits, or is delayed without spending an
   * attempt. For example `{ max: 50, duration: 60_000 }`.
   * @defaultValue none (no limit)
   */
  rateLimit?: RateLimitOptions
  /**
   * The object an event is about. Enables sharing one `hydrate` call among the
   * events of an object (and `hydrateCacheMs`), and with `version`, ordering.
   * @defaultValue none
   */
  objectKey?: ObjectKeyOf<P>
  /**
   * The version of a hydrated state. With `objectKey`, applies for one object
   * never overlap, and a state older than the last committed version of its
   * object is skipped (counted as `stale`), never applied. A `null` state
   * (deleted) commits a tombstone: after it, only a state fetched after the
   * deletion was confirmed is applied. Committed versions and tombstones are
   * kept as long as the done marker (`dedupe.ttlMs`).
   * @defaultValue none
   */
  version?: VersionOf<S>
  /**
   * Also skip a state whose version equals the last committed one (counted as `unchanged`).
   * @defaultValue `false`
   */
  skipEqualVersion?: boolean
  /**
   * Keep each object's hydrated state this long, per process, for events
   * received before its fetch started. `0` turns the cache off. Needs `objectKey`.
   * @defaultValue `0`
   */
  hydrateCacheMs?: number
  /**
   * How far the ingress clock (`receivedAt`) and this worker's may disagree: a
   * shared or cached state serves an event only if its fetch started more
   * than this after the event was received.
   * @defaultValue `1000`
   */
  clockSkewMs?: number
  /**
   * Prometheus metrics through prom-client (an optional peer dependency):
   * `true` for its default registry, or a `Registry`. Without prom-client,
   * the worker refuses to start with `WEBHOOK_MISSING_DEPENDENCY`.
   * @defaultValue `false`
   */
  metrics?: MetricsOption
  /**
   * With `metrics`, also compute the queue gauges at each scrape. Off: the
   * plugin computes them by default, and a worker fleet would repeat them.
   * @defaultValue `false`
   */
  queueMetrics?: boolean
}

/** The options after defaults and validation. */
export interface ResolvedWorkerOptions<S = unknown, P = unknown> {
  connection: RedisConnection
  apply: Apply<S, P>
  hydrate: Hydrate<S, P> | undefined
  queueName: string
  prefix: string
  concurrency: number
  hydrateTimeoutMs: number
  applyTimeoutMs: number
  applyGraceMs: number
  retry: Required<RetryOptions>
  dedupe: Required<DedupeOptions>
  lockDuration: number
  stalledInterval: number
  maxStalledCount: number
  deadLetters: Required<DeadLetterOptions>
  persistenceCheck: WorkerPersistenceCheck
  logger: Logger
  rateLimit: RateLimitOptions | undefined
  objectKey: ObjectKeyOf<P> | undefined
  version: VersionOf<S> | undefined
  skipEqualVersion: boolean
  hydrateCacheMs: number
  clockSkewMs: number
  metrics: MetricsOption
  queueMetrics: boolean
}

/** The default of every optional option. */
export const WORKER_DEFAULTS = {
  queueName: 'integration-events',
  prefix: 'bull',
  concurrency: 10,
  hydrateTimeoutMs: 30_000,
  applyTimeoutMs: 60_000,
  applyGraceMs: 60_000,
  retry: { attempts: 24, baseDelayMs: 1000, maxDelayMs: 600_000 },
  dedupe: { ttlMs: 14 * 24 * 3_600_000 },
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 2,
  deadLetters: { alertThreshold: 10, includeStack: false },
  persistenceCheck: 'warn' as WorkerPersistenceCheck,
  logger: pino({ level: 'silent' }),
  skipEqualVersion: false,
  hydrateCacheMs: 0,
  clockSkewMs: 1000,
  metrics: false as MetricsOption,
  queueMetrics: false
} as const

const KNOWN = [
  'connection', 'apply', 'hydrate', 'queueName', 'prefix', 'concurrency', 'hydrateTimeoutMs', 'applyTimeoutMs',
  'applyGraceMs', 'retry', 'dedupe', 'lockDuration', 'stalledInterval', 'maxStalledCount', 'deadLetters', 'persistenceCheck', 'logger',
  'rateLimit', 'objectKey', 'version', 'skipEqualVersion', 'hydrateCacheMs', 'clockSkewMs', 'metrics', 'queueMetrics'
] as const
const HOUR_MS = 3_600_000

/**
 * Applies defaults and checks every option. Pure: throws
 * `WEBHOOK_INVALID_OPTION` (a `TypeError`) for the first bad option.
 */
export function validateWorkerOptions<S, P> (options: WebhookWorkerOptions<S, P>): ResolvedWorkerOptions<S, P> {
  const o = objectOf('options', options)
  failIf(unknownOption('', o, KNOWN))
  const connection = connectionProblem(o.connection)
  if (connection !== undefined) fail(`Expected \`connection\` to be ${connection}`)
  failIf(checkFunction('apply', o.apply))
  if (o.hydrate !== undefined) failIf(checkFunction('hydrate', o.hydrate))

  const retry = nested('retry', o.retry, WORKER_DEFAULTS.retry)
  const dedupe = nested('dedupe', o.dedupe, WORKER_DEFAULTS.dedupe)
  const deadLetters = nested('deadLetters', o.deadLetters, WORKER_DEFAULTS.deadLetters)
  const resolved: ResolvedWorkerOptions<S, P> = {
    connection: o.connection as RedisConnection,
    apply: o.apply as Apply<S, P>,
    hydrate: o.hydrate as Hydrate<S, P> | undefined,
    queueName: pick(o.queueName, WORKER_DEFAULTS.queueName),
    prefix: pick(o.prefix, WORKER_DEFAULTS.prefix),
    concurrency: pick(o.concurrency, WORKER_DEFAULTS.concurrency),
    hydrateTimeoutMs: pick(o.hydrateTimeoutMs, WORKER_DEFAULTS.hydrateTimeoutMs),
    applyTimeoutMs: pick(o.applyTimeoutMs, WORKER_DEFAULTS.applyTimeoutMs),
    applyGraceMs: pick(o.applyGraceMs, WORKER_DEFAULTS.applyGraceMs),
    retry: retry as Required<RetryOptions>,
    dedupe: dedupe as Required<DedupeOptions>,
    lockDuration: pick(o.lockDuration, WORKER_DEFAULTS.lockDuration),
    stalledInterval: pick(o.stalledInterval, WORKER_DEFAULTS.stalledInterval),
    maxStalledCount: pick(o.maxStalledCount, WORKER_DEFAULTS.maxStalledCount),
    deadLetters: deadLetters as Required<DeadLetterOptions>,
    persistenceCheck: pick(o.persistenceCheck, WORKER_DEFAULTS.persistenceCheck),
    logger: pick(o.logger, WORKER_DEFAULTS.logger),
    rateLimit: rateLimitOption(o.rateLimit),
    objectKey: o.objectKey as ObjectKeyOf<P> | undefined,
    version: o.version as VersionOf<S> | undefined,
    skipEqualVersion: pick(o.skipEqualVersion, WORKER_DEFAULTS.skipEqualVersion),
    hydrateCacheMs: pick(o.hydrateCacheMs, WORKER_DEFAULTS.hydrateCacheMs),
    clockSkewMs: pick(o.clockSkewMs, WORKER_DEFAULTS.clockSkewMs),
    metrics: pick(o.metrics, WORKER_DEFAULTS.metrics),
    queueMetrics: pick(o.queueMetrics, WORKER_DEFAULTS.queueMetrics)
  }

  failIf(checkRedisName('queueName', resolved.queueName))
  failIf(checkRedisName('prefix', resolved.prefix))
  failIf(checkInteger('concurrency', resolved.concurrency, 1, 10_000))
  failIf(checkInteger('hydrateTimeoutMs', resolved.hydrateTimeoutMs, 1, 24 * HOUR_MS))
  failIf(checkInteger('applyTimeoutMs', resolved.applyTimeoutMs, 1, 24 * HOUR_MS))
  failIf(checkInteger('applyGraceMs', resolved.applyGraceMs, 0, 24 * HOUR_MS))
  failIf(checkInteger('retry.attempts', retry.attempts, 1, ATTEMPTS_CEILING))
  failIf(checkInteger('retry.baseDelayMs', retry.baseDelayMs, 0, 24 * HOUR_MS))
  failIf(checkInteger('retry.maxDelayMs', retry.maxDelayMs, retry.baseDelayMs as number, 24 * HOUR_MS))
  if (typeof dedupe.ttlMs !== 'function') failIf(checkInteger('dedupe.ttlMs', dedupe.ttlMs, 1000))
  failIf(checkInteger('lockDuration', resolved.lockDuration, 100, HOUR_MS))
  failIf(checkInteger('stalledInterval', resolved.stalledInterval, 100, HOUR_MS))
  failIf(checkInteger('maxStalledCount', resolved.maxStalledCount, 0, 1000))
  failIf(checkInteger('deadLetters.alertThreshold', deadLetters.alertThreshold, 1))
  failIf(checkBoolean('deadLetters.includeStack', deadLetters.includeStack))
  failIf(checkOneOf('persistenceCheck', resolved.persistenceCheck, ['warn', 'refuse', 'off']))
  const logger = resolved.logger as unknown as Record<string, unknown>
  if (typeof logger !== 'object' || logger === null || typeof logger.child !== 'function' || typeof logger.debug !== 'function') {
    fail(expected('logger', 'a pino logger', resolved.logger))
  }
  checkSharing(resolved)
  failIf(metricsProblem(resolved.metrics))
  failIf(checkBoolean('queueMetrics', resolved.queueMetrics))
  return resolved
}

function rateLimitOption (value: unknown): RateLimitOptions | undefined {
  if (value === undefined) return undefined
  const o = objectOf('rateLimit', value)
  failIf(unknownOption('rateLimit.', o, ['max', 'duration']))
  failIf(checkInteger('rateLimit.max', o.max, 1, 1_000_000))
  failIf(checkInteger('rateLimit.duration', o.duration, 1, 24 * HOUR_MS))
  return { max: o.max as number, duration: o.duration as number }
}

function checkSharing (o: ResolvedWorkerOptions<any, any>): void {
  if (o.objectKey !== undefined) failIf(checkFunction('objectKey', o.objectKey))
  if (o.version !== undefined) failIf(checkFunction('version', o.version))
  if (o.version !== undefined && o.objectKey === undefined) fail(expected('objectKey', 'a function when `version` is set (versions are kept per object)', o.objectKey))
  failIf(checkBoolean('skipEqualVersion', o.skipEqualVersion))
  failIf(checkInteger('hydrateCacheMs', o.hydrateCacheMs, 0, 24 * HOUR_MS))
  if (o.hydrateCacheMs > 0 && o.objectKey === undefined) fail(expected('objectKey', 'a function when `hydrateCacheMs` is set (the cache is per object)', o.objectKey))
  failIf(checkInteger('clockSkewMs', o.clockSkewMs, 0, HOUR_MS))
}

function nested (name: string, value: unknown, defaults: Record<string, unknown>): Record<string, unknown> {
  if (value === undefined) return { ...defaults }
  const o = objectOf(name, value)
  failIf(unknownOption(`${name}.`, o, Object.keys(defaults)))
  const merged: Record<string, unknown> = { ...defaults }
  for (const [key, v] of Object.entries(o)) if (v !== undefined) merged[key] = v
  return merged
}

function objectOf (name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(expected(name, 'an object', value))
  return value as Record<string, unknown>
}

function unknownOption (path: string, o: object, known: readonly string[]): string | undefined {
  const unknown = unknownKeys(o, known)
  if (unknown.length === 0) return undefined
  return `Unknown option \`${path}${unknown[0]}\`; known options are ${known.map((k) => path + k).join(', ')}`
}

function pick<T> (value: unknown, fallback: T): T {
  return (value === undefined ? fallback : value) as T
}

function failIf (problem: string | undefined): void {
  if (problem !== undefined) fail(problem)
}

function fail (message: string): never {
  throw new WebhookErrors.WEBHOOK_INVALID_OPTION(message)
}
