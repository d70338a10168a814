/**
 * Resolves `createPoller`'s options: fills in the defaults and checks every
 * value, so the poller reads a complete, valid set. The options themselves,
 * and what each means, are in `poller-options.ts`.
 */
import type { Logger } from 'pino'
import { connectionProblem } from '../core/connection.js'
import { DEFAULT_LOGGER, loggerOption } from '../core/logger.js'
import { SOURCE_PATTERN } from '../core/event.js'
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { metricsProblem, type MetricsOption } from '../core/prom.js'
import {
  checkBoolean, checkFunction, checkInteger, checkRedisName, checkString, expected, unknownKeys
} from '../core/validate.js'
import type { PollerOptions } from './poller-options.js'

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
  logger: DEFAULT_LOGGER,
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

const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

/** The options after defaults and validation: every one set but `store`. */
export type ResolvedPollerOptions<P = unknown> = Required<Omit<PollerOptions<P>, 'store' | 'logger'>> & Pick<PollerOptions<P>, 'store'> & { logger: Logger }

/**
 * Checks poller options and fills in defaults. Pure; throws a
 * `WEBHOOK_INVALID_OPTION` `TypeError` for the first problem found.
 */
export function validatePollerOptions<P> (options: PollerOptions<P>): ResolvedPollerOptions<P> {
  if (typeof options !== 'object' || options === null) invalid.fail(expected('options', 'an object', options))
  const unknown = unknownKeys(options, KNOWN)
  if (unknown.length > 0) invalid.fail(`Unknown option \`${unknown[0]}\`; known options are ${KNOWN.join(', ')}`)
  const o = { ...POLLER_DEFAULTS, ...stripUndefined(options) }
  o.logger = loggerOption(o.logger) as Logger
  const problem = connectionProblem(o.connection)
  invalid.failIf(problem === undefined ? undefined : `Expected \`connection\` to be ${problem}`)
  invalid.failIf(checkString('source', o.source, SOURCE_PATTERN))
  invalid.failIf(checkFunction('fetchChanges', o.fetchChanges))
  if (typeof o.initialCursor !== 'string' && typeof o.initialCursor !== 'function') {
    invalid.fail(expected('initialCursor', 'a string or a function returning one', o.initialCursor))
  }
  invalid.failIf(checkRedisName('queueName', o.queueName))
  invalid.failIf(checkRedisName('prefix', o.prefix))
  const pollQueue = o.pollQueueName ?? `${o.queueName}-poll`
  invalid.failIf(checkRedisName('pollQueueName', pollQueue))
  if (pollQueue === o.queueName) invalid.fail(expected('pollQueueName', 'a queue other than `queueName`', pollQueue, 'The webhook worker would take poll jobs'))
  for (const [name, min] of DURATIONS) invalid.failIf(checkInteger(name, o[name], min))
  invalid.failIf(checkInteger('maxPagesPerRun', o.maxPagesPerRun, 1))
  invalid.failIf(checkInteger('fetchAttempts', o.fetchAttempts, 1))
  invalid.failIf(checkBoolean('runOnStart', o.runOnStart))
  invalid.failIf(metricsProblem(o.metrics))
  invalid.failIf(checkBoolean('queueMetrics', o.queueMetrics))
  if (o.store !== undefined) {
    if (typeof o.store !== 'object' || o.store === null) invalid.fail(expected('store', 'an object with load() and save(next, prev)', o.store))
    invalid.failIf(checkFunction('store.load', o.store.load))
    invalid.failIf(checkFunction('store.save', o.store.save))
  }
  if (typeof o.logger !== 'object' || o.logger === null || typeof o.logger.child !== 'function') {
    invalid.fail(expected('logger', 'a pino logger or `false`', o.logger))
  }
  return { ...o, logger: o.logger, pollQueueName: pollQueue }
}

function stripUndefined<T extends object> (options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as T
}
