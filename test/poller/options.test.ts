import t from 'tap'
import type { Test } from 'tap'
import { pino } from 'pino'
import type { PollerOptions } from '../../poller/poller-options.js'
import { POLLER_DEFAULTS, validatePollerOptions } from '../../poller/resolve-poller-options.js'
import { pageProblem } from '../../poller/poll-page.js'

const base: PollerOptions = {
  connection: 'redis://127.0.0.1:6379',
  source: 'acme',
  fetchChanges: async () => ({ events: [], cursor: '', hasMore: false }),
  initialCursor: '0'
}

function invalid (t: Test, options: Record<string, unknown>, message: RegExp): void {
  try {
    validatePollerOptions({ ...base, ...options } as PollerOptions)
    t.fail(`no error for ${message.source}`)
  } catch (err) {
    t.type(err, TypeError)
    t.match(err, { code: 'WEBHOOK_INVALID_OPTION', message }, message.source)
  }
}

t.test('defaults fill every optional option', async (t) => {
  const o = validatePollerOptions(base)
  t.equal(o.queueName, 'integration-events')
  t.equal(o.prefix, 'bull')
  t.equal(o.pollQueueName, 'integration-events-poll')
  t.equal(o.every, 60_000)
  t.equal(o.maxPagesPerRun, 10)
  t.equal(o.lagThresholdMs, 300_000)
  t.equal(o.runOnStart, true)
  t.equal(o.store, undefined)
  t.equal(o.logger, POLLER_DEFAULTS.logger)
  t.equal(validatePollerOptions({ ...base, queueName: 'orders', every: undefined }).pollQueueName, 'orders-poll')
  t.equal(validatePollerOptions({ ...base, every: 250 }).every, 250)
  const store = { load: () => null, save: () => true }
  t.equal(validatePollerOptions({ ...base, store, initialCursor: async () => 'x' }).store, store)
})

t.test('every bad option is a coded TypeError naming what was expected and what came', async (t) => {
  t.throws(() => validatePollerOptions(null as never), { code: 'WEBHOOK_INVALID_OPTION', message: /Expected `options` to be an object/ })
  invalid(t, { evry: 5 }, /Unknown option `evry`/)
  invalid(t, { connection: 42 }, /Expected `connection` to be a redis:\/\/ URL/)
  invalid(t, { source: 'no spaces' }, /Expected `source` to be a string matching/)
  invalid(t, { fetchChanges: 'x' }, /Expected `fetchChanges` to be a function, got `x` \(string\)/)
  invalid(t, { initialCursor: 5 }, /Expected `initialCursor` to be a string or a function returning one, got `5` \(number\)/)
  invalid(t, { initialCursor: undefined }, /Expected `initialCursor`/)
  invalid(t, { queueName: 'a:b' }, /Expected `queueName` to be a non-empty string without `:`/)
  invalid(t, { prefix: '' }, /Expected `prefix`/)
  invalid(t, { pollQueueName: 'x:y' }, /Expected `pollQueueName`/)
  invalid(t, { pollQueueName: 'integration-events' }, /The webhook worker would take poll jobs/)
  invalid(t, { every: 0 }, /Expected `every` to be an integer from 10 and up, got `0` \(number\)/)
  invalid(t, { every: 1.5 }, /Expected `every`/)
  invalid(t, { maxPagesPerRun: 0 }, /Expected `maxPagesPerRun` to be an integer from 1 and up/)
  invalid(t, { lagThresholdMs: '5' }, /Expected `lagThresholdMs`/)
  invalid(t, { leaseMs: 100 }, /Expected `leaseMs` to be an integer from 300 and up/)
  invalid(t, { fetchTimeoutMs: -1 }, /Expected `fetchTimeoutMs`/)
  invalid(t, { fetchAttempts: 0 }, /Expected `fetchAttempts`/)
  invalid(t, { fetchBackoffMs: -1 }, /Expected `fetchBackoffMs`/)
  invalid(t, { enqueueTimeoutMs: 0 }, /Expected `enqueueTimeoutMs`/)
  invalid(t, { lockDuration: 5 }, /Expected `lockDuration`/)
  invalid(t, { stalledInterval: 5 }, /Expected `stalledInterval`/)
  invalid(t, { runOnStart: 'yes' }, /Expected `runOnStart` to be a boolean/)
  invalid(t, { store: 5 }, /Expected `store` to be an object with load\(\) and save\(next, prev\)/)
  invalid(t, { store: { load: () => null } }, /Expected `store.save` to be a function/)
  invalid(t, { store: { save: () => true } }, /Expected `store.load` to be a function/)
  invalid(t, { logger: console }, /Expected `logger` to be a pino logger/)
  t.ok(validatePollerOptions({ ...base, logger: pino({ level: 'silent' }) }))
})

t.test('pageProblem explains the first contract break of a page', async (t) => {
  const ok = { events: [{ id: 'e1', type: 't', payload: {} }, { id: 'e2', payload: { a: 1 } }], cursor: 'c', hasMore: false }
  t.equal(pageProblem(ok), undefined)
  t.equal(pageProblem({ events: [], cursor: '', hasMore: true }), undefined, 'an empty page and an empty cursor are fine')
  t.match(pageProblem(undefined), /Expected `fetchChanges\(\)` to be to resolve to \{ events, cursor, hasMore \}, got `undefined`/)
  t.match(pageProblem([]), /\(array\)/)
  t.match(pageProblem({ ...ok, cursor: 5 }), /Expected `cursor` to be a string, got `5` \(number\)/)
  t.match(pageProblem({ ...ok, cursor: null }), /Expected `cursor` to be a string, got `null` \(null\)/)
  t.match(pageProblem({ ...ok, hasMore: 'no' }), /Expected `hasMore` to be a boolean/)
  t.match(pageProblem({ ...ok, events: {} }), /Expected `events` to be an array/)
  t.match(pageProblem({ ...ok, events: [null] }), /Expected `events\[0\]` to be an object \{ id, type, payload \}/)
  t.match(pageProblem({ ...ok, events: [ok.events[0], { id: 7, payload: {} }] }), /Expected `events\[1\].id` to be a non-empty string, got `7` \(number\)/)
  t.match(pageProblem({ ...ok, events: [{ id: '', payload: {} }] }), /`events\[0\].id`/)
  t.match(pageProblem({ ...ok, events: [{ id: 'a', type: 3, payload: {} }] }), /Expected `events\[0\].type` to be a string/)
  t.match(pageProblem({ ...ok, events: [{ id: 'a', payload: [1] }] }), /Expected `events\[0\].payload` to be an object, got `\[1\]` \(array\)/)
  t.match(pageProblem({ ...ok, events: [{ id: 'a' }] }), /`events\[0\].payload`/)
})
