import t from 'tap'
import { pino } from 'pino'
import { validateWorkerOptions, WORKER_DEFAULTS, type WebhookWorkerOptions } from '../worker/options.js'
import { createWebhookWorker } from '../worker/worker.js'

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
  t.equal(o.logger.level, 'silent')
  t.equal(o.logger, WORKER_DEFAULTS.logger)
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
  ['logger', { ...base, logger: console.log }, /Expected `logger` to be a pino logger/]
]

for (const [name, options, message] of bad) {
  t.test(`invalid ${name}: a coded TypeError`, async (t) => {
    const err = t.throws(() => validateWorkerOptions(options as unknown as WebhookWorkerOptions)) as Error & { code?: string }
    t.equal(err.code, 'WEBHOOK_WORKER_INVALID_OPTION')
    t.ok(err instanceof TypeError)
    t.match(err.message, message)
  })
}

t.test('createWebhookWorker validates before it connects', async (t) => {
  t.throws(() => createWebhookWorker({ ...base, concurrency: -1 }), { code: 'WEBHOOK_WORKER_INVALID_OPTION' })
})

t.test('a pino logger is accepted', async (t) => {
  const logger = pino({ level: 'debug' })
  t.equal(validateWorkerOptions({ ...base, logger }).logger, logger)
})
