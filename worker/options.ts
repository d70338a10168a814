/**
 * The options of `createWebhookWorker` and the types they are made of: what
 * each option does, its default, its unit and the values it takes. Resolving
 * and checking them is `resolve-options.ts`'s work; a value outside what is
 * written here throws `WEBHOOK_INVALID_OPTION`.
 */
import type { Logger } from 'pino'
import type { Job } from 'bullmq'
import type { RedisConnection } from '../core/connection.js'
import type { WebhookEvent } from '../core/event.js'
import type { EventTypes, PayloadsOf } from '../core/event-types.js'
import type { MetricsOption } from '../core/prom.js'

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
   * Calls allowed in any window of `duration` ms. Required; an integer
   * from 1 to 1000000.
   * @defaultValue none
   */
  max: number
  /**
   * The window, in milliseconds (the name mirrors BullMQ's limiter).
   * Required; an integer from 1 to 86400000 (24 hours).
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

/**
 * The `hydrate` and `apply` of the events of one route key (see the
 * `handlers` option). Either may be left out: it is then taken from a less
 * specific handler, or the top-level option. The state's type flows from
 * `hydrate` to `apply` through {@link defineHandler}; without it, annotate
 * `apply`'s `state`, or it is the worker's state type (`unknown` by default).
 */
export interface Handler<S = unknown, P = unknown> {
  /** As the `hydrate` option, for these events. */
  hydrate? (event: WebhookEvent<P>, ctx: WorkerContext): S | null | Promise<S | null>
  /** As the `apply` option, for these events. */
  apply? (state: S | null, event: WebhookEvent<P>, ctx: WorkerContext): unknown
}

/**
 * The handlers of one source, by route key (`type`, or `${type}.${action}`
 * for a payload with a string `action`), and `'*'` for the source's other
 * events. With typed events (`M`), keys are checked and payloads narrowed.
 */
export type SourceHandlers<M extends object = Record<string, unknown>, S = unknown> =
  { [K in keyof M & string]?: Handler<S, M[K]> } & { '*'?: Handler<S, M[keyof M & string]> }

/**
 * Handlers by source, then by route key: the `handlers` option. `E` names
 * the sources and their typed events, e.g. `{ stripe: ByType<Stripe.Event> }`.
 */
export type WorkerHandlers<E = UntypedEvents, S = unknown> =
  { [Src in keyof E & string]?: SourceHandlers<PayloadsOf<E[Src]>, S> }

/** What the worker does with an event no handler (nor fallback, nor top-level `apply`) matches. */
export type UnhandledPolicy = 'skip' | 'dead-letter'

/** The events of untyped handlers: any source, any type, payloads of type `P`. */
export type UntypedEvents<P = unknown> = Record<string, EventTypes<Record<string, P>>>

// Keeps a type parameter from being inferred from where it appears.
type NoInference<T> = [T][T extends any ? 0 : never]

// True for a catalog of typed events (`{ stripe: ByType<Stripe.Event> }`):
// not `any`, not empty, not untyped, every source an `EventTypes`.
type IsEventCatalog<E> = 0 extends (1 & E) ? false
  : [keyof E] extends [never] ? false
      : string extends keyof E ? false
        : 0 extends (1 & E[keyof E]) ? false
          : [E[keyof E]] extends [EventTypes<object, string>] ? true : false

/**
 * The options of `createWebhookWorker<A, B>()`. Usually `A` is the state
 * type and `B` the payload type. When `A` is a catalog of typed events
 * (`{ stripe: ByType<Stripe.Event>, github: ByName<WebhookEventMap> }`),
 * `handlers` is checked against it, each handler's payload narrowed to its
 * route key, and `B` is the state type.
 */
export type WorkerOptionsFor<A, B> = IsEventCatalog<A> extends true
  ? WebhookWorkerOptions<NoInference<B>, unknown, NoInference<A>>
  : WebhookWorkerOptions<A, B>

/**
 * The events `handlers` is checked against by default: `S` itself when it is
 * a catalog of typed events, otherwise untyped events with payloads `P`.
 */
export type DefaultEvents<S, P> = IsEventCatalog<S> extends true ? S : UntypedEvents<P>

/** The retry schedule: retry k waits a uniform delay in [d/2, d], d = min(maxDelayMs, baseDelayMs · 2^(k-1)). */
export interface RetryOptions {
  /**
   * Attempts in all, the first included. When they are spent the event is
   * dead-lettered. An integer from 1 to 1000000.
   * @defaultValue `24`
   */
  attempts?: number
  /**
   * The delay bound d of the first retry, in milliseconds. An integer from
   * 0 to 86400000 (24 hours).
   * @defaultValue `1000`
   */
  baseDelayMs?: number
  /**
   * The largest delay bound, in milliseconds. An integer from `baseDelayMs`
   * to 86400000 (24 hours).
   * @defaultValue `600000` (10 minutes)
   */
  maxDelayMs?: number
}

/** How long done markers are kept. */
export interface DedupeOptions {
  /**
   * How long an applied event id (and its `replayKey`) is remembered, so a
   * duplicate within that time is skipped: a number, or a function of the
   * event (e.g. a preset's suggestion per source), in milliseconds. A
   * number is an integer from 1000 and up. Memory: about event rate × TTL ×
   * 200 bytes.
   * @defaultValue `1209600000` (14 days)
   */
  ttlMs?: number | ((event: WebhookEvent) => number)
}

/** Dead-letter settings. */
export interface DeadLetterOptions {
  /**
   * `deadLetterAlert` fires when the number of dead letters not yet replayed
   * reaches this, and re-arms once it is back below half of it. An integer
   * from 1 and up.
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

/**
 * Options of `createWebhookWorker`. Validated first: a bad value throws
 * `WEBHOOK_INVALID_OPTION`. `S` is the state type, `P` the payload
 * type, and `E` the typed events of `handlers` (untyped by default).
 */
export interface WebhookWorkerOptions<S = unknown, P = unknown, E = DefaultEvents<S, P>> {
  /**
   * How to reach Redis: a `redis://` URL, ioredis options, or an ioredis
   * instance (left open on close; one without `maxRetriesPerRequest: null`
   * is duplicated). Required.
   * @defaultValue none
   */
  connection: RedisConnection
  /**
   * Writes the hydrated state: `(state, event, ctx) => …`, may be async; a
   * throw fails the attempt (retried; a `PermanentError` dead-letters at once).
   * With `handlers`, the fallback of every event whose handlers have no
   * `apply`. Required unless `handlers` is given.
   * @defaultValue none
   */
  apply?: Apply<S, P>
  /**
   * Fetches the state to apply: `(event, ctx) => state | null`, may be
   * async. With `handlers`, the fallback of every event whose handlers have
   * no `hydrate`. A function.
   * @defaultValue the event's `payload`
   */
  hydrate?: Hydrate<S, P>
  /**
   * Handlers by source and route key: `{ stripe: { 'invoice.paid': { hydrate, apply }, '*': { apply } } }`.
   * An event's route key is `${type}.${action}` when its payload has a string
   * `action` (GitHub's `pull_request.closed`), then its `type`. Its `hydrate`
   * is the first one found in: the handler of `${type}.${action}`, the
   * handler of `type`, the source's `'*'` handler, the `hydrate` option; none
   * means the payload is the state. Its `apply` is found the same way; none
   * means the event is unhandled (see `unhandled`). An object of objects of
   * handlers, each with a `hydrate` or an `apply` function.
   * @defaultValue none (every event goes to `hydrate` and `apply`)
   */
  handlers?: WorkerHandlers<E, NoInference<S>>
  /**
   * With `handlers`, what happens to an event no `apply` matches: `'skip'`
   * completes its job without applying it (counted as `unhandled`, and
   * logged at warn once per source and type); `'dead-letter'` dead-letters
   * it at once (stage `unhandled`).
   * @defaultValue `'skip'`
   */
  unhandled?: UnhandledPolicy
  /**
   * The BullMQ queue to consume, the same as the plugin's. A non-empty
   * string without `:`.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix, the same as the plugin's (a hash tag such as
   * `'{webhooks}'` on Redis Cluster). A non-empty string without `:`.
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * Jobs processed at once by this worker. An integer from 1 to 10000.
   * @defaultValue `10`
   */
  concurrency?: number
  /**
   * How long `hydrate` may take, in milliseconds; then `ctx.signal` aborts
   * and the attempt fails (and is retried). An integer from 1 to 86400000 (24 hours).
   * @defaultValue `30000`
   */
  hydrateTimeoutMs?: number
  /**
   * How long `apply` may take, in milliseconds; then `ctx.signal` aborts and
   * the attempt fails (and is retried) once apply has settled, or
   * `applyGraceMs` has passed. An integer from 1 to 86400000 (24 hours).
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
   * still run: `ctx.fence` is then what refuses its late write. In
   * milliseconds, an integer from 0 to 86400000 (24 hours).
   * @defaultValue `60000`
   */
  applyGraceMs?: number
  /**
   * The retry schedule: retry k waits a uniform delay in [d/2, d],
   * d = min(`maxDelayMs`, `baseDelayMs` · 2^(k-1)). About 1.2 to 2.5 hours
   * in all by default. Keys left out keep their default.
   * @defaultValue `{ attempts: 24, baseDelayMs: 1000, maxDelayMs: 600000 }`
   */
  retry?: RetryOptions
  /**
   * Done-marker retention: how long an applied event is remembered, so a
   * duplicate is skipped. Keys left out keep their default.
   * @defaultValue `{ ttlMs: 1209600000 }`
   */
  dedupe?: DedupeOptions
  /**
   * BullMQ's job lock, in milliseconds, which the claim on the event
   * follows. Must be the same on every worker of the queue. An integer from
   * 100 to 3600000 (1 hour).
   * @defaultValue `30000`
   */
  lockDuration?: number
  /**
   * How often BullMQ looks for stalled jobs, in milliseconds. Must be the
   * same on every worker of the queue. An integer from 100 to 3600000 (1 hour).
   * @defaultValue `30000`
   */
  stalledInterval?: number
  /**
   * How many times a job may stall before it is dead-lettered (stage
   * `stalled`). Must be the same on every worker of the queue. An integer
   * from 0 to 1000.
   * @defaultValue `2`
   */
  maxStalledCount?: number
  /**
   * Dead-letter settings: when `deadLetterAlert` fires, and whether dead
   * letters keep error stacks. Keys left out keep their default.
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
   * A pino logger: one line per attempt at debug, failures at warn, dead
   * letters at error. `false` logs nothing.
   * @defaultValue a pino logger writing `warn` and above to stderr
   */
  logger?: Logger | false
  /**
   * At most `max` calls to `hydrate` in any `duration` ms, across every worker
   * of the queue (a budget kept in Redis). Cache hits and shared calls are
   * free. A job over the budget waits, or is delayed without spending an
   * attempt. For example `{ max: 50, duration: 60_000 }`; both keys are required.
   * @defaultValue none (no limit)
   */
  rateLimit?: RateLimitOptions
  /**
   * The object an event is about. Enables sharing one `hydrate` call among the
   * events of an object (and `hydrateCacheMs`), and with `version`, ordering.
   * A function; an event for which it returns `undefined` is neither shared
   * nor ordered.
   * @defaultValue none
   */
  objectKey?: ObjectKeyOf<P>
  /**
   * The version of a hydrated state. With `objectKey`, applies for one object
   * never overlap, and a state older than the last committed version of its
   * object is skipped (counted as `stale`), never applied. A `null` state
   * (deleted) commits a tombstone: after it, only a state fetched after the
   * deletion was confirmed is applied. Committed versions and tombstones are
   * kept as long as the done marker (`dedupe.ttlMs`). A function; needs
   * `objectKey`.
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
   * received before its fetch started, in milliseconds. `0` turns the cache
   * off. An integer from 0 to 86400000 (24 hours); above 0, needs `objectKey`.
   * @defaultValue `0`
   */
  hydrateCacheMs?: number
  /**
   * How far the ingress clock (`receivedAt`) and this worker's may disagree: a
   * shared or cached state serves an event only if its fetch started more
   * than this after the event was received. In milliseconds, an integer
   * from 0 to 3600000 (1 hour).
   * @defaultValue `1000`
   */
  clockSkewMs?: number
  /**
   * Prometheus metrics through prom-client (an optional peer dependency):
   * `true` for its default registry, a `Registry`, or `false` for none.
   * Without prom-client, the worker refuses to start with
   * `WEBHOOK_MISSING_DEPENDENCY`. Every name starts with `webhook_`.
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
