import { EventEmitter } from 'node:events'
import t, { type Test } from 'tap'
import type { Job } from 'bullmq'
import { pino } from 'pino'
import type { WebhookEvent } from '../../core/event.js'
import { createHydration } from '../../worker/hydration.js'
import { HydrationGate, hydrationKeys, HYDRATION_SCRIPTS } from '../../worker/hydration-gate.js'
import type { HydrateStep, Hydrated } from '../../worker/processor.js'
import { Postponed } from '../../worker/postponed.js'
import { queueKeyBase } from '../../core/keys.js'
import { loadScripts } from '../../core/scripts.js'
import { RateLimitedError } from '../../core/hook-errors.js'
import { validateWorkerOptions } from '../../worker/resolve-options.js'
import type { WebhookWorkerOptions, WorkerContext } from '../../worker/options.js'
import { Reporter, type WebhookWorkerEvents } from '../../worker/reporter.js'
import { makeEvent, queueFixture, sleep, waitFor, type QueueFixture } from '../helpers/worker.js'

// The hydrate step called directly, as the processor calls it once per
// attempt: with the event, a context whose signal is the attempt's deadline,
// the object key and the claim time. The gate runs on the test Redis; the
// user's hydrate is the test's.

t.setTimeout(25_000)

const silent = pino({ level: 'silent' })
const objectKey = (event: WebhookEvent): string => (event.payload as { object_id: string }).object_id

function received (event: WebhookEvent, at: number): WebhookEvent {
  return { ...event, receivedAt: at }
}

/** An event of `object` received long before any call the test makes (beyond the clock-skew margin). */
function old (object: string, payload: Record<string, unknown> = {}): WebhookEvent {
  return received(makeEvent({ payload: { object_id: object, ...payload } }), Date.now() - 60_000)
}

/** A user hydrate whose calls the test settles, one by one. */
function controlledApi () {
  const calls: Array<{ eventId: string, at: number, resolve: (value: unknown) => void, reject: (err: unknown) => void }> = []
  async function hydrate (event: WebhookEvent): Promise<unknown> {
    return await new Promise((resolve, reject) => { calls.push({ eventId: event.id, at: Date.now(), resolve, reject }) })
  }
  return { calls, hydrate }
}

interface HydrationFixture {
  q: QueueFixture
  step: HydrateStep<any, any>
  reporter: Reporter
  pauses: Array<{ pauseMs: number }>
  pauseKey: string
  /** Calls the step as one attempt would; its signal aborts after `deadlineMs`, if given. */
  attempt: (event: WebhookEvent, options?: { key?: string | undefined, claimedAt?: number, deadlineMs?: number, abortedWith?: Error }) => Attempt
}

interface Attempt {
  controller: AbortController
  /** Never rejects: the value or the error. */
  settled: Promise<{ value: Hydrated<any> } | { error: unknown }>
}

async function hydrationFixture (t: Test, given: Partial<WebhookWorkerOptions<any>>): Promise<HydrationFixture> {
  const q = queueFixture(t)
  const options = validateWorkerOptions<any, any>({ connection: q.url, queueName: q.queueName, prefix: q.prefix, logger: silent, objectKey, apply: async () => {}, ...given })
  const emitter = new EventEmitter<WebhookWorkerEvents>()
  const pauses: Array<{ pauseMs: number }> = []
  emitter.on('hydrationPaused', (info) => pauses.push(info))
  const reporter = new Reporter(silent, emitter)
  await loadScripts(q.redis, HYDRATION_SCRIPTS)
  const keys = hydrationKeys(queueKeyBase(q.prefix, q.queueName))
  const step = createHydration(options, new HydrationGate(q.redis, keys, options.rateLimit, reporter, options.hydrateTimeoutMs), reporter)
  const timers: NodeJS.Timeout[] = []
  t.teardown(() => { for (const timer of timers) clearTimeout(timer) })
  return {
    q,
    step,
    reporter,
    pauses,
    pauseKey: keys.pause,
    attempt (event, options = {}) {
      const { claimedAt = 1, deadlineMs, abortedWith } = options
      // `key: undefined` is an event without an object, not the default.
      const key = 'key' in options ? options.key : objectKey(event)
      const controller = new AbortController()
      if (abortedWith !== undefined) controller.abort(abortedWith)
      if (deadlineMs !== undefined) timers.push(setTimeout(() => controller.abort(new Error(`deadline ${deadlineMs}`)), deadlineMs))
      const ctx: WorkerContext = { idempotencyKey: event.id, attempt: 1, fence: 1, origin: 'webhook', signal: controller.signal, log: silent, job: {} as Job }
      const settled = step(event, ctx, key, claimedAt).then((value) => ({ value }), (error: unknown) => ({ error }))
      return { controller, settled }
    }
  }
}

t.test('without a user hydrate the payload is the state; without an object key every call hydrates', async (t) => {
  const plain = await hydrationFixture(t, {})
  const event = old('o0', { amount: 3 })
  t.same(await plain.attempt(event, { claimedAt: 42 }).settled, { value: { state: { object_id: 'o0', amount: 3 }, fetchedAfter: undefined } }, 'the payload, of unknown fetch time')
  t.equal(plain.reporter.stats.hydrateCalls, 0)

  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate })
  const a = f.attempt(old('o1'), { key: undefined, claimedAt: 10 })
  const b = f.attempt(old('o1'), { key: undefined, claimedAt: 20 })
  await waitFor(() => api.calls.length === 2, 2000, 'a call each')
  api.calls[0].resolve('first')
  api.calls[1].resolve('second')
  t.same(await a.settled, { value: { state: 'first', fetchedAfter: 10 } }, 'fetched after its own claim')
  t.same(await b.settled, { value: { state: 'second', fetchedAfter: 20 } })
  t.match(f.reporter.stats, { hydrateCalls: 2, coalesced: 0, cacheHits: 0 })
})

t.test('concurrent calls for one object share one hydrate call, and its starter\'s claim time; other objects call their own', async (t) => {
  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate })
  const attempts = [1, 2, 3, 4, 5].map((n) => f.attempt(old('o1'), { claimedAt: 1000 + n }))
  const other = f.attempt(old('o2'), { claimedAt: 7 })
  await waitFor(() => api.calls.length === 2, 2000, 'one call per object')
  await sleep(50)
  t.equal(api.calls.length, 2, 'no more calls while they are in flight')
  api.calls[0].resolve({ n: 1 })
  api.calls[1].resolve({ n: 2 })
  for (const a of attempts) t.same(await a.settled, { value: { state: { n: 1 }, fetchedAfter: 1001 } })
  t.same(await other.settled, { value: { state: { n: 2 }, fetchedAfter: 7 } })
  t.match(f.reporter.stats, { hydrateCalls: 2, coalesced: 4, cacheHits: 0 })

  const after = f.attempt(old('o1'))
  await waitFor(() => api.calls.length === 3, 2000, 'a new call')
  api.calls[2].resolve({ n: 3 })
  t.match(await after.settled, { value: { state: { n: 3 } } }, 'a settled call serves nobody later (no cache)')
})

t.test('an event received after the call in flight started, or within clockSkewMs before, waits and takes the next call', async (t) => {
  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate, clockSkewMs: 200 })
  const first = f.attempt(old('o3'))
  await waitFor(() => api.calls.length === 1, 2000, 'first call')
  const startedAt = api.calls[0].at
  const newer = f.attempt(received(makeEvent({ payload: { object_id: 'o3' } }), startedAt + 5), { claimedAt: 2 })
  const near = f.attempt(received(makeEvent({ payload: { object_id: 'o3' } }), startedAt - 100), { claimedAt: 3 })
  await sleep(250)
  t.equal(api.calls.length, 1, 'they wait for the call in flight rather than start one beside it')
  api.calls[0].resolve('before')
  t.same(await first.settled, { value: { state: 'before', fetchedAfter: 1 } })
  await waitFor(() => api.calls.length === 2, 2000, 'the next call')
  api.calls[1].resolve('after')
  const newerOutcome = await newer.settled
  t.match(newerOutcome, { value: { state: 'after' } }, 'the newer event got a state fetched after it')
  t.same(await near.settled, newerOutcome, 'so did the one within the margin, sharing that next call')
  t.match(f.reporter.stats, { hydrateCalls: 2, coalesced: 1 })
})

t.test('the cache serves events received before its entry\'s call started, until hydrateCacheMs; then hydrate is called again', async (t) => {
  let calls = 0
  const f = await hydrationFixture(t, { hydrate: async () => ({ call: ++calls }), hydrateCacheMs: 400 })
  const first = await f.attempt(old('o4'), { claimedAt: 5 }).settled
  t.same(first, { value: { state: { call: 1 }, fetchedAfter: 5 } })
  t.same(await f.attempt(old('o4'), { claimedAt: 6 }).settled, first, 'a cache hit: the same state and claim time')
  t.equal(calls, 1)
  t.equal(f.reporter.stats.cacheHits, 1)

  // Entries are dated in ms: a call in the same ms as the first would not replace its entry.
  await sleep(5)
  const fresh = await f.attempt(makeEvent({ payload: { object_id: 'o4' } }), { claimedAt: 7 }).settled
  t.same(fresh, { value: { state: { call: 2 }, fetchedAfter: 7 } }, 'an event newer than the entry calls hydrate')
  t.same(await f.attempt(old('o4')).settled, fresh, 'and its entry replaces the older one')
  t.same(await f.attempt(old('o5')).settled, { value: { state: { call: 3 }, fetchedAfter: 1 } }, 'entries are per object')

  await sleep(450)
  t.same(await f.attempt(old('o4')).settled, { value: { state: { call: 4 }, fetchedAfter: 1 } }, 'an expired entry serves nobody')
  t.match(f.reporter.stats, { hydrateCalls: 4, cacheHits: 2 })
})

t.test('a failed call: its error goes to every caller waiting on it, and is never cached', async (t) => {
  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate, hydrateCacheMs: 60_000 })
  const attempts = [f.attempt(old('o6')), f.attempt(old('o6')), f.attempt(old('o6'))]
  await waitFor(() => api.calls.length === 1, 2000, 'one call')
  const failure = new Error('provider 500')
  api.calls[0].reject(failure)
  for (const a of attempts) t.same(await a.settled, { error: failure })
  t.equal((await attempts[2].settled as { error: unknown }).error, failure, 'the very error, not a copy')
  t.match(f.reporter.stats, { hydrateCalls: 1, coalesced: 0 })

  const retry = f.attempt(old('o6'))
  await waitFor(() => api.calls.length === 2, 2000, 'the next caller calls again')
  api.calls[1].resolve('ok')
  t.match(await retry.settled, { value: { state: 'ok' } })
  t.match(await f.attempt(old('o6')).settled, { value: { state: 'ok' } }, 'a success is cached')
  t.equal(api.calls.length, 2)
})

t.test('a call whose starter gave up serves nobody: a waiter calls again, and the late answer is not cached', async (t) => {
  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate, hydrateCacheMs: 60_000 })
  const starter = f.attempt(old('o7'), { deadlineMs: 150, claimedAt: 1 })
  await waitFor(() => api.calls.length === 1, 2000, 'the first call')
  const waiter = f.attempt(old('o7'), { claimedAt: 2 })
  t.match(await starter.settled, { error: { message: 'deadline 150' } }, 'the starter gave up at its deadline')
  await waitFor(() => api.calls.length === 2, 2000, 'the waiter\'s own call')
  api.calls[0].resolve('late')
  api.calls[1].resolve('own')
  t.same(await waiter.settled, { value: { state: 'own', fetchedAfter: 2 } }, 'the waiter got its own call\'s state')
  await sleep(20)
  t.same(await f.attempt(old('o7')).settled, { value: { state: 'own', fetchedAfter: 2 } }, 'the cache holds the waiter\'s state, not the late one')
  t.match(f.reporter.stats, { hydrateCalls: 2, coalesced: 0, cacheHits: 1 })

  const aborted = f.attempt(old('o8'), { abortedWith: new Error('closed') })
  t.match(await aborted.settled, { error: { message: 'closed' } })
  await sleep(20)
  t.equal(api.calls.length, 2, 'an attempt aborted before its call never calls hydrate')
})

t.test('a hung call leaves the coalescing map (and never reaches the cache) at its starter\'s deadline; a waiter is released at its own', async (t) => {
  const q = queueFixture(t)
  let calls = 0
  let finishLate = (_value: unknown): void => {}
  const options = validateWorkerOptions({
    connection: q.url,
    objectKey,
    hydrateCacheMs: 60_000,
    // The first call ignores its signal and settles only when the test says so.
    hydrate: async () => ++calls === 1 ? await new Promise<unknown>((resolve) => { finishLate = resolve }) : { call: calls },
    apply: async () => {}
  })
  const reporter = new Reporter(pino({ level: 'silent' }), new EventEmitter<WebhookWorkerEvents>())
  const step = createHydration(options, new HydrationGate(q.redis, hydrationKeys(queueKeyBase(q.prefix, q.queueName)), undefined, reporter), reporter)
  const old = Date.now() - 60_000
  function attempt (deadlineMs: number) {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error(`deadline ${deadlineMs}`)), deadlineMs)
    const ctx = { idempotencyKey: 'k', attempt: 1, fence: 1, origin: 'webhook', signal: controller.signal, log: pino({ level: 'silent' }), job: {} as Job } as const
    const started = Date.now()
    const settled = step(received(makeEvent({ payload: { object_id: 'o9' } }), old), ctx, 'o9', 0)
      .then((value) => ({ value, ms: Date.now() - started }), (err: Error) => ({ error: err.message, ms: Date.now() - started }))
    return { settled, done: settled.finally(() => clearTimeout(timer)) }
  }
  const within = async <T>(ms: number, p: Promise<T>): Promise<T | 'still pending'> => await Promise.race([p, sleep(ms).then(() => 'still pending' as const)])
  const starter = attempt(1200)
  await waitFor(() => calls === 1, 2000, 'the hung call')
  const waiter = attempt(300)
  const waiterOutcome = await within(1500, waiter.settled)
  t.match(waiterOutcome, { error: 'deadline 300' }, 'the waiter that joined the call gave up at its own deadline')
  t.ok(typeof waiterOutcome === 'object' && waiterOutcome.ms < 1000, 'not at the starter\'s')
  t.match(await within(2500, starter.settled), { error: 'deadline 1200' }, 'the starter gave up at its deadline, though hydrate never settled')
  finishLate({ call: 'late' })
  await sleep(50)
  const next = attempt(2000)
  t.match(await within(1500, next.settled), { value: { state: { call: 2 } } }, 'the next attempt calls hydrate again; the late answer was not cached')
  t.equal(calls, 2)
  await Promise.all([starter.done, waiter.done, next.done])
})

t.test('a rate-limit answer pauses hydration for the queue and postpones the attempt, and those waiting on the call', async (t) => {
  const api = controlledApi()
  const f = await hydrationFixture(t, { hydrate: api.hydrate })
  const starter = f.attempt(old('o10'))
  const waiter = f.attempt(old('o10'))
  await waitFor(() => api.calls.length === 1, 2000, 'the call')
  const limited = new RateLimitedError(1500)
  api.calls[0].reject(limited)
  const outcome = await starter.settled as { error: Postponed }
  t.type(outcome.error, Postponed)
  t.match(outcome.error, { reason: 'rate-limited', delayMs: 1500, cause: limited })
  t.equal((await waiter.settled as { error: unknown }).error, outcome.error, 'the waiter is postponed with it')
  const pause = await f.q.redis.pttl(f.pauseKey)
  t.ok(pause > 1000 && pause <= 1500, `paused in Redis for the queue (${pause} ms)`)
  t.same(f.pauses.map((p) => p.pauseMs), [1500])
  t.equal(f.reporter.stats.hydrationPauses, 1)

  const next = await f.attempt(old('o11')).settled as { error: Postponed }
  t.match(next.error, { name: 'Postponed', reason: 'rate-limited' }, 'another object is postponed too')
  t.ok(next.error.delayMs > 1000 && next.error.delayMs <= 1500, 'for what is left of the pause')
  t.equal(api.calls.length, 1, 'without a call')

  const plain = await hydrationFixture(t, { hydrate: async () => { throw Object.assign(new Error('Too Many Requests'), { status: 429, headers: { 'retry-after': '2' } }) } })
  t.match(await plain.attempt(old('o12')).settled, { error: { reason: 'rate-limited', delayMs: 2000 } }, 'an HTTP 429 with Retry-After is a rate limit too')
})

t.test('with rateLimit, each call takes a token first: over the budget the attempt is postponed without a call', async (t) => {
  let calls = 0
  const f = await hydrationFixture(t, { hydrate: async () => ++calls, rateLimit: { max: 1, duration: 10_000 } })
  t.match(await f.attempt(old('o13')).settled, { value: { state: 1 } })
  const over = await f.attempt(old('o14')).settled as { error: Postponed }
  t.match(over.error, { name: 'Postponed', reason: 'rate-limited' })
  t.ok(over.error.delayMs > 9000, `until the token comes back (${over.error.delayMs} ms)`)
  t.equal(calls, 1)
  t.equal(f.reporter.stats.hydrateCalls, 1, 'a call refused at the gate is not counted')
})
