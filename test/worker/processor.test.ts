import { EventEmitter } from 'node:events'
import t, { type Test } from 'tap'
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { createProcessor, type HydrateStep, type InFlightAttempt } from '../../worker/processor.js'
import { ClaimStore } from '../../worker/claim.js'
import { CLAIM_SCRIPTS } from '../../worker/claim-scripts.js'
import { HydrationGate, hydrationKeys, HYDRATION_SCRIPTS } from '../../worker/hydration-gate.js'
import { createHydration } from '../../worker/hydration.js'
import { Reporter, type AttemptReport, type StaleInfo, type WebhookWorkerEvents } from '../../worker/reporter.js'
import { createBackoffStrategy } from '../../worker/retry.js'
import { validateWorkerOptions, type ResolvedWorkerOptions } from '../../worker/resolve-options.js'
import type { WebhookWorkerOptions, WorkerContext } from '../../worker/options.js'
import { DeadLetterStore } from '../../dead-letters/dead-letter-store.js'
import { DeadLetterSink } from '../../dead-letters/sink.js'
import type { DeadLetter } from '../../dead-letters/dead-letter-record.js'
import type { WebhookEvent } from '../../core/event.js'
import { eventJobOptions } from '../../core/job-options.js'
import { safeJobId } from '../../core/job-id.js'
import { eventKeys, objectKeys, queueKeyBase } from '../../core/keys.js'
import { loadScripts } from '../../core/scripts.js'
import { PermanentError, RateLimitedError } from '../../core/hook-errors.js'
import { WebhookErrors } from '../../core/errors.js'
import { makeEvent, queueFixture, SHORT_LOCKS, sleep, waitFor, type QueueFixture } from '../helpers/worker.js'

// The processor built from its parts, as the worker builds it, on a real Redis
// (claim scripts, dead letters) and driven by BullMQ's own Worker, so moves to
// delayed and wait, retries and failures are BullMQ's. Only hydrate and apply
// are the test's.

t.setTimeout(25_000)

const silent = pino({ level: 'silent' })

interface Run { jobId: string, error?: Error }

interface ProcessorFixture {
  q: QueueFixture
  options: ResolvedWorkerOptions<any, any>
  reporter: Reporter
  claims: ClaimStore
  reports: AttemptReport[]
  stale: StaleInfo[]
  letters: DeadLetter[]
  /** Every processor call, and what it threw. */
  runs: Run[]
  /** The event job's first processor call, once it has returned or thrown (it may end after its attempt's report). */
  firstRun: (event: WebhookEvent) => Promise<Run>
  inFlight: Set<InFlightAttempt>
  deadLettered: WeakSet<Job>
  /** The event's claim keys. */
  keys: (event: WebhookEvent) => ReturnType<typeof eventKeys>
  /** Resolves with the first report of `eventId` (or job id) with that outcome. */
  report: (id: string, outcome: AttemptReport['outcome'], timeoutMs?: number) => Promise<AttemptReport>
  outcomes: (id: string) => string[]
}

type Options = Partial<WebhookWorkerOptions<any>> & Pick<WebhookWorkerOptions<any>, 'apply'>

async function processorFixture (t: Test, given: Options, wrapHydrate?: (step: HydrateStep<any, any>) => HydrateStep<any, any>): Promise<ProcessorFixture> {
  const q = queueFixture(t)
  const options = validateWorkerOptions<any, any>({
    connection: q.url, queueName: q.queueName, prefix: q.prefix, logger: silent, persistenceCheck: 'off', ...SHORT_LOCKS, ...given
  })
  const emitter = new EventEmitter<WebhookWorkerEvents>()
  const reports: AttemptReport[] = []
  const stale: StaleInfo[] = []
  const letters: DeadLetter[] = []
  emitter.on('attempt', (r) => reports.push(r))
  emitter.on('stale', (s) => stale.push(s))
  emitter.on('deadLetter', (l) => letters.push(l))
  const reporter = new Reporter(silent, emitter)
  await loadScripts(q.redis, [...CLAIM_SCRIPTS, ...HYDRATION_SCRIPTS])
  const base = queueKeyBase(q.prefix, q.queueName)
  const gate = new HydrationGate(q.redis, hydrationKeys(base), options.rateLimit, reporter, options.hydrateTimeoutMs)
  const claims = new ClaimStore(q.redis, { prefix: q.prefix, queueName: q.queueName, leaseMs: options.lockDuration, onHydrationPause: (ms) => gate.notePause(ms) })
  claims.start()
  const store = new DeadLetterStore(q.redis, { queueName: q.queueName, prefix: q.prefix })
  const sink = new DeadLetterSink({ store, client: q.redis, reporter, includeStack: false, alertThreshold: 1000, queueName: q.queueName })
  const inFlight = new Set<InFlightAttempt>()
  const deadLettered = new WeakSet<Job>()
  const hydration = createHydration(options, gate, reporter)
  const processor = createProcessor({ options, hydrate: wrapHydrate?.(hydration) ?? hydration, claims, sink, reporter, inFlight, deadLettered })

  const runs: Run[] = []
  const connection = new Redis(q.url, { maxRetriesPerRequest: null })
  const worker = new Worker(q.queueName, async (job, token, signal) => {
    try {
      await processor(job, token, signal)
      runs.push({ jobId: String(job.id) })
    } catch (err) {
      runs.push({ jobId: String(job.id), error: err as Error })
      throw err
    }
  }, {
    connection,
    prefix: q.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDuration,
    stalledInterval: options.stalledInterval,
    settings: { backoffStrategy: createBackoffStrategy(options.retry) }
  })
  worker.on('error', () => {})
  t.teardown(async () => {
    await worker.close()
    claims.stop()
    await store.close()
    connection.disconnect()
  })
  await worker.waitUntilReady()

  const idOf = (r: AttemptReport): string => r.eventId ?? r.jobId
  return {
    q,
    options,
    reporter,
    claims,
    reports,
    stale,
    letters,
    runs,
    firstRun: async (event) => {
      const jobId = safeJobId(event.source, event.id)
      return await waitFor(() => runs.find((r) => r.jobId === jobId), 5000, `a run of ${jobId}`)
    },
    inFlight,
    deadLettered,
    keys: (event) => eventKeys(base, safeJobId(event.source, event.id), event.replayKey, undefined),
    report: async (id, outcome, timeoutMs = 5000) =>
      await waitFor(() => reports.find((r) => idOf(r) === id && r.outcome === outcome), timeoutMs, `${outcome} for ${id}`),
    outcomes: (id) => reports.filter((r) => idOf(r) === id).map((r) => r.outcome)
  }
}

const objectKey = (event: WebhookEvent): string => (event.payload as { object_id: string }).object_id

async function jobState (f: ProcessorFixture, event: WebhookEvent): Promise<string> {
  return await f.q.queue.getJobState(safeJobId(event.source, event.id))
}

t.test('applied: claim, then hydrate, then apply, then commit; each step gets what the one before it found', async (t) => {
  const seen: string[] = []
  const stepArgs: Array<{ objectKey: string | undefined, claimedAt: number }> = []
  const contexts: WorkerContext[] = []
  // The callbacks run only once a job is added, after `f` is set.
  const f: ProcessorFixture = await processorFixture(t, {
    objectKey,
    dedupe: { ttlMs: 60_000 },
    hydrate: async (event, ctx) => {
      const keys = f.keys(event)
      seen.push(`hydrate: claim ${String(await f.q.redis.get(keys.claim) === String(ctx.fence))}, done ${await f.q.redis.exists(keys.done)}`)
      return { state: 'fetched', of: event.id }
    },
    apply: async (state, event, ctx) => {
      contexts.push(ctx)
      seen.push(`apply ${JSON.stringify(state)}: done ${await f.q.redis.exists(f.keys(event).done)}`)
    }
  }, (step) => async (event, ctx, key, claimedAt) => {
    stepArgs.push({ objectKey: key, claimedAt })
    return await step(event, ctx, key, claimedAt)
  })
  const event = makeEvent({ payload: { object_id: 'ord_1' } })
  const before = Date.now()
  await f.q.add(event)
  const report = await f.report(event.id, 'applied')

  t.same(seen, [
    'hydrate: claim true, done 0',
    `apply {"state":"fetched","of":"${event.id}"}: done 0`
  ], 'hydrate ran under the claim, apply got its state, both before the commit')
  t.equal(stepArgs[0].objectKey, 'ord_1', 'the hydrate step gets the event\'s object key')
  t.ok(Math.abs(stepArgs[0].claimedAt / 1000 - before) < 5000, 'and the claim time, in µs on Redis\'s clock')
  const ctx = contexts[0]
  t.equal(ctx.idempotencyKey, safeJobId('acme', event.id))
  t.equal(ctx.attempt, 1)
  t.equal(ctx.origin, 'webhook')
  t.ok(Number.isInteger(ctx.fence) && ctx.fence > 0, 'the claim\'s token is the fence')
  t.equal(ctx.job.id, safeJobId('acme', event.id))
  t.match(report, { jobId: safeJobId('acme', event.id), eventId: event.id, source: 'acme', type: 'order.updated', origin: 'webhook', attempt: 1, claim: 'claimed', outcome: 'applied' })
  t.type(report.hydrateMs, 'number')
  t.type(report.applyMs, 'number')
  t.notOk('stage' in report, 'no stage for a success')

  const keys = f.keys(event)
  const ttl = await f.q.redis.pttl(keys.done)
  t.ok(ttl > 55_000 && ttl <= 60_000, `the done marker carries the dedupe TTL (${ttl})`)
  t.equal(await f.q.redis.exists(keys.claim), 0, 'the claim is gone')
  await waitFor(async () => await jobState(f, event) === 'completed', 2000, 'completed')
  t.same(f.runs, [{ jobId: safeJobId('acme', event.id) }], 'one run, nothing thrown')
  t.equal(f.inFlight.size, 0)
  t.equal(f.reporter.stats.applied, 1)
})

t.test('done and replayed events complete without hydrate or apply; a TTL function\'s nonsense falls back to the default', async (t) => {
  let hydrated = 0
  let applied = 0
  const f = await processorFixture(t, {
    dedupe: { ttlMs: (event: WebhookEvent) => event.type === 'short' ? 5000 : ('soon' as unknown as number) },
    hydrate: async (event) => { hydrated++; return event.payload },
    apply: async () => { applied++ }
  })
  const first = makeEvent({ type: 'short', replayKey: 'digest-1' })
  await f.q.add(first)
  await f.report(first.id, 'applied')
  const ttl = await f.q.redis.pttl(f.keys(first).done)
  t.ok(ttl > 3000 && ttl <= 5000, 'the TTL function\'s value')

  await f.q.add(first, 'redelivered.1')
  const dup = await f.report(first.id, 'duplicate')
  t.match(dup, { claim: 'done', jobId: 'redelivered.1' })
  const replayed = makeEvent({ type: 'short', replayKey: 'digest-1' })
  await f.q.add(replayed)
  t.match(await f.report(replayed.id, 'replay'), { claim: 'replay' }, 'another id with the same replayKey')
  t.equal(hydrated, 1)
  t.equal(applied, 1)
  t.equal(await jobState(f, replayed), 'completed')

  const odd = makeEvent({ type: 'long' })
  await f.q.add(odd)
  await f.report(odd.id, 'applied')
  const long = await f.q.redis.pttl(f.keys(odd).done)
  t.ok(long > 13 * 24 * 3600_000, 'a TTL that is not a number gives the default (14 days)')
  t.same(f.runs.filter((r) => r.error !== undefined), [])
})

t.test('busy: a claim held elsewhere delays the job without spending an attempt; it runs once the claim lapses', async (t) => {
  const applied: number[] = []
  const f = await processorFixture(t, { apply: async (_s, _e, ctx) => { applied.push(ctx.attempt) } })
  const event = makeEvent()
  const other = new ClaimStore(f.q.redis, { prefix: f.q.prefix, queueName: f.q.queueName, leaseMs: 1000 })
  const keys = other.keysFor(safeJobId(event.source, event.id))
  t.equal((await other.claim(keys, safeJobId(event.source, event.id), 'elsewhere', () => {})).decision, 'claimed')
  await f.q.add(event)
  const busy = await f.report(event.id, 'busy')
  t.match(busy, { claim: 'busy', attempt: 1 })
  t.notOk('stage' in busy)
  await waitFor(async () => await jobState(f, event) === 'delayed', 2000, 'delayed')
  const job = await f.q.queue.getJob(safeJobId(event.source, event.id))
  t.equal(job?.attemptsMade, 0, 'no attempt spent')
  t.type((await f.firstRun(event)).error, DelayedError, 'BullMQ is told the job was delayed')
  t.same(applied, [], 'not applied while the other holder has it')

  await f.report(event.id, 'applied')
  t.same(applied, [1], 'applied once the lease lapsed, still on attempt 1')
  t.equal(f.reporter.stats.retries, 0)
})

t.test('ordering: older and equal versions are skipped, newer ones and null states applied and committed with the marker', async (t) => {
  const applied: Array<{ state: unknown, last: unknown }> = []
  const f = await processorFixture(t, {
    objectKey,
    version: (state: { v: number }) => state.v,
    hydrate: async (event) => (event.payload as { state: unknown }).state,
    apply: async (state, _e, ctx) => { applied.push({ state, last: ctx.lastAppliedVersion }) }
  })
  const base = queueKeyBase(f.q.prefix, f.q.queueName)
  const versionKey = objectKeys(base, 'o1').version
  await f.q.redis.set(versionKey, 'n:5')
  const run = async (state: unknown, outcome: AttemptReport['outcome']): Promise<WebhookEvent> => {
    const event = makeEvent({ payload: { object_id: 'o1', state } })
    await f.q.add(event)
    await f.report(event.id, outcome)
    return event
  }

  const older = await run({ v: 3 }, 'stale')
  t.same(applied, [], 'an older state is not applied')
  t.match(f.stale, [{ eventId: older.id, objectKey: 'o1', decision: 'stale', version: 3, lastAppliedVersion: 5 }])
  t.equal(await f.q.redis.get(versionKey), 'n:5', 'the version is kept')
  t.equal(await f.q.redis.exists(f.keys(older).done), 1, 'the event is done all the same')

  await run({ v: 7 }, 'applied')
  t.same(applied, [{ state: { v: 7 }, last: 5 }], 'a newer one is applied, and told the last version')
  t.equal(await f.q.redis.get(versionKey), 'n:7', 'its version committed')

  await run(null, 'applied')
  t.same(applied[1], { state: null, last: 7 }, 'a null state is applied')
  t.match(await f.q.redis.get(versionKey), /^d:\d+:n:7$/, 'and commits a tombstone carrying the last version')

  await run({ v: 2 }, 'applied')
  t.same(applied[2], { state: { v: 2 }, last: 7 }, 'a state fetched after the deletion is applied, whatever its version')
  t.equal(await f.q.redis.get(versionKey), 'n:2')
  t.equal(f.reporter.stats.stale, 1)
})

t.test('ordering: skipEqualVersion skips an equal version as unchanged; a busy object postpones without spending an attempt', async (t) => {
  const applied: Array<{ id: string, attempt: number }> = []
  const f = await processorFixture(t, {
    objectKey,
    version: (state: { v: number }) => state.v,
    skipEqualVersion: true,
    hydrate: async (event) => (event.payload as { state: unknown }).state,
    apply: async (_s, event, ctx) => { applied.push({ id: event.id, attempt: ctx.attempt }) }
  })
  const keys = objectKeys(queueKeyBase(f.q.prefix, f.q.queueName), 'o2')
  await f.q.redis.set(keys.version, 'n:5')
  const same = makeEvent({ payload: { object_id: 'o2', state: { v: 5 } } })
  await f.q.add(same)
  await f.report(same.id, 'unchanged')
  t.match(f.stale, [{ decision: 'unchanged', version: 5, lastAppliedVersion: 5 }])

  await f.q.redis.set(keys.lease, 'another job', 'PX', 800)
  const blocked = makeEvent({ payload: { object_id: 'o2', state: { v: 6 } } })
  await f.q.add(blocked)
  const busy = await f.report(blocked.id, 'object-busy')
  t.match(busy, { stage: 'internal', claim: 'claimed', attempt: 1 })
  t.ok((busy.retryInMs ?? 0) >= 250, `looks again later (${busy.retryInMs} ms)`)
  t.equal(await f.q.redis.exists(f.keys(blocked).claim), 0, 'its claim was released')
  t.type((await f.firstRun(blocked)).error, DelayedError)
  await f.report(blocked.id, 'applied')
  t.same(applied, [{ id: blocked.id, attempt: 1 }], 'applied once the lease lapsed, on attempt 1')
  t.equal(await f.q.redis.get(keys.version), 'n:6')
  t.equal(await f.q.redis.exists(keys.lease), 0, 'the object\'s lease is released by the commit')
})

t.test('a failed attempt is retried: its stage and delay reported, the claim released, the next attempt fenced higher', async (t) => {
  const fences: number[] = []
  const failure = new Error('database down')
  const f = await processorFixture(t, {
    retry: { attempts: 3, baseDelayMs: 400, maxDelayMs: 400 },
    apply: async (_s, _e, ctx) => {
      fences.push(ctx.fence)
      if (ctx.attempt === 1) throw failure
    }
  })
  const event = makeEvent()
  await f.q.add(event)
  const retry = await f.report(event.id, 'retry')
  t.equal(await f.q.redis.exists(f.keys(event).claim), 0, 'the claim is released for the retry')
  t.match(retry, { stage: 'apply', attempt: 1, claim: 'claimed', error: { name: 'Error', message: 'database down' } })
  t.ok(retry.retryInMs !== undefined && retry.retryInMs >= 200 && retry.retryInMs <= 400, `a delay from the schedule (${retry.retryInMs})`)
  t.equal((await f.firstRun(event)).error, failure, 'the error itself goes back to BullMQ')
  const applied = await f.report(event.id, 'applied')
  t.equal(applied.attempt, 2)
  t.ok(fences[1] > fences[0], 'a higher fence for the next attempt')
  t.same(f.letters, [])
})

t.test('dead-lettered at the stage that failed: permanent errors at once, transient ones when the budget is spent', async (t) => {
  const applies: string[] = []
  const f = await processorFixture(t, {
    objectKey: (event: WebhookEvent) => (event.payload as { object_id?: string }).object_id,
    version: () => 1,
    hydrateTimeoutMs: 200,
    retry: { attempts: 2, baseDelayMs: 50, maxDelayMs: 50 },
    concurrency: 5,
    hydrate: async (event) => {
      const kind = (event.payload as { kind: string }).kind
      if (kind === 'gone') throw new PermanentError('gone for good')
      if (kind === 'hangs') await new Promise(() => {})
      return { kind }
    },
    apply: async (_s, event) => {
      applies.push(event.id)
      if ((event.payload as { kind: string }).kind === 'bad-apply') throw new Error('constraint violated')
    }
  })
  const gone = makeEvent({ payload: { kind: 'gone' } })
  const badApply = makeEvent({ payload: { kind: 'bad-apply' } })
  const hangs = makeEvent({ payload: { kind: 'hangs' } })
  const broken = makeEvent({ payload: { kind: 'fine', object_id: 'broken' } })
  // The object's lease key holds the wrong type: taking the lease fails, after the claim.
  await f.q.redis.hset(objectKeys(queueKeyBase(f.q.prefix, f.q.queueName), 'broken').lease, 'x', '1')
  for (const e of [gone, badApply, hangs, broken]) await f.q.add(e)
  await f.q.queue.add('webhook', { v: 99, id: 'future' }, eventJobOptions('acme.undecodable'))

  const expected: Array<[string, string, number, string[]]> = [
    [gone.id, 'hydrate', 1, ['dead-lettered']],
    [badApply.id, 'apply', 2, ['retry', 'dead-lettered']],
    [hangs.id, 'hydrate', 2, ['retry', 'dead-lettered']],
    [broken.id, 'internal', 2, ['retry', 'dead-lettered']],
    ['acme.undecodable', 'decode', 1, ['dead-lettered']]
  ]
  for (const [id, stage, attempt, outcomes] of expected) {
    const report = await f.report(id, 'dead-lettered')
    t.match(report, { stage, attempt }, `${id}: dead-lettered at ${stage}, attempt ${attempt}`)
    t.same(f.outcomes(id), outcomes, `${id}: ${outcomes.join(' then ')}`)
  }
  t.match(f.reports.find((r) => r.eventId === gone.id), { claim: 'claimed', error: { name: 'PermanentError', message: 'gone for good' } })
  t.match(f.reports.find((r) => r.eventId === hangs.id && r.outcome === 'dead-lettered'), { error: { code: 'WEBHOOK_WORKER_TIMEOUT' } })
  t.match(f.reports.find((r) => r.eventId === broken.id && r.outcome === 'dead-lettered'), { claim: 'claimed', error: { message: /WRONGTYPE/ } })
  t.match(f.reports.find((r) => r.jobId === 'acme.undecodable'), { claim: 'none', error: { code: 'WEBHOOK_WORKER_BAD_JOB' } })
  t.same(applies, [badApply.id, badApply.id], 'apply ran only for the event that reached it')

  await waitFor(() => f.letters.length === 5, 5000, 'five dead letters')
  const letter = (id: string): DeadLetter | undefined => f.letters.find((l) => l.jobId === id)
  t.match(letter(safeJobId('acme', gone.id)), { stage: 'hydrate', attemptsMade: 1, error: { name: 'PermanentError' }, event: { id: gone.id } })
  t.match(letter(safeJobId('acme', badApply.id)), { stage: 'apply', attemptsMade: 2, error: { message: 'constraint violated' } })
  t.match(letter('acme.undecodable'), { stage: 'decode', event: { v: 99, id: 'future' } }, 'the raw data is kept')

  const thrown = (await f.firstRun(gone)).error
  t.type(thrown, UnrecoverableError, 'BullMQ is told to fail the job for good')
  t.equal(thrown?.message, '[hydrate] gone for good', 'with the stage in its reason')
  t.type(thrown?.cause, PermanentError)
  await waitFor(async () => await f.q.queue.getJob(safeJobId('acme', gone.id)) === undefined, 3000, 'the failed job removed')
  await waitFor(async () => await f.q.queue.getFailedCount() === 0, 3000, 'no job left in the failed set: the dead letters are the only copies')
})

t.test('a RateLimitedError from hydrate gives the job back without spending an attempt, even the last one', async (t) => {
  const calls: number[] = []
  const applied: number[] = []
  const f = await processorFixture(t, {
    retry: { attempts: 1 },
    hydrate: async (event, ctx) => {
      calls.push(ctx.attempt)
      if (calls.length === 1) throw new RateLimitedError(600)
      return event.payload
    },
    apply: async (_s, _e, ctx) => { applied.push(ctx.attempt) }
  })
  const event = makeEvent()
  await f.q.add(event)
  const limited = await f.report(event.id, 'rate-limited')
  t.match(limited, { stage: 'hydrate', attempt: 1, error: { name: 'Postponed' } })
  t.ok(limited.retryInMs !== undefined && limited.retryInMs >= 600 && limited.retryInMs <= 660, `delayed for the pause (${limited.retryInMs})`)
  const pause = await f.q.redis.pttl(hydrationKeys(queueKeyBase(f.q.prefix, f.q.queueName)).pause)
  t.ok(pause > 0 && pause <= 600, 'the pause is in Redis for the other workers')
  t.type((await f.firstRun(event)).error, DelayedError)
  await f.report(event.id, 'applied')
  t.same(applied, [1], 'applied on attempt 1: the only attempt was never spent')
  t.notOk(f.outcomes(event.id).includes('dead-lettered'))
  t.equal(f.reporter.stats.retries, 0)
})

t.test('a claim taken over before the commit: the commit is refused, and the job looks again without spending an attempt', async (t) => {
  const applied: Array<{ attempt: number, fence: number }> = []
  const f: ProcessorFixture = await processorFixture(t, {
    apply: async (_s, event, ctx) => {
      applied.push({ attempt: ctx.attempt, fence: ctx.fence })
      // Another worker took the event over (a stall) while this apply ran.
      if (applied.length === 1) await f.q.redis.set(f.keys(event).claim, 'someone else', 'PX', 300)
    }
  })
  const event = makeEvent()
  await f.q.add(event)
  const lost = await f.report(event.id, 'claim-lost')
  t.match(lost, { stage: 'internal', attempt: 1, error: { code: 'WEBHOOK_WORKER_CLAIM_LOST' } })
  t.equal(f.reporter.stats.commitRefused, 1, 'the refused commit is counted')
  t.equal(await f.q.redis.exists(f.keys(event).done), 0, 'no done marker over the new holder')
  t.type((await f.firstRun(event)).error, DelayedError)
  await f.report(event.id, 'applied', 5000)
  t.equal(applied.length, 2)
  t.equal(applied[1].attempt, 1, 'no attempt spent')
  t.ok(applied[1].fence > applied[0].fence)
})

t.test('a forced close aborts the attempt: the job goes back to wait, its claim released, no attempt spent', async (t) => {
  const applied: number[] = []
  let calls = 0
  const f = await processorFixture(t, {
    apply: async (_s, _e, ctx) => {
      if (++calls === 1) {
        await new Promise((resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
      }
      applied.push(ctx.attempt)
    }
  })
  const event = makeEvent()
  await f.q.add(event)
  await waitFor(() => calls === 1 && f.inFlight.size === 1, 3000, 'apply running')
  for (const attempt of f.inFlight) attempt.abort(new WebhookErrors.WEBHOOK_WORKER_CLOSED())
  const closed = await f.report(event.id, 'closed')
  t.match(closed, { stage: 'apply', attempt: 1, error: { code: 'WEBHOOK_WORKER_CLOSED' } })
  t.type((await f.firstRun(event)).error, WaitingError, 'BullMQ is told the job is back in wait')
  await f.report(event.id, 'applied')
  t.same(applied, [1], 'run again at once, on attempt 1')
  t.equal(f.inFlight.size, 0, 'no attempt left in flight')
})

t.test('an apply past its timeout on the last attempt: committed if it resolves within applyGraceMs, dead-lettered if not', async (t) => {
  const f = await processorFixture(t, {
    retry: { attempts: 1 },
    applyTimeoutMs: 150,
    applyGraceMs: 600,
    apply: async (_s, event) => { await sleep((event.payload as { ms: number }).ms) }
  })
  const late = makeEvent({ payload: { ms: 400 } })
  const never = makeEvent({ payload: { ms: 2000 } })
  await f.q.add(late)
  await f.q.add(never)
  t.match(await f.report(late.id, 'applied'), { attempt: 1 }, 'its effect is there: committed as applied')
  t.equal(await f.q.redis.exists(f.keys(late).done), 1)
  t.match(await f.report(never.id, 'dead-lettered'), { stage: 'apply', error: { code: 'WEBHOOK_WORKER_TIMEOUT' } })
  t.equal(await f.q.redis.exists(f.keys(never).done), 0)
  t.equal(f.letters.length, 1)
})
