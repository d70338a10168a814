import t from 'tap'
import { safeJobId, type PollContext, type PollPage, type PollRunResult, type WebhookEvent } from '../../worker/index.js'
import { ATTEMPTS_CEILING, BACKOFF_TYPE } from '../../core/job-options.js'
import { pollKeys } from '../../core/lease.js'
import { eventsApi, publishEvents } from '../fixtures/fake-provider.mjs'
import { captureLogs, deferred, makeEvents, PREFIX, pollSetup } from '../fixtures/poller-setup.js'

t.test('runOnce pages through the provider and enqueues WebhookEvents under the shared job ids', async (t) => {
  const { redis, queue, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(12))
  const contexts: Array<{ cursor: string, ctx: PollContext }> = []
  const api = eventsApi(redis, apiKey, { pageSize: 5 })
  const p = poller({ fetchChanges: async (cursor, ctx) => { contexts.push({ cursor, ctx }); return await api(cursor, ctx) } })

  const before = Date.now()
  const result = await p.runOnce() as PollRunResult
  t.match(result, { pages: 3, events: 12, cursor: '12', hasMore: false })
  t.equal(result.stopped, undefined)
  t.ok(result.startedAt <= result.endedAt)
  t.same(contexts.map((c) => [c.cursor, c.ctx.page]), [['0', 1], ['5', 2], ['10', 3]], 'each page starts at the saved cursor')
  t.equal(new Set(contexts.map((c) => c.ctx.runId)).size, 1, 'one run id for the run')
  t.equal(contexts[0]?.ctx.runId, result.runId)
  t.type(contexts[0]?.ctx.signal, AbortSignal)
  t.equal(typeof contexts[0]?.ctx.log.info, 'function')

  const counts = await queue.getJobCounts('wait', 'delayed', 'active')
  t.equal(counts.wait, 12)
  const job = await queue.getJob(safeJobId('acme', 'evt_7'))
  t.ok(job, 'the job id is safeJobId(source, id), as for a webhook of the source')
  const data = job?.data as WebhookEvent
  t.same({ ...data, receivedAt: 0 }, { v: 1, id: 'evt_7', source: 'acme', type: 'thing.updated', payload: { n: 7 }, headers: {}, receivedAt: 0, origin: 'poll' })
  t.ok(data.receivedAt >= before && data.receivedAt <= Date.now())
  t.equal(job?.name, 'webhook')
  t.equal(job?.opts.attempts, ATTEMPTS_CEILING, 'the event job options every producer uses')
  t.same(job?.opts.backoff, { type: BACKOFF_TYPE })

  const status = await p.status()
  t.equal(status.cursor, '12')
  t.ok(status.lagMs !== null && status.lagMs >= 0 && status.lagMs < 5000)
  t.equal(status.pausedUntil, null)

  const again = await p.runOnce() as PollRunResult
  t.match(again, { pages: 1, events: 0, cursor: '12', hasMore: false }, 'nothing new: one empty page')
  t.not(again.runId, result.runId)
  await publishEvents(redis, apiKey, [{ id: 'evt_7', type: 'thing.updated', payload: { n: 7 } }, { id: 'evt:12', payload: { n: 12 } }])
  t.match(await p.runOnce(), { pages: 1, events: 2, cursor: '14' })
  t.equal((await queue.getJobCounts('wait')).wait, 13, 'a repeated id is one job')
  const odd = await queue.getJob(safeJobId('acme', 'evt:12'))
  t.equal((odd?.data as WebhookEvent).type, '', 'type defaults to empty')
})

t.test('maxPagesPerRun bounds a run; the next run goes on from the saved cursor', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(7))
  const p = poller({ fetchChanges: eventsApi(redis, apiKey, { pageSize: 2 }), maxPagesPerRun: 2 })
  t.match(await p.runOnce(), { pages: 2, events: 4, cursor: '4', hasMore: true })
  t.match(await p.runOnce(), { pages: 2, events: 3, cursor: '7', hasMore: false })
})

t.test('the initial cursor is computed once and saved before the first page', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(6))
  let computed = 0
  const seen: string[] = []
  const api = eventsApi(redis, apiKey)
  const failing = poller({
    initialCursor: async () => { computed++; return '3' },
    fetchAttempts: 1,
    fetchChanges: async (cursor) => { seen.push(cursor); throw new Error('provider down') }
  })
  await t.rejects(failing.runOnce(), /provider down/)
  t.equal(computed, 1)
  t.equal((await failing.status()).cursor, '3', 'saved although the first page failed')
  await t.rejects(failing.runOnce(), /provider down/)
  t.equal(computed, 1, 'not computed again')

  const other = poller({ initialCursor: () => '0', fetchChanges: async (cursor, ctx) => { seen.push(cursor); return await api(cursor, ctx) } })
  t.match(await other.runOnce(), { events: 3, cursor: '6' }, 'a second replica starts from the saved cursor')
  t.same(seen, ['3', '3', '3'])

  const bad = pollSetup(t).poller({ initialCursor: (() => 42) as never, fetchChanges: api })
  await t.rejects(bad.runOnce(), { code: 'WEBHOOK_INVALID_OPTION', message: /Expected `initialCursor` to return a string, got number/ })
})

t.test('fetchChanges errors are retried with backoff and logged; the cursor stays when they persist', async (t) => {
  const { redis, queue, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(3))
  const api = eventsApi(redis, apiKey)
  const { logger, lines } = captureLogs()
  const calls: number[] = []
  const p = poller({
    logger,
    fetchBackoffMs: 100,
    fetchChanges: async (cursor, ctx) => {
      calls.push(Date.now())
      if (calls.length <= 2) throw new Error(`blip ${calls.length}`)
      return await api(cursor, ctx)
    }
  })
  t.match(await p.runOnce(), { pages: 1, events: 3, cursor: '3' })
  t.equal(calls.length, 3)
  const retries = lines.filter((l) => l.msg === 'fetchChanges failed; retrying')
  t.equal(retries.length, 2)
  t.match(retries[0], { level: 40, attempt: 1, err: { message: 'blip 1' } })
  t.ok(Number(retries[0]?.delayMs) >= 50 && Number(retries[0]?.delayMs) <= 100, 'retry 1 delay in [d/2, d], d = 100')
  t.ok(Number(retries[1]?.delayMs) >= 100 && Number(retries[1]?.delayMs) <= 200, 'retry 2 delay in [d/2, d], d = 200')
  t.ok((calls[1] ?? 0) - (calls[0] ?? 0) >= Number(retries[0]?.delayMs) - 5, 'the delay was waited')

  const down = pollSetup(t)
  const tries: string[] = []
  const q = down.poller({ fetchAttempts: 2, fetchBackoffMs: 0, fetchChanges: async (cursor) => { tries.push(cursor); throw new Error('still down') } })
  await t.rejects(q.runOnce(), /still down/)
  t.same(tries, ['0', '0'])
  t.equal((await q.status()).cursor, '0')
  t.equal((await down.queue.getJobCounts('wait')).wait, 0)
  t.equal((await queue.getJobCounts('wait')).wait, 3)
})

t.test('a bad page is an error: not retried, logged by scheduled runs, cursor untouched, nothing enqueued', async (t) => {
  const { queue, poller } = pollSetup(t)
  const { logger, lines } = captureLogs()
  let page: unknown = { events: [{ id: 'ok', payload: {} }, { id: 5, payload: {} }], cursor: '9', hasMore: false }
  let calls = 0
  const p = poller({ logger, fetchChanges: async () => { calls++; return page as PollPage } })
  await t.rejects(p.runOnce(), { name: 'TypeError', message: /fetchChanges returned a bad page: Expected `events\[1\].id` to be a non-empty string, got `5` \(number\)/ })
  t.equal(calls, 1, 'not retried')
  t.equal((await p.status()).cursor, '0')
  t.equal((await queue.getJobCounts('wait')).wait, 0, 'not even the good event of the page')
  page = { events: [], cursor: 9, hasMore: false }
  await t.rejects(p.runOnce(), /Expected `cursor` to be a string/)
  page = { events: [{ id: 'a', payload: {} }], cursor: '0', hasMore: true }
  await t.rejects(p.runOnce(), /bad page: `hasMore` is true but `cursor` did not move from `0`/)
  t.equal((await queue.getJobCounts('wait')).wait, 0)

  const scheduled = poller({ logger, runOnStart: true, fetchChanges: async () => ({ events: 'nope', cursor: '1', hasMore: false }) as never })
  await scheduled.ready()
  const deadline = Date.now() + 5000
  while (!lines.some((l) => l.msg === 'poll run failed; the cursor stays where it was') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const failed = lines.find((l) => l.msg === 'poll run failed; the cursor stays where it was')
  t.match(failed, { level: 50, reason: 'start', err: { message: /Expected `events` to be an array/ } })
})

t.test('a slow fetchChanges is aborted through ctx.signal, even one that ignores it', async (t) => {
  const { poller } = pollSetup(t)
  let signal: AbortSignal | undefined
  const p = poller({
    fetchTimeoutMs: 150,
    fetchAttempts: 2,
    fetchBackoffMs: 0,
    fetchChanges: async (_cursor, ctx) => { signal = ctx.signal; return await new Promise<never>(() => {}) }
  })
  const started = Date.now()
  await t.rejects(p.runOnce(), { code: 'WEBHOOK_WORKER_TIMEOUT', message: 'fetchChanges exceeded its timeout of 150 ms' })
  t.ok(Date.now() - started >= 300, 'both attempts waited their timeout')
  t.equal(signal?.aborted, true)
  t.equal((await p.status()).cursor, '0')
})

t.test('one run at a time: runOnce on another replica skips while a run holds the lease', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(4))
  const api = eventsApi(redis, apiKey)
  const gate = deferred()
  const entered = deferred()
  const a = poller({ fetchChanges: async (cursor, ctx) => { entered.resolve(); await gate.promise; return await api(cursor, ctx) } })
  const b = poller({ fetchChanges: api })
  const running = a.runOnce()
  await entered.promise
  t.same(await b.runOnce(), { skipped: 'busy' })
  t.same(await a.runOnce(), { skipped: 'busy' }, 'the same replica too')
  gate.resolve()
  t.match(await running, { events: 4, cursor: '4' })
  t.match(await b.runOnce(), { pages: 1, events: 0, cursor: '4' }, 'the lease is released after the run')
})

t.test('a run outliving leaseMs keeps its lease by renewal', async (t) => {
  const { redis, apiKey, queueName, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(2))
  const slow = eventsApi(redis, apiKey, { delayMs: 2000 })
  const entered = deferred()
  const a = poller({ leaseMs: 600, fetchChanges: async (cursor, ctx) => { entered.resolve(); return await slow(cursor, ctx) } })
  const b = poller({ leaseMs: 600, fetchChanges: eventsApi(redis, apiKey) })
  const running = a.runOnce()
  await entered.promise
  await new Promise((resolve) => setTimeout(resolve, 1400))
  t.same(await b.runOnce(), { skipped: 'busy' }, 'still held after more than twice leaseMs')
  t.match(await running, { events: 2, cursor: '2' })
  t.equal(await redis.exists(pollKeys(PREFIX, queueName, 'acme').lease), 0, 'released')
})

t.test('a run that lost its lease cannot save its cursor', async (t) => {
  t.test('refused by the fenced compare-and-set', async (t) => {
    const { redis, apiKey, queueName, poller } = pollSetup(t)
    await publishEvents(redis, apiKey, makeEvents(10))
    const { logger, lines } = captureLogs()
    const gate = deferred()
    const entered = deferred()
    const a = poller({ logger, fetchChanges: async () => { entered.resolve(); await gate.promise; return { events: [{ id: 'late', payload: {} }], cursor: '5', hasMore: false } } })
    const b = poller({ fetchChanges: eventsApi(redis, apiKey, { pageSize: 10 }) })
    const running = a.runOnce()
    await entered.promise
    await redis.del(pollKeys(PREFIX, queueName, 'acme').lease) // as if the lease had expired while the process was frozen
    t.match(await b.runOnce(), { events: 10, cursor: '10' })
    gate.resolve()
    t.match(await running, { pages: 0, stopped: 'lease-lost', cursor: '0' })
    t.equal((await b.status()).cursor, '10', 'the cursor did not move back')
    t.ok(lines.some((l) => l.level === 40 && l.outcome === 'lease-lost'), 'logged')
  })

  t.test('noticed by the renewal, which aborts ctx.signal', async (t) => {
    const { redis, apiKey, queueName, poller } = pollSetup(t)
    await publishEvents(redis, apiKey, makeEvents(3))
    const entered = deferred()
    let signal: AbortSignal | undefined
    const a = poller({
      leaseMs: 300,
      fetchChanges: async (cursor, ctx) => {
        signal = ctx.signal
        entered.resolve()
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
        return { events: [], cursor: '99', hasMore: false }
      }
    })
    const b = poller({ leaseMs: 300, fetchChanges: eventsApi(redis, apiKey) })
    const running = a.runOnce()
    await entered.promise
    await redis.del(pollKeys(PREFIX, queueName, 'acme').lease)
    t.match(await b.runOnce(), { cursor: '3' })
    t.match(await running, { stopped: 'lease-lost', pages: 0 })
    t.equal(signal?.aborted, true)
    t.equal((await a.status()).cursor, '3')
  })
})
