import type { LogLevel } from 'fastify'
import type { RedisConnection } from '../core/connection.js'
import { connectionProblem, isCluster, isRedisClient } from '../core/connection.js'
import { SOURCE_PATTERN, type WebhookEvent } from '../core/event.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkOneOf, checkRedisName, checkString, expected, unknownKeys
} from '../core/validate.js'
import { WebhookErrors } from '../core/errors.js'
import type { Provider, SecretContext } from '../providers/provider.js'
import { providerProblem } from '../providers/provider-check.js'

/** What the plugin does when Redis lacks AOF or `maxmemory-policy noeviction`. */
export type PersistenceCheck = 'warn' | 'refuse' | 'off'

/** Which verified events are enqueued: a list of types, or a predicate of the type and the event. */
export type AcceptTypes = readonly string[] | ((type: string, event: WebhookEvent) => boolean)

/** Options of `webhookPlugin`. Validated at registration: a bad value fails `register` with `WEBHOOK_INVALID_OPTION`. */
export interface WebhookPluginOptions {
  /**
   * The signature scheme and its secret(s), e.g. `providers.hmac({ secret })`.
   * Required.
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
   * @defaultValue `'/v1/events'`
   */
  path?: string
  /**
   * The event source written into every job and its job id, matching
   * `/^[a-z][a-z0-9_-]{0,62}$/i`.
   * @defaultValue the provider's `name`
   */
  source?: string
  /**
   * A name for this registration, unique in the app: its key in
   * `app.webhooks` and its `name` label in metrics.
   * @defaultValue `` `${source}:${path}` ``
   */
  name?: string
  /**
   * The BullMQ queue the events are added to.
   * @defaultValue `'integration-events'`
   */
  queueName?: string
  /**
   * BullMQ's key prefix (never a route prefix: use `path` for that). Use a
   * hash tag such as `'{webhooks}'` on Redis Cluster, the same everywhere.
   * @defaultValue `'bull'`
   */
  prefix?: string
  /**
   * The largest body accepted, in bytes; larger ones get 413, by
   * `Content-Length` or while streaming.
   * @defaultValue the provider's `bodyLimit`, else 1048576 (1 MiB)
   */
  bodyLimit?: number
  /**
   * The most bytes of request bodies held, across the route, before their
   * signature is verified: a declared `Content-Length` counts from the
   * start, a chunked body as it is read. A request that does not fit gets
   * 503 with `Retry-After` (before its body is read, when its length is
   * declared). At least `bodyLimit`.
   * @defaultValue `67108864` (64 MiB), or `bodyLimit` when that is larger
   */
  maxUnverifiedBytes?: number
  /**
   * How long an enqueue may take before the sender gets 503 with `Retry-After`.
   * @defaultValue `2000`
   */
  ackTimeoutMs?: number
  /**
   * The `Retry-After` sent with every 503, rounded up to whole seconds.
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
   * How long `register` waits for Redis: for the first connection attempt,
   * and when it connects for the queue (and under `persistenceCheck:
   * 'refuse'` the check), so the first request after `ready()` is accepted.
   * A Redis that refuses connections does not hold the boot up; one that
   * accepts and never answers holds it this long. With `requireRedisAtBoot`,
   * `register` fails when Redis is not ready by then.
   * @defaultValue `10000`
   */
  readyTimeoutMs?: number
  /**
   * Checks `appendonly yes` and `maxmemory-policy noeviction` at first connect
   * and after reconnects. `'warn'` logs a warning; `'refuse'` fails `register`
   * (or, when Redis connects later, answers 503 until a check passes);
   * `'off'` skips the check. A Redis that refuses `INFO` is logged as unverifiable.
   * @defaultValue `'warn'`
   */
  persistenceCheck?: PersistenceCheck
  /**
   * How long the secrets returned by a secret resolver are cached, per
   * `secretCacheKey`. `0` calls the resolver on every request.
   * @defaultValue `60000`
   */
  secretCacheMs?: number
  /**
   * How long a resolver's "unknown tenant" answer (`null`, or a thrown
   * `UnknownTenantError`) is cached, per `secretCacheKey`: requests for that
   * key in the meantime get 401 without calling the resolver. Failures are
   * never cached. `0` asks the resolver every time.
   * @defaultValue `5000`
   */
  secretNegativeCacheMs?: number
  /**
   * How long a secret resolver may take; a slower (or throwing) resolver gives 503.
   * @defaultValue `1000`
   */
  secretTimeoutMs?: number
  /**
   * The cache key of a resolver's answer. It must cover everything the
   * resolver reads: the default keys on the route params only, so a resolver
   * that reads a header must key on that header too, or one tenant's cached
   * secret verifies another tenant's requests.
   * @defaultValue the route params
   */
  secretCacheKey?: (ctx: SecretContext) => string
  /**
   * The log level of the route, including the plugin's `msg: 'webhook'` line.
   * @defaultValue the app's level
   */
  logLevel?: LogLevel
  /**
   * Prometheus metrics through prom-client, an optional peer dependency:
   * `true` registers them in prom-client's default registry, a `Registry` in
   * that one. Without prom-client installed, `register` fails with
   * `WEBHOOK_MISSING_DEPENDENCY`. Every name starts with `webhook_`.
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
   * a worker outage cannot fill Redis. `false` sets no limit.
   * @defaultValue `false`
   */
  maxBacklog?: number | false
  /**
   * Replicated acknowledgements: after each enqueue, Redis `WAIT`s until this
   * many replicas have the job, for what is left of `ackTimeoutMs`, and fewer
   * confirmations give 503 with `Retry-After` (the sender retries), so a 2xx
   * survives a failover to a replica. `0` answers once the primary has the
   * job. Not available on a Redis Cluster connection.
   * @defaultValue `0`
   */
  waitReplicas?: number
  /**
   * The event types to enqueue: a list, or a predicate `(type, event) => boolean`.
   * Verified events of other types get 202 (or the provider's inline answer),
   * are logged and counted as `ignored`, and are not enqueued.
   * @defaultValue every type
   */
  acceptTypes?: AcceptTypes
  /**
   * A path for a readiness route that answers `app.webhooks.health()`: 200
   * unless a check fails, 503 when one does. `false` adds no route.
   * @defaultValue `false`
   */
  healthRoute?: string | false
  /**
   * `health()` warns when the queue holds more waiting and delayed jobs than this.
   * @defaultValue `10000`
   */
  healthMaxBacklog?: number
  /**
   * `health()` warns when the job a worker takes next was added longer ago than this.
   * @defaultValue `300000` (5 minutes)
   */
  healthMaxAgeMs?: number
}

/** The options after defaults and validation. */
export interface ResolvedPluginOptions extends Required<Omit<WebhookPluginOptions, 'logLevel' | 'acceptTypes'>> {
  logLevel: LogLevel | undefined
  acceptTypes: AcceptTypes | undefined
}

/** Keys the route params as the resolver's cache key. */
export function paramsCacheKey (ctx: SecretContext): string {
  return JSON.stringify(Object.entries(ctx.params).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** The default of every optional option; `source`, `name`, `bodyLimit` and `maxUnverifiedBytes` are derived as documented. */
export const PLUGIN_DEFAULTS = Object.freeze({
  path: '/v1/events',
  queueName: 'integration-events',
  prefix: 'bull',
  bodyLimit: 1_048_576,
  maxUnverifiedBytes: 67_108_864,
  ackTimeoutMs: 2000,
  retryAfterMs: 5000,
  requireRedisAtBoot: false,
  readyTimeoutMs: 10_000,
  persistenceCheck: 'warn' as PersistenceCheck,
  secretCacheMs: 60_000,
  secretNegativeCacheMs: 5000,
  secretTimeoutMs: 1000,
  secretCacheKey: paramsCacheKey,
  metrics: false as MetricsOption,
  queueMetrics: true,
  maxBacklog: false as number | false,
  waitReplicas: 0,
  healthRoute: false as string | false,
  healthMaxBacklog: 10_000,
  healthMaxAgeMs: 300_000
} as const)

const KNOWN = [
  'provider', 'connection', 'path', 'source', 'name', 'queueName', 'prefix', 'bodyLimit', 'maxUnverifiedBytes', 'ackTimeoutMs',
  'retryAfterMs', 'requireRedisAtBoot', 'readyTimeoutMs', 'persistenceCheck', 'secretCacheMs', 'secretNegativeCacheMs',
  'secretTimeoutMs', 'secretCacheKey', 'logLevel', 'metrics', 'queueMetrics', 'maxBacklog', 'waitReplicas', 'acceptTypes', 'healthRoute',
  'healthMaxBacklog', 'healthMaxAgeMs'
] as const
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
// A route path: starts with `/`, no whitespace, no query or fragment.
const PATH_PATTERN = /^\/[^\s?#]*$/
// Fastify's own ceiling on `bodyLimit` is the max safe integer; a webhook
// larger than 1 GiB is not a webhook.
const MAX_BODY_LIMIT = 1_073_741_824

/**
 * Applies defaults and checks every option. Pure: throws
 * `WEBHOOK_INVALID_OPTION` (a `TypeError`) for the first bad option.
 */
export function validatePluginOptions (options: unknown): ResolvedPluginOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail(expected('options', 'an object', options))
  }
  const o = options as Record<string, unknown>
  const unknown = unknownKeys(o, KNOWN)
  if (unknown.length > 0) fail(`Unknown option \`${unknown[0]}\`; known options are ${KNOWN.join(', ')}`)

  const provider = o.provider
  failIf(providerProblem(provider))
  const p = provider as Provider
  const connection = connectionProblem(o.connection)
  if (connection !== undefined) fail(`Expected \`connection\` to be ${connection}`)

  const resolved: ResolvedPluginOptions = {
    provider: p,
    connection: o.connection as RedisConnection,
    path: pick(o.path, PLUGIN_DEFAULTS.path),
    source: pick(o.source, p.name),
    name: '',
    queueName: pick(o.queueName, PLUGIN_DEFAULTS.queueName),
    prefix: pick(o.prefix, PLUGIN_DEFAULTS.prefix),
    bodyLimit: pick(o.bodyLimit, p.bodyLimit ?? PLUGIN_DEFAULTS.bodyLimit),
    maxUnverifiedBytes: 0,
    ackTimeoutMs: pick(o.ackTimeoutMs, PLUGIN_DEFAULTS.ackTimeoutMs),
    retryAfterMs: pick(o.retryAfterMs, PLUGIN_DEFAULTS.retryAfterMs),
    requireRedisAtBoot: pick(o.requireRedisAtBoot, PLUGIN_DEFAULTS.requireRedisAtBoot),
    readyTimeoutMs: pick(o.readyTimeoutMs, PLUGIN_DEFAULTS.readyTimeoutMs),
    persistenceCheck: pick(o.persistenceCheck, PLUGIN_DEFAULTS.persistenceCheck),
    secretCacheMs: pick(o.secretCacheMs, PLUGIN_DEFAULTS.secretCacheMs),
    secretNegativeCacheMs: pick(o.secretNegativeCacheMs, PLUGIN_DEFAULTS.secretNegativeCacheMs),
    secretTimeoutMs: pick(o.secretTimeoutMs, PLUGIN_DEFAULTS.secretTimeoutMs),
    secretCacheKey: pick(o.secretCacheKey, PLUGIN_DEFAULTS.secretCacheKey),
    logLevel: o.logLevel as LogLevel | undefined,
    metrics: pick(o.metrics, PLUGIN_DEFAULTS.metrics),
    queueMetrics: pick(o.queueMetrics, PLUGIN_DEFAULTS.queueMetrics),
    maxBacklog: pick(o.maxBacklog, PLUGIN_DEFAULTS.maxBacklog),
    waitReplicas: pick(o.waitReplicas, PLUGIN_DEFAULTS.waitReplicas),
    acceptTypes: o.acceptTypes as AcceptTypes | undefined,
    healthRoute: pick(o.healthRoute, PLUGIN_DEFAULTS.healthRoute),
    healthMaxBacklog: pick(o.healthMaxBacklog, PLUGIN_DEFAULTS.healthMaxBacklog),
    healthMaxAgeMs: pick(o.healthMaxAgeMs, PLUGIN_DEFAULTS.healthMaxAgeMs)
  }
  resolved.name = pick(o.name, `${resolved.source}:${resolved.path}`)
  resolved.maxUnverifiedBytes = pick(o.maxUnverifiedBytes, Math.max(PLUGIN_DEFAULTS.maxUnverifiedBytes, Number(resolved.bodyLimit)))

  failIf(checkString('path', resolved.path, PATH_PATTERN, 'a route path starting with `/`'))
  failIf(checkString('source', resolved.source, SOURCE_PATTERN, `a string matching ${String(SOURCE_PATTERN)}` +
    (o.source === undefined ? ' (it defaults to the provider\'s name: set `source`)' : '')))
  failIf(checkString('name', resolved.name))
  failIf(checkRedisName('queueName', resolved.queueName))
  const prefixHint = typeof resolved.prefix === 'string' && resolved.prefix.startsWith('/')
    ? '`prefix` is BullMQ\'s key prefix, not a route prefix: set the route with `path`'
    : undefined
  failIf(prefixHint === undefined
    ? checkRedisName('prefix', resolved.prefix)
    : expected('prefix', 'a BullMQ key prefix', resolved.prefix, prefixHint))
  failIf(checkInteger('bodyLimit', resolved.bodyLimit, 1, MAX_BODY_LIMIT))
  // Smaller than bodyLimit, a body the route accepts could never be read.
  if (checkInteger('maxUnverifiedBytes', resolved.maxUnverifiedBytes, resolved.bodyLimit) !== undefined) {
    fail(expected('maxUnverifiedBytes', `an integer no smaller than \`bodyLimit\` (${resolved.bodyLimit})`, resolved.maxUnverifiedBytes))
  }
  failIf(checkInteger('ackTimeoutMs', resolved.ackTimeoutMs, 1, 60_000))
  failIf(checkInteger('retryAfterMs', resolved.retryAfterMs, 1000, 86_400_000))
  failIf(checkBoolean('requireRedisAtBoot', resolved.requireRedisAtBoot))
  failIf(checkInteger('readyTimeoutMs', resolved.readyTimeoutMs, 1, 600_000))
  failIf(checkOneOf('persistenceCheck', resolved.persistenceCheck, ['warn', 'refuse', 'off']))
  failIf(checkInteger('secretCacheMs', resolved.secretCacheMs, 0))
  failIf(checkInteger('secretNegativeCacheMs', resolved.secretNegativeCacheMs, 0))
  failIf(checkInteger('secretTimeoutMs', resolved.secretTimeoutMs, 1, 60_000))
  failIf(checkFunction('secretCacheKey', resolved.secretCacheKey))
  if (resolved.logLevel !== undefined) failIf(checkOneOf('logLevel', resolved.logLevel, LOG_LEVELS))
  failIf(metricsProblem(resolved.metrics))
  failIf(checkBoolean('queueMetrics', resolved.queueMetrics))
  if (resolved.maxBacklog !== false && checkInteger('maxBacklog', resolved.maxBacklog, 1) !== undefined) {
    fail(expected('maxBacklog', 'an integer from 1 and up, or false', resolved.maxBacklog))
  }
  failIf(checkInteger('waitReplicas', resolved.waitReplicas, 0, 100))
  // WAIT counts the replicas of the node the connection wrote to; a Cluster
  // client sends a keyless command to any node.
  if (resolved.waitReplicas > 0 && isRedisClient(resolved.connection) && isCluster(resolved.connection)) {
    fail(expected('waitReplicas', '0 on a Redis Cluster connection', resolved.waitReplicas, 'WAIT is not routed to the node that holds the queue'))
  }
  failIf(acceptTypesProblem(resolved.acceptTypes))
  if (resolved.healthRoute !== false) failIf(checkString('healthRoute', resolved.healthRoute, PATH_PATTERN, 'a route path starting with `/`, or false'))
  failIf(checkInteger('healthMaxBacklog', resolved.healthMaxBacklog, 0))
  failIf(checkInteger('healthMaxAgeMs', resolved.healthMaxAgeMs, 1))
  return resolved
}

function acceptTypesProblem (value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function') return undefined
  if (Array.isArray(value) && value.length > 0 && value.every((type) => typeof type === 'string')) return undefined
  return expected('acceptTypes', 'a non-empty array of event types or a function (type, event) => boolean', value)
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
