import t from 'tap'
import { pino } from 'pino'
import type { WebhookWorkerOptions } from '../../worker/options.js'
import { validateWorkerOptions, WORKER_DEFAULTS } from '../../worker/resolve-options.js'
import { createWebhookWorker } from '../../worker/worker.js'

const base = { connection: 'redis://127.0.0.1:6379', apply: async () => {} }

t.test('defaults: the documented values', async (t) => {
  const o = validateWorkerOptions(base)
  t.match(o, {
    queueName: 'integration-events',
    prefix: 'bull',
    concurrency: 10,
    hydrateTimeoutMs: 30_000,
    applyTimeoutMs: 60_000,
    retry: { attempts: 24, baseDelayMs: 1000, maxDelayMs: 600_000 },
    dedupe: { ttlMs: 14 * 24 * 3_600_000 },
    lockDuration: 30_000,
    stalledInterval: 30_000,
    maxStalledCount: 2,
    deadLetters: { alertThreshold: 10, includeStack: false },
    persistenceCheck: 'warn'
  })
  t.equal(o.hydrate, undefined)
  t.equal(o.logger.level, 'warn', 'warnings and errors are written by default')
  t.equal(o.logger, WORKER_DEFAULTS.logger)
})

t.test('rate limit, sharing and ordering: none by default; given ones are kept', async (t) => {
  const d = validateWorkerOptions(base)
  t.match(d, { rateLimit: undefined, objectKey: undefined, version: undefined, skipEqualVersion: false, hydrateCacheMs: 0, clockSkewMs: 1000 })
  const objectKey = (): string => 'k'
  const version = (): number => 1
  const o = validateWorkerOptions({ ...base, rateLimit: { max: 50, duration: 60_000 }, objectKey, version, skipEqualVersion: true, hydrateCacheMs: 5000, clockSkewMs: 0 })
  t.same(o.rateLimit, { max: 50, duration: 60_000 })
  t.equal(o.objectKey, objectKey)
  t.equal(o.version, version)
  t.match(o, { skipEqualVersion: true, hydrateCacheMs: 5000, clockSkewMs: 0 })
})

t.test('nested options merge with their defaults; a TTL function is accepted', async (t) => {
  const ttl = (): number => 60_000
  const o = validateWorkerOptions({ ...base, retry: { attempts: 3 }, dedupe: { ttlMs: ttl }, deadLetters: { includeStack: true } })
  t.same(o.retry, { attempts: 3, baseDelayMs: 1000, maxDelayMs: 600_000 })
  t.equal(o.dedupe.ttlMs, ttl)
  t.same(o.deadLetters, { alertThreshold: 10, includeStack: true })
  t.same(WORKER_DEFAULTS.retry, { attempts: 24, baseDelayMs: 1000, maxDelayMs: 600_000 }, 'defaults are not mutated')
})

const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['not an object', null as unknown as Record<string, unknown>, /Expected `options` to be an object, got `null` \(null\)/],
  ['unknown option', { ...base, concurency: 2 }, /Unknown option `concurency`/],
  ['unknown nested option', { ...base, retry: { attempt: 2 } }, /Unknown option `retry.attempt`; known options are retry.attempts/],
  ['nested not an object', { ...base, retry: 5 }, /Expected `retry` to be an object, got `5` \(number\)/],
  ['connection', { ...base, connection: 'http://x' }, /Expected `connection` to be a redis:\/\/ or rediss:\/\/ URL/],
  ['apply missing', { connection: base.connection }, /Expected `apply` to be a function, got `undefined`/],
  ['hydrate', { ...base, hydrate: 'x' }, /Expected `hydrate` to be a function/],
  ['queueName', { ...base, queueName: 'a:b' }, /Expected `queueName` to be a non-empty string without `:`/],
  ['prefix', { ...base, prefix: '' }, /Expected `prefix`/],
  ['concurrency', { ...base, concurrency: 0 }, /Expected `concurrency` to be an integer from 1 to 10000, got `0` \(number\)/],
  ['hydrateTimeoutMs', { ...base, hydrateTimeoutMs: 1.5 }, /hydrateTimeoutMs/],
  ['applyTimeoutMs', { ...base, applyTimeoutMs: '60s' }, /applyTimeoutMs/],
  ['retry.attempts', { ...base, retry: { attempts: 0 } }, /retry.attempts/],
  ['retry.baseDelayMs', { ...base, retry: { baseDelayMs: -1 } }, /retry.baseDelayMs/],
  ['retry.maxDelayMs below the base', { ...base, retry: { baseDelayMs: 500, maxDelayMs: 100 } }, /`retry.maxDelayMs` to be an integer from 500/],
  ['dedupe.ttlMs', { ...base, dedupe: { ttlMs: 10 } }, /dedupe.ttlMs/],
  ['lockDuration', { ...base, lockDuration: 50 }, /lockDuration/],
  ['stalledInterval', { ...base, stalledInterval: 0 }, /stalledInterval/],
  ['maxStalledCount', { ...base, maxStalledCount: -1 }, /maxStalledCount/],
  ['deadLetters.alertThreshold', { ...base, deadLetters: { alertThreshold: 0 } }, /deadLetters.alertThreshold/],
  ['deadLetters.includeStack', { ...base, deadLetters: { includeStack: 'yes' } }, /deadLetters.includeStack/],
  ['persistenceCheck', { ...base, persistenceCheck: 'strict' }, /Expected `persistenceCheck` to be one of 'warn', 'refuse', 'off'/],
  ['logger', { ...base, logger: console.log }, /Expected `logger` to be a pino logger/],
  ['rateLimit not an object', { ...base, rateLimit: 50 }, /Expected `rateLimit` to be an object, got `50` \(number\)/],
  ['rateLimit.max', { ...base, rateLimit: { max: 0, duration: 1000 } }, /Expected `rateLimit.max` to be an integer from 1 to 1000000, got `0`/],
  ['rateLimit.duration missing', { ...base, rateLimit: { max: 50 } }, /Expected `rateLimit.duration` to be an integer from 1 to 86400000, got `undefined`/],
  ['rateLimit unknown key', { ...base, rateLimit: { max: 5, duration: 1000, per: 'queue' } }, /Unknown option `rateLimit.per`; known options are rateLimit.max, rateLimit.duration/],
  ['objectKey', { ...base, objectKey: 'id' }, /Expected `objectKey` to be a function, got `id` \(string\)/],
  ['version', { ...base, objectKey: () => 'k', version: 'updated_at' }, /Expected `version` to be a function/],
  ['version without objectKey', { ...base, version: () => 1 }, /Expected `objectKey` to be a function when `version` is set/],
  ['skipEqualVersion', { ...base, skipEqualVersion: 1 }, /Expected `skipEqualVersion` to be a boolean/],
  ['hydrateCacheMs', { ...base, objectKey: () => 'k', hydrateCacheMs: -1 }, /Expected `hydrateCacheMs` to be an integer from 0 to 86400000/],
  ['hydrateCacheMs without objectKey', { ...base, hydrateCacheMs: 5000 }, /Expected `objectKey` to be a function when `hydrateCacheMs` is set/],
  ['clockSkewMs', { ...base, clockSkewMs: 1.5 }, /Expected `clockSkewMs` to be an integer from 0 to 3600000/]
]

for (const [name, options, message] of bad) {
  t.test(`invalid ${name}: a coded TypeError`, async (t) => {
    const err = t.throws(() => validateWorkerOptions(options as unknown as WebhookWorkerOptions)) as Error & { code?: string }
    t.equal(err.code, 'WEBHOOK_INVALID_OPTION')
    t.ok(err instanceof TypeError)
    t.match(err.message, message)
  })
}

t.test('createWebhookWorker validates before it connects', async (t) => {
  t.throws(() => createWebhookWorker({ ...base, concurrency: -1 }), { code: 'WEBHOOK_INVALID_OPTION' })
})

t.test('a pino logger is accepted', async (t) => {
  const logger = pino({ level: 'debug' })
  t.equal(validateWorkerOptions({ ...base, logger }).logger, logger)
})
