/**
 * Resolves `createWebhookWorker`'s options: fills in the defaults (nested
 * ones key by key) and checks every value, so the worker reads a complete,
 * valid set. The options themselves, and what each means, are in `options.ts`.
 */
import type { Logger } from 'pino'
import { DEFAULT_LOGGER, loggerOption } from '../core/logger.js'
import { connectionProblem, type RedisConnection } from '../core/connection.js'
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, pick, type OptionValidator } from '../core/option-validator.js'
import { ATTEMPTS_CEILING } from '../core/job-options.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkOneOf, checkRedisName, expected, unknownKeys
} from '../core/validate.js'
import type {
  Apply, DeadLetterOptions, DedupeOptions, Hydrate, ObjectKeyOf, RateLimitOptions, RetryOptions, UnhandledPolicy, VersionOf,
  WebhookWorkerOptions, WorkerPersistenceCheck
} from './options.js'
import { resolveHandlers } from './resolve-handlers.js'
import { Router } from './router.js'

/** The options after defaults and validation. */
export interface ResolvedWorkerOptions<S = unknown, P = unknown> {
  connection: RedisConnection
  apply: Apply<S, P> | undefined
  hydrate: Hydrate<S, P> | undefined
  /** Picks each event's `hydrate` and `apply`, from `handlers` and the two options above. */
  router: Router<S, P>
  unhandled: UnhandledPolicy
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
  unhandled: 'skip' as UnhandledPolicy,
  logger: DEFAULT_LOGGER,
  skipEqualVersion: false,
  hydrateCacheMs: 0,
  clockSkewMs: 1000,
  metrics: false as MetricsOption,
  queueMetrics: false
} as const

const KNOWN = [
  'connection', 'apply', 'hydrate', 'handlers', 'unhandled', 'queueName', 'prefix', 'concurrency', 'hydrateTimeoutMs', 'applyTimeoutMs',
  'applyGraceMs', 'retry', 'dedupe', 'lockDuration', 'stalledInterval', 'maxStalledCount', 'deadLetters', 'persistenceCheck', 'logger',
  'rateLimit', 'objectKey', 'version', 'skipEqualVersion', 'hydrateCacheMs', 'clockSkewMs', 'metrics', 'queueMetrics'
] as const
const HOUR_MS = 3_600_000
const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

/**
 * Applies defaults and checks every option. Pure: throws
 * `WEBHOOK_INVALID_OPTION` (a `TypeError`) for the first bad option.
 */
export function validateWorkerOptions<S, P> (options: WebhookWorkerOptions<S, P>): ResolvedWorkerOptions<S, P> {
  const o = objectOf('options', options)
  invalid.failIf(unknownOption('', o, KNOWN))
  const connection = connectionProblem(o.connection)
  if (connection !== undefined) invalid.fail(`Expected \`connection\` to be ${connection}`)
  const handlers = o.handlers === undefined ? undefined : resolveHandlers(o.handlers, invalid)
  if (handlers === undefined || o.apply !== undefined) invalid.failIf(checkFunction('apply', o.apply))
  if (o.hydrate !== undefined) invalid.failIf(checkFunction('hydrate', o.hydrate))

  const retry = nested('retry', o.retry, WORKER_DEFAULTS.retry)
  const dedupe = nested('dedupe', o.dedupe, WORKER_DEFAULTS.dedupe)
  const deadLetters = nested('deadLetters', o.deadLetters, WORKER_DEFAULTS.deadLetters)
  const resolved: ResolvedWorkerOptions<S, P> = {
    connection: o.connection as RedisConnection,
    apply: o.apply as Apply<S, P> | undefined,
    hydrate: o.hydrate as Hydrate<S, P> | undefined,
    router: new Router(handlers, { hydrate: o.hydrate as Hydrate<S, P> | undefined, apply: o.apply as Apply<S, P> | undefined }),
    unhandled: pick(o.unhandled, WORKER_DEFAULTS.unhandled),
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
    logger: loggerOption(o.logger) as Logger,
    rateLimit: rateLimitOption(o.rateLimit),
    objectKey: o.objectKey as ObjectKeyOf<P> | undefined,
    version: o.version as VersionOf<S> | undefined,
    skipEqualVersion: pick(o.skipEqualVersion, WORKER_DEFAULTS.skipEqualVersion),
    hydrateCacheMs: pick(o.hydrateCacheMs, WORKER_DEFAULTS.hydrateCacheMs),
    clockSkewMs: pick(o.clockSkewMs, WORKER_DEFAULTS.clockSkewMs),
    metrics: pick(o.metrics, WORKER_DEFAULTS.metrics),
    queueMetrics: pick(o.queueMetrics, WORKER_DEFAULTS.queueMetrics)
  }

  invalid.failIf(checkRedisName('queueName', resolved.queueName))
  invalid.failIf(checkRedisName('prefix', resolved.prefix))
  invalid.failIf(checkInteger('concurrency', resolved.concurrency, 1, 10_000))
  invalid.failIf(checkInteger('hydrateTimeoutMs', resolved.hydrateTimeoutMs, 1, 24 * HOUR_MS))
  invalid.failIf(checkInteger('applyTimeoutMs', resolved.applyTimeoutMs, 1, 24 * HOUR_MS))
  invalid.failIf(checkInteger('applyGraceMs', resolved.applyGraceMs, 0, 24 * HOUR_MS))
  invalid.failIf(checkInteger('retry.attempts', retry.attempts, 1, ATTEMPTS_CEILING))
  invalid.failIf(checkInteger('retry.baseDelayMs', retry.baseDelayMs, 0, 24 * HOUR_MS))
  invalid.failIf(checkInteger('retry.maxDelayMs', retry.maxDelayMs, retry.baseDelayMs as number, 24 * HOUR_MS))
  if (typeof dedupe.ttlMs !== 'function') invalid.failIf(checkInteger('dedupe.ttlMs', dedupe.ttlMs, 1000))
  invalid.failIf(checkInteger('lockDuration', resolved.lockDuration, 100, HOUR_MS))
  invalid.failIf(checkInteger('stalledInterval', resolved.stalledInterval, 100, HOUR_MS))
  invalid.failIf(checkInteger('maxStalledCount', resolved.maxStalledCount, 0, 1000))
  invalid.failIf(checkInteger('deadLetters.alertThreshold', deadLetters.alertThreshold, 1))
  invalid.failIf(checkBoolean('deadLetters.includeStack', deadLetters.includeStack))
  invalid.failIf(checkOneOf('persistenceCheck', resolved.persistenceCheck, ['warn', 'refuse', 'off']))
  invalid.failIf(checkOneOf('unhandled', resolved.unhandled, ['skip', 'dead-letter']))
  const logger = resolved.logger as unknown as Record<string, unknown>
  if (typeof logger !== 'object' || logger === null || typeof logger.child !== 'function' || typeof logger.debug !== 'function') {
    invalid.fail(expected('logger', 'a pino logger or `false`', resolved.logger))
  }
  checkSharing(resolved)
  invalid.failIf(metricsProblem(resolved.metrics))
  invalid.failIf(checkBoolean('queueMetrics', resolved.queueMetrics))
  return resolved
}

function rateLimitOption (value: unknown): RateLimitOptions | undefined {
  if (value === undefined) return undefined
  const o = objectOf('rateLimit', value)
  invalid.failIf(unknownOption('rateLimit.', o, ['max', 'duration']))
  invalid.failIf(checkInteger('rateLimit.max', o.max, 1, 1_000_000))
  invalid.failIf(checkInteger('rateLimit.duration', o.duration, 1, 24 * HOUR_MS))
  return { max: o.max as number, duration: o.duration as number }
}

function checkSharing (o: ResolvedWorkerOptions<any, any>): void {
  if (o.objectKey !== undefined) invalid.failIf(checkFunction('objectKey', o.objectKey))
  if (o.version !== undefined) invalid.failIf(checkFunction('version', o.version))
  if (o.version !== undefined && o.objectKey === undefined) invalid.fail(expected('objectKey', 'a function when `version` is set (versions are kept per object)', o.objectKey))
  invalid.failIf(checkBoolean('skipEqualVersion', o.skipEqualVersion))
  invalid.failIf(checkInteger('hydrateCacheMs', o.hydrateCacheMs, 0, 24 * HOUR_MS))
  if (o.hydrateCacheMs > 0 && o.objectKey === undefined) invalid.fail(expected('objectKey', 'a function when `hydrateCacheMs` is set (the cache is per object)', o.objectKey))
  invalid.failIf(checkInteger('clockSkewMs', o.clockSkewMs, 0, HOUR_MS))
}

function nested (name: string, value: unknown, defaults: Record<string, unknown>): Record<string, unknown> {
  if (value === undefined) return { ...defaults }
  const o = objectOf(name, value)
  invalid.failIf(unknownOption(`${name}.`, o, Object.keys(defaults)))
  const merged: Record<string, unknown> = { ...defaults }
  for (const [key, v] of Object.entries(o)) if (v !== undefined) merged[key] = v
  return merged
}

function objectOf (name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid.fail(expected(name, 'an object', value))
  return value as Record<string, unknown>
}

function unknownOption (path: string, o: object, known: readonly string[]): string | undefined {
  const unknown = unknownKeys(o, known)
  if (unknown.length === 0) return undefined
  return `Unknown option \`${path}${unknown[0]}\`; known options are ${known.map((k) => path + k).join(', ')}`
}
