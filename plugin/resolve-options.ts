/**
 * Resolves `webhookPlugin`'s options: fills in the defaults and checks every
 * value, so the rest of the plugin reads a complete, valid set. The options
 * themselves, and what each means, are in `options.ts`.
 */
import type { LogLevel } from 'fastify'
import type { RedisConnection } from '../core/connection.js'
import { connectionProblem, isCluster, isRedisClient } from '../core/connection.js'
import { SOURCE_PATTERN } from '../core/event.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkOneOf, checkRedisName, checkString, expected, unknownKeys
} from '../core/validate.js'
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, pick, type OptionValidator } from '../core/option-validator.js'
import type { Provider, SecretContext } from '../providers/provider.js'
import { providerProblem } from '../providers/provider-check.js'
import type { AcceptTypes, PersistenceCheck, WebhookPluginOptions } from './options.js'

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
const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

/**
 * Applies defaults and checks every option. Pure: throws
 * `WEBHOOK_INVALID_OPTION` (a `TypeError`) for the first bad option.
 */
export function validatePluginOptions (options: unknown): ResolvedPluginOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid.fail(expected('options', 'an object', options))
  }
  const o = options as Record<string, unknown>
  const unknown = unknownKeys(o, KNOWN)
  if (unknown.length > 0) invalid.fail(`Unknown option \`${unknown[0]}\`; known options are ${KNOWN.join(', ')}`)

  const provider = o.provider
  invalid.failIf(providerProblem(provider))
  const p = provider as Provider
  const connection = connectionProblem(o.connection)
  if (connection !== undefined) invalid.fail(`Expected \`connection\` to be ${connection}`)

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

  invalid.failIf(checkString('path', resolved.path, PATH_PATTERN, 'a route path starting with `/`'))
  invalid.failIf(checkString('source', resolved.source, SOURCE_PATTERN, `a string matching ${String(SOURCE_PATTERN)}` +
    (o.source === undefined ? ' (it defaults to the provider\'s name: set `source`)' : '')))
  invalid.failIf(checkString('name', resolved.name))
  invalid.failIf(checkRedisName('queueName', resolved.queueName))
  const prefixHint = typeof resolved.prefix === 'string' && resolved.prefix.startsWith('/')
    ? '`prefix` is BullMQ\'s key prefix, not a route prefix: set the route with `path`'
    : undefined
  invalid.failIf(prefixHint === undefined
    ? checkRedisName('prefix', resolved.prefix)
    : expected('prefix', 'a BullMQ key prefix', resolved.prefix, prefixHint))
  invalid.failIf(checkInteger('bodyLimit', resolved.bodyLimit, 1, MAX_BODY_LIMIT))
  // Smaller than bodyLimit, a body the route accepts could never be read.
  if (checkInteger('maxUnverifiedBytes', resolved.maxUnverifiedBytes, resolved.bodyLimit) !== undefined) {
    invalid.fail(expected('maxUnverifiedBytes', `an integer no smaller than \`bodyLimit\` (${resolved.bodyLimit})`, resolved.maxUnverifiedBytes))
  }
  invalid.failIf(checkInteger('ackTimeoutMs', resolved.ackTimeoutMs, 1, 60_000))
  invalid.failIf(checkInteger('retryAfterMs', resolved.retryAfterMs, 1000, 86_400_000))
  invalid.failIf(checkBoolean('requireRedisAtBoot', resolved.requireRedisAtBoot))
  invalid.failIf(checkInteger('readyTimeoutMs', resolved.readyTimeoutMs, 1, 600_000))
  invalid.failIf(checkOneOf('persistenceCheck', resolved.persistenceCheck, ['warn', 'refuse', 'off']))
  invalid.failIf(checkInteger('secretCacheMs', resolved.secretCacheMs, 0))
  invalid.failIf(checkInteger('secretNegativeCacheMs', resolved.secretNegativeCacheMs, 0))
  invalid.failIf(checkInteger('secretTimeoutMs', resolved.secretTimeoutMs, 1, 60_000))
  invalid.failIf(checkFunction('secretCacheKey', resolved.secretCacheKey))
  if (resolved.logLevel !== undefined) invalid.failIf(checkOneOf('logLevel', resolved.logLevel, LOG_LEVELS))
  invalid.failIf(metricsProblem(resolved.metrics))
  invalid.failIf(checkBoolean('queueMetrics', resolved.queueMetrics))
  if (resolved.maxBacklog !== false && checkInteger('maxBacklog', resolved.maxBacklog, 1) !== undefined) {
    invalid.fail(expected('maxBacklog', 'an integer from 1 and up, or false', resolved.maxBacklog))
  }
  invalid.failIf(checkInteger('waitReplicas', resolved.waitReplicas, 0, 100))
  // WAIT counts the replicas of the node the connection wrote to; a Cluster
  // client sends a keyless command to any node.
  if (resolved.waitReplicas > 0 && isRedisClient(resolved.connection) && isCluster(resolved.connection)) {
    invalid.fail(expected('waitReplicas', '0 on a Redis Cluster connection', resolved.waitReplicas, 'WAIT is not routed to the node that holds the queue'))
  }
  invalid.failIf(acceptTypesProblem(resolved.acceptTypes))
  if (resolved.healthRoute !== false) invalid.failIf(checkString('healthRoute', resolved.healthRoute, PATH_PATTERN, 'a route path starting with `/`, or false'))
  invalid.failIf(checkInteger('healthMaxBacklog', resolved.healthMaxBacklog, 0))
  invalid.failIf(checkInteger('healthMaxAgeMs', resolved.healthMaxAgeMs, 1))
  return resolved
}

function acceptTypesProblem (value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function') return undefined
  if (Array.isArray(value) && value.length > 0 && value.every((type) => typeof type === 'string')) return undefined
  return expected('acceptTypes', 'a non-empty array of event types or a function (type, event) => boolean', value)
}
