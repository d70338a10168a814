import t from 'tap'
import { Writable } from 'node:stream'
import { Queue, UnrecoverableError } from 'bullmq'
import { pino } from 'pino'
import { PermanentError } from '../../core/hook-errors.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import type { WorkerContext } from '../../worker/options.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

t.test('hydrate fails once, then succeeds: one apply, with the hydrated state', async (t) => {
  const q = queueFixture(t)
  let hydrates = 0
  const applied: unknown[] = []
  const handle = await startWorker(t, q, {
    retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 100 },
    hydrate: async (event) => {
      hydrates++
      if (hydrates === 1) throw new Error('provider 500')
      return { id: (event.payload as { object_id: string }).object_id, status: 'paid' }
    },
    apply: async (state) => { applied.push(state) }
  })
  const event = makeEvent()
  await q.add(event)
  await waitFor(() => applied.length === 1, 10_000, 'apply')
  await sleep(300)
  t.equal(hydrates, 2)
  t.same(applied, [{ id: (event.payload as { object_id: string }).object_id, status: 'paid' }])
  t.match(handle.stats(), { applied: 1, retries: 1, deadLettered: 0 })
  const job = await q.queue.getJob(safeJobId(event.source, event.id))
  t.equal(await job?.getState(), 'completed')
})

t.test('apply fails once: one effect, and the done marker is written only after success', async (t) => {
  const q = queueFixture(t)
  let calls = 0
  let effects = 0
  await startWorker(t, q, {
    retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 100 },
    apply: async () => {
      calls++
      if (calls === 1) throw new Error('db down')
      effects++
    }
  })
  const event = makeEvent()
  const done = `${q.prefix}:${q.queueName}:wh:done:${safeJobId(event.source, event.id)}`
  await q.add(event)
  await waitFor(() => calls === 1, 5000, 'first apply')
  t.equal(await q.redis.exists(done), 0, 'no done marker after the failed attempt')
  await waitFor(() => effects === 1, 5000, 'second apply')
  await sleep(300)
  t.equal(calls, 2)
  t.equal(effects, 1)
  await waitFor(async () => await q.redis.exists(done) === 1, 2000, 'done marker')
  const ttl = await q.redis.pttl(done)
  t.ok(ttl > 13 * 24 * 3_600_000 && ttl <= 14 * 24 * 3_600_000, `done marker kept 14 days by default (${ttl} ms)`)
})

t.test('eight jobs with different job ids and one event id, concurrency 8: one apply, the rest skipped', async (t) => {
  const q = queueFixture(t)
  let applies = 0
  const handle = await startWorker(t, q, {
    concurrency: 8,
    hydrate: async (event) => {
      await sleep(200)
      return event.payload
    },
    apply: async () => { applies++ }
  })
  const event = makeEvent()
  // Raw BullMQ adds with distinct job ids bypass the add-time job-id dedupe.
  await Promise.all(Array.from({ length: 8 }, async (_, i) => await q.queue.add('webhook', event, eventJobOptions(`raw-${i}.x`))))
  await waitFor(async () => await q.queue.getCompletedCount() === 8, 15_000, 'eight completed jobs')
  t.equal(applies, 1)
  const stats = handle.stats()
  t.equal(stats.applied, 1)
  t.equal(stats.duplicates, 7, 'seven counted as duplicates')
  t.ok(stats.busy >= 1, 'duplicates that met the claim waited for it')
  t.equal(stats.retries, 0, 'waiting for the claim spends no attempt')
})

t.test('replayKey: two events with different ids and one replayKey apply once; the second counts as a replay', async (t) => {
  const q = queueFixture(t)
  let applies = 0
  const reports: AttemptReport[] = []
  const handle = await startWorker(t, q, { apply: async () => { applies++ } })
  handle.on('attempt', (r) => reports.push(r))
  const first = makeEvent({ replayKey: 'sig-digest-1' })
  const second = makeEvent({ replayKey: 'sig-digest-1' })
  await q.add(first)
  await waitFor(() => applies === 1, 5000, 'first apply')
  await q.add(second)
  await waitFor(() => reports.some((r) => r.eventId === second.id), 5000, 'second attempt')
  t.equal(applies, 1)
  t.equal(handle.stats().replays, 1)
  t.match(reports.find((r) => r.eventId === second.id), { claim: 'replay', outcome: 'replay' })
  const marker = await q.redis.get(`${q.prefix}:${q.queueName}:wh:replay:sig-digest-1`)
  t.equal(marker, safeJobId(first.source, first.id), 'the replay marker names the event that was applied')
})

t.test('a duplicate of a done event is skipped and counted', async (t) => {
  const q = queueFixture(t)
  let applies = 0
  const handle = await startWorker(t, q, { apply: async () => { applies++ } })
  const event = makeEvent()
  await q.add(event)
  await waitFor(() => applies === 1, 5000, 'apply')
  await q.add({ ...event, origin: 'poll' }, 'other-id.1')
  await waitFor(() => handle.stats().duplicates === 1, 5000, 'duplicate')
  t.equal(applies, 1)
})

t.test('PermanentError and UnrecoverableError (also by name) dead-letter after one attempt', async (t) => {
  const q = queueFixture(t)
  const thrown = [
    new PermanentError('order is invalid'),
    new UnrecoverableError('nope'),
    Object.assign(new Error('foreign copy'), { name: 'PermanentError' })
  ]
  let calls = 0
  const handle = await startWorker(t, q, {
    hydrate: async () => { throw thrown[calls++] },
    apply: async () => {}
  })
  const events = thrown.map(() => makeEvent())
  for (const e of events) await q.add(e)
  await waitFor(async () => await handle.deadLetters.count() === 3, 5000, 'three dead letters')
  t.equal(calls, 3, 'one attempt each')
  const letters = await handle.deadLetters.list()
  for (const letter of letters) {
    t.equal(letter.stage, 'hydrate')
    t.equal(letter.attemptsMade, 1)
    t.notOk('stack' in letter.error, 'no stack by default')
  }
  t.same(letters.map((l) => l.error.name).sort(), ['PermanentError', 'PermanentError', 'UnrecoverableError'])
  t.equal(await q.queue.getFailedCount(), 0, 'dead-lettered jobs leave the failed set')
  t.equal(handle.stats().deadLettered, 3)
})

t.test('job data the worker cannot decode is dead-lettered at once with stage decode', async (t) => {
  const q = queueFixture(t)
  let applies = 0
  const handle = await startWorker(t, q, { apply: async () => { applies++ } })
  await q.queue.add('webhook', { v: 2, id: 'x', source: 'acme' }, eventJobOptions('acme.future'))
  await q.queue.add('webhook', { v: 1, id: '', source: 'acme' }, eventJobOptions('acme.broken'))
  await waitFor(async () => await handle.deadLetters.count() === 2, 5000, 'two dead letters')
  const letters = await handle.deadLetters.list({ stage: 'decode' })
  t.equal(letters.length, 2)
  t.same(letters.map((l) => l.jobId).sort(), ['acme.broken', 'acme.future'])
  t.match(letters.find((l) => l.jobId === 'acme.future'), { event: { v: 2 }, error: { code: 'WEBHOOK_WORKER_BAD_JOB', message: /schema version 2/ } })
  t.equal(applies, 0)
  t.equal(await q.queue.getFailedCount(), 0)
})

t.test('hydrate returning null means the object is gone: apply still runs, with null', async (t) => {
  const q = queueFixture(t)
  const states: unknown[] = []
  await startWorker(t, q, { hydrate: async () => null, apply: async (state) => { states.push(state) } })
  await q.add(makeEvent())
  await waitFor(() => states.length === 1, 5000, 'apply')
  t.same(states, [null])
})

t.test('without hydrate, apply gets the payload; ctx carries the idempotency key, attempt, origin, signal, log and job', async (t) => {
  const q = queueFixture(t)
  let seen: { state: unknown, ctx: WorkerContext } | undefined
  await startWorker(t, q, { apply: async (state, _event, ctx) => { seen = { state, ctx } } })
  const event = makeEvent({ origin: 'poll' })
  await q.add(event)
  const { state, ctx } = await waitFor(() => seen, 5000, 'apply')
  t.same(state, event.payload)
  t.equal(ctx.idempotencyKey, safeJobId(event.source, event.id))
  t.equal(ctx.job.id, ctx.idempotencyKey, 'the producer job id is the idempotency key')
  t.equal(ctx.attempt, 1)
  t.equal(ctx.origin, 'poll')
  t.type(ctx.signal, AbortSignal)
  t.equal(ctx.signal.aborted, false)
  t.type(ctx.log.info, 'function')
})

t.test('hydrate and apply timeouts abort ctx.signal and count as transient failures', async (t) => {
  const q = queueFixture(t)
  const signals: AbortSignal[] = []
  let hydrates = 0
  let applies = 0
  let effects = 0
  const handle = await startWorker(t, q, {
    hydrateTimeoutMs: 100,
    applyTimeoutMs: 100,
    retry: { attempts: 5, baseDelayMs: 50, maxDelayMs: 100 },
    hydrate: async (event, ctx) => {
      hydrates++
      signals.push(ctx.signal)
      if (hydrates === 1) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
      return event.payload
    },
    apply: async (_state, _event, ctx) => {
      applies++
      signals.push(ctx.signal)
      if (applies === 1) await sleep(400)
      else effects++
    }
  })
  await q.add(makeEvent())
  await waitFor(() => effects === 1, 10_000, 'an apply within the timeout')
  t.equal(hydrates, 3, 'hydrate timed out once')
  t.equal(applies, 2, 'apply timed out once')
  t.equal(signals[0].aborted, true)
  t.match(signals[0].reason, { code: 'WEBHOOK_WORKER_TIMEOUT', message: /hydrate exceeded its timeout of 100 ms/ })
  t.match(signals[2].reason, { code: 'WEBHOOK_WORKER_TIMEOUT', message: /apply/ })
  t.equal(handle.stats().retries, 2)
})

t.test('logs: one debug line per attempt with ids, claim and durations; failures at warn; dead letters at error; never the payload', async (t) => {
  const q = queueFixture(t)
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      cb()
    }
  })
  await startWorker(t, q, {
    logger: pino({ level: 'debug' }, stream),
    retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 20 },
    apply: async () => { throw new Error('failing') }
  })
  const event = makeEvent({ payload: { secret_field: 'do-not-log' } })
  await q.add(event)
  const attemptLines = (): Array<Record<string, unknown>> => lines.filter((l) => l.msg === 'webhook attempt' || l.msg === 'webhook attempt failed')
  // The dead-letter line is written before the attempt's own line: wait for both.
  await waitFor(() => lines.some((l) => l.msg === 'webhook dead-lettered') && attemptLines().some((l) => l.outcome === 'dead-lettered'), 5000, 'dead letter and attempt lines')
  const attempts = attemptLines()
  t.equal(attempts.length, 2, 'one line per attempt')
  t.match(attempts[0], { level: 40, eventId: event.id, attempt: 1, claim: 'claimed', outcome: 'retry', stage: 'apply' })
  t.ok(Number(attempts[0].retryInMs) >= 10 && Number(attempts[0].retryInMs) <= 20, 'the chosen delay is logged')
  t.type(attempts[0].hydrateMs, 'number')
  t.type(attempts[0].applyMs, 'number')
  t.match(attempts[1], { level: 20, attempt: 2, outcome: 'dead-lettered' })
  t.match(lines.find((l) => l.msg === 'webhook dead-lettered'), { level: 50, stage: 'apply', eventId: event.id })
  t.notMatch(JSON.stringify(lines), /do-not-log/)
})

t.test('the default logger is silent, and a worker without a queue name uses integration-events', async (t) => {
  const { createWebhookWorker } = await import('../../worker/worker.js')
  const handle = createWebhookWorker({ connection: queueFixture(t).url, apply: async () => {} })
  t.equal(handle.worker.name, 'integration-events')
  await handle.close({ timeoutMs: 2000 })
})

t.test('close waits for in-flight attempts, then forces after its timeout; a passed connection stays open', async (t) => {
  const q = queueFixture(t)
  const { createWebhookWorker } = await import('../../worker/worker.js')
  let started = 0
  let aborted: unknown
  const handle = createWebhookWorker({
    connection: q.redis, // maxRetriesPerRequest: null, so used as it is
    queueName: q.queueName,
    lockDuration: 1000,
    stalledInterval: 500,
    apply: async (_s, _e, ctx) => {
      started++
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
      aborted = ctx.signal.reason
    }
  })
  await handle.waitUntilReady()
  await q.add(makeEvent())
  await waitFor(() => started === 1, 5000, 'apply started')
  const before = Date.now()
  await handle.close({ timeoutMs: 300 })
  t.ok(Date.now() - before < 3000, 'close returned')
  t.match(aborted, { code: 'WEBHOOK_WORKER_CLOSED' })
  t.equal(q.redis.status, 'ready', 'the borrowed connection is still open')
  t.equal(await q.redis.ping(), 'PONG')
  await handle.close()
})

t.test('a closed queue handle is reusable by others: the dead-letter API of a worker closes with it', async (t) => {
  const q = queueFixture(t)
  const handle = await startWorker(t, q, { apply: async () => {} })
  await handle.deadLetters.close()
  t.equal(await handle.deadLetters.count(), 0, 'its own close is a no-op')
  const other = new Queue(q.queueName, { connection: q.redis })
  t.teardown(async () => { await other.close() })
  t.equal(await other.getFailedCount(), 0)
})

t.test('a claim lost during hydrate: apply does not start, and the job waits for the new holder without spending an attempt', async (t) => {
  const q = queueFixture(t)
  const signals: AbortSignal[] = []
  let applies = 0
  const handle = await startWorker(t, q, {
    hydrate: async (event, ctx) => {
      signals.push(ctx.signal)
      if (signals.length === 1) {
        // Another holder takes the claim over (as after a stall) while hydrate runs.
        await q.redis.set(`${q.prefix}:${q.queueName}:wh:claim:${ctx.idempotencyKey}`, 'other-holder', 'PX', 600)
        await sleep(700) // past a renewal, which finds the claim lost
      }
      return event.payload
    },
    apply: async () => { applies++ }
  })
  await q.add(makeEvent())
  await waitFor(() => applies === 1, 10_000, 'applied once the other claim lapsed')
  // The attempt is counted once its commit returns, a moment after apply.
  await waitFor(() => handle.stats().applied === 1, 5_000, 'the applied attempt is counted')
  t.match(signals[0].reason, { code: 'WEBHOOK_WORKER_CLAIM_LOST' })
  t.match(handle.stats(), { claimLost: 1, retries: 0, applied: 1 })
  t.equal(applies, 1, 'apply ran once')
})

t.test('a commit refused because the claim changed hands is logged, and the event is not marked done by the loser', async (t) => {
  const q = queueFixture(t)
  let applies = 0
  const handle = await startWorker(t, q, {
    apply: async (_s, _e, ctx) => {
      applies++
      if (applies === 1) await q.redis.set(`${q.prefix}:${q.queueName}:wh:claim:${ctx.idempotencyKey}`, 'other-holder', 'PX', 300)
    }
  })
  await q.add(makeEvent())
  await waitFor(() => applies === 2, 10_000, 'applied again after the refused commit')
  await waitFor(async () => await q.queue.getCompletedCount() === 1, 5000, 'completed')
  t.match(handle.stats(), { commitRefused: 1, claimLost: 1, applied: 1, retries: 0 })
})

t.test('dedupe.ttlMs as a function of the event; a useless answer falls back to the default with a warning', async (t) => {
  const q = queueFixture(t)
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      cb()
    }
  })
  let applies = 0
  await startWorker(t, q, {
    logger: pino({ level: 'warn' }, stream),
    dedupe: { ttlMs: (event) => event.type === 'short' ? 60_000 : -1 },
    apply: async () => { applies++ }
  })
  const short = makeEvent({ type: 'short' })
  const odd = makeEvent({ type: 'odd' })
  await q.add(short)
  await q.add(odd)
  await waitFor(() => applies === 2, 5000, 'both applied')
  const ttl = async (e: typeof short): Promise<number> => await q.redis.pttl(`${q.prefix}:${q.queueName}:wh:done:${safeJobId(e.source, e.id)}`)
  await waitFor(async () => await ttl(odd) > 0, 2000, 'done markers')
  t.ok(await ttl(short) <= 60_000 && await ttl(short) > 50_000, 'the function decides')
  t.ok(await ttl(odd) > 13 * 24 * 3_600_000, 'a negative TTL falls back to 14 days')
  t.match(lines, [{ level: 40, msg: /dedupe.ttlMs returned no usable TTL/, value: '-1' }])
})

t.test('a non-Error thrown by apply is retried and dead-lettered as an Error', async (t) => {
  const q = queueFixture(t)
  const handle = await startWorker(t, q, {
    retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
    // eslint-disable-next-line no-throw-literal
    apply: async () => { throw 'a string' }
  })
  await q.add(makeEvent())
  const [letter] = await waitFor(async () => {
    const letters = await handle.deadLetters.list()
    return letters.length === 1 ? letters : undefined
  }, 5000, 'dead letter')
  t.match(letter, { attemptsMade: 2, error: { name: 'Error', message: 'a string' } })
})
