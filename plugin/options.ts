/**
 * The options of `webhookPlugin`: what each one does, its default, its unit
 * and the values it takes. Resolving and checking them is `resolve-options.ts`'s
 * work; a value outside what is written here fails `register` with
 * `WEBHOOK_INVALID_OPTION`.
 */
import type { LogLevel } from 'fastify'
import type { RedisConnection } from '../core/connection.js'
import type { WebhookEvent } from '../core/event.js'
import type { MetricsOption } from '../core/prom.js'
import type { Provider, SecretContext } from '../providers/provider.js'

/** What the plugin does when Redis lacks AOF or `maxmemory-policy noeviction`. */
export type PersistenceCheck = 'warn' | 'refuse' | 'off'

/** Which verified events are enqueued: a list of types, or a predicate of the type and the event. */
export type AcceptTypes = readonly string[] | ((type: string, event: WebhookEvent) => boolean)

/** Options of `webhookPlugin`. Validated at registration: a bad value fails `register` with `WEBHOOK_INVALID_OPTION`. */
export interface WebhookPluginOptions {
  /**
   * The signature scheme and its secret(s), e.g. `providers.hmac({ secret })`,
   * or any object implementing `Provider`. Required.
   * @defaultValue none
   */
  provider: Provider
  /**
   * How to reach Redis: a `redis://` URL, ioredis options, or an ioredis
   * `Redis`/`Cluster` instance (which stays open when the app closes; the
   * plugin produces through a fail-fast duplicate it owns). Required.
   * @defaultValue none
   */
  connection: RedisConnection
  /**
   * The route path, under the route prefix of the scope the plugin is
   * registered in. May carry params (`/hooks/:tenant`) for a secret resolver.
   * Starts with `/`; no whitespace, query or fragment.
   * @defaultValue `'/v1/events'`
   */
  path?: string
  /**
   * The event source written into every job and its job id, matching
   * `/^[a-z][a-z0-9_-]{0,62}$/i`. The poller of the same events must use
   * the same source, so both map an event to one job.
   * @defaultValue the provider's `name`
   */
  source?: string
  /**
   * A name for this registration, unique in the app: its key in
   * `app.webhooks` and its `name` label in metrics. A non-empty string; a
   * second registration with the same name fails with `FST_WEBHOOK_DUPLICATE_NAME`.
   * @defaultValue `` `${source}:${path}` ``
   */
  name?: string
  /**
   * The BullMQ queue the events are added to, the same as the worker's.
   * A non-empty string without `:`.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix (never a route prefix: use `path` for that). Use a
   * hash tag such as `'{webhooks}'` on Redis Cluster, the same everywhere.
   * A non-empty string without `:`, not starting with `/`.
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * The largest body accepted, in bytes; larger ones get 413, by
   * `Content-Length` or while streaming. An integer from 1 to 1073741824 (1 GiB).
   * @defaultValue the provider's `bodyLimit`, else 1048576 (1 MiB)
   */
  bodyLimit?: number
  /**
   * The most bytes of request bodies held, across the route, before their
   * signature is verified: a declared `Content-Length` counts from the
   * start, a chunked body as it is read. A request that does not fit gets
   * 503 with `Retry-After` (before its body is read, when its length is
   * declared). An integer number of bytes, at least `bodyLimit`.
   * @defaultValue `67108864` (64 MiB), or `bodyLimit` when that is larger
   */
  maxUnverifiedBytes?: number
  /**
   * How long an enqueue may take, in milliseconds, before the sender gets
   * 503 with `Retry-After`. With `waitReplicas`, the replicas' confirmations
   * must come within it too. An integer from 1 to 60000.
   * @defaultValue `2000`
   */
  ackTimeoutMs?: number
  /**
   * The `Retry-After` sent with every 503, in milliseconds, rounded up to
   * whole seconds in the header. An integer from 1000 to 86400000 (24 hours).
   * @defaultValue `5000`
   */
  retryAfterMs?: number
  /**
   * Fail `register` when Redis is not ready within `readyTimeoutMs`. By default
   * the app boots while Redis is down or silent (after `readyTimeoutMs` at
   * most) and the route answers 503 until it is ready.
   * @defaultValue `false`
   */
  requireRedisAtBoot?: boolean
  /**
   * How long `register` waits for Redis, in milliseconds: for the first
   * connection attempt, and when it connects for the queue (and under
   * `persistenceCheck: 'refuse'` the check), so the first request after
   * `ready()` is accepted. A Redis that refuses connections does not hold
   * the boot up; one that accepts and never answers holds it this long. With
   * `requireRedisAtBoot`, `register` fails when Redis is not ready by then.
   * An integer from 1 to 600000 (10 minutes).
   * @defaultValue `10000`
   */
  readyTimeoutMs?: number
  /**
   * Checks `appendonly yes` and `maxmemory-policy noeviction` at first connect
   * and after reconnects. `'warn'` logs a warning; `'refuse'` fails `register`
   * (or, when Redis connects later, answers 503 until a check passes);
   * `'off'` skips the check. A Redis that refuses `INFO` is logged as
   * unverifiable and accepted.
   * @defaultValue `'warn'`
   */
  persistenceCheck?: PersistenceCheck
  /**
   * How long the secrets returned by a secret resolver are cached, per
   * `secretCacheKey`, in milliseconds. `0` calls the resolver on every
   * request. An integer from 0 and up.
   * @defaultValue `60000`
   */
  secretCacheMs?: number
  /**
   * How long a resolver's "unknown tenant" answer (`null`, or a thrown
   * `UnknownTenantError`) is cached, per `secretCacheKey`, in milliseconds:
   * requests for that key in the meantime get 401 without calling the
   * resolver. Failures are never cached. `0` asks the resolver every time.
   * An integer from 0 and up.
   * @defaultValue `5000`
   */
  secretNegativeCacheMs?: number
  /**
   * How long a secret resolver may take, in milliseconds; a slower (or
   * throwing) resolver gives 503. An integer from 1 to 60000.
   * @defaultValue `1000`
   */
  secretTimeoutMs?: number
  /**
   * The cache key of a resolver's answer. It must cover everything the
   * resolver reads: the default keys on the route params only, so a resolver
   * that reads a header must key on that header too, or one tenant's cached
   * secret verifies another tenant's requests. A function.
   * @defaultValue the route params
   */
  secretCacheKey?: (ctx: SecretContext) => string
  /**
   * The log level of the route, including the plugin's `msg: 'webhook'` line
   * (`'silent'` drops it): `'fatal'`, `'error'`, `'warn'`, `'info'`,
   * `'debug'`, `'trace'` or `'silent'`.
   * @defaultValue the app's level
   */
  logLevel?: LogLevel
  /**
   * Prometheus metrics through prom-client, an optional peer dependency:
   * `true` registers them in prom-client's default registry, a `Registry` in
   * that one, `false` none. Without prom-client installed, `register` fails
   * with `WEBHOOK_MISSING_DEPENDENCY`. Every name starts with `webhook_`.
   * @defaultValue `false`
   */
  metrics?: MetricsOption
  /**
   * With `metrics`, also compute the queue gauges (jobs by state, dead
   * letters, age of the oldest waiting job, poller cursor lag) from Redis at
   * each scrape, once per queue in the process. They describe Redis, not the
   * process: aggregate them across replicas with `max`, not `sum`.
   * @defaultValue `true`
   */
  queueMetrics?: boolean
  /**
   * Load shedding: once the queue holds more waiting and delayed jobs than
   * this (read from Redis at most once a second, never per request),
   * verified events get 503 with `Retry-After` instead of being enqueued, so
   * a worker outage cannot fill Redis. A number of jobs, an integer from 1
   * and up; `false` sets no limit.
   * @defaultValue `false`
   */
  maxBacklog?: number | false
  /**
   * Replicated acknowledgements: after each enqueue, Redis `WAIT`s until this
   * many replicas have the job, for what is left of `ackTimeoutMs`, and fewer
   * confirmations give 503 with `Retry-After` (the sender retries), so a 2xx
   * survives a failover to a replica. `0` answers once the primary has the
   * job. An integer from 0 to 100; must be `0` on a Redis Cluster
   * connection, where `WAIT` is not routed to the node holding the queue.
   * @defaultValue `0`
   */
  waitReplicas?: number
  /**
   * The event types to enqueue: a non-empty list, or a predicate
   * `(type, event) => boolean` (one that throws gives 503). Verified events
   * of other types get 202 (or the provider's inline answer), are logged and
   * counted as `ignored`, and are not enqueued.
   * @defaultValue every type
   */
  acceptTypes?: AcceptTypes
  /**
   * A path for a readiness route that answers `app.webhooks.health()`: 200
   * unless a check fails, 503 when one does. A route path starting with `/`
   * (e.g. `'/healthz/webhooks'`); `false` adds no route.
   * @defaultValue `false`
   */
  healthRoute?: string | false
  /**
   * `health()` warns when the queue holds more waiting and delayed jobs than
   * this. A number of jobs, an integer from 0 and up.
   * @defaultValue `10000`
   */
  healthMaxBacklog?: number
  /**
   * `health()` warns when the job a worker takes next was added longer ago
   * than this, in milliseconds. An integer from 1 and up.
   * @defaultValue `300000` (5 minutes)
   */
  healthMaxAgeMs?: number
}
