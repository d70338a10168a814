import t from 'tap'
import { Redis } from 'ioredis'
import { RateLimitedError, type CursorStore, type PollContext, type PollPage, type PollLagEvent, type PollRunEvent, type PollRunResult } from '../../worker/index.js'
import { pollKeys } from '../../core/lease.js'
import { eventsApi, publishEvents } from '../fixtures/fake-provider.mjs'
import { captureLogs, makeEvents, PREFIX, pollSetup, until } from '../fixtures/poller-setup.js'
import { redisUrl } from '../helpers/redis.js'

t.test('scheduled runs deliver changes published later, without runOnce', async (t) => {
  const { redis, queue, apiKey, poller } = pollSetup(t)
  const runs: PollRunEvent[] = []
  const p = poller({ every: 300, fetchChanges: eventsApi(redis, apiKey) })
  p.on('run', (r: PollRunEvent) => runs.push(r))
  await p.ready()
  await publishEvents(redis, apiKey, makeEvents(3))
  await until(async () => (await queue.getJobCounts('wait')).wait === 3, 5000, 'the first three events')
  await publishEvents(redis, apiKey, makeEvents(3, 3))
  await until(async () => (await queue.getJobCounts('wait')).wait === 6, 5000, 'three more')
  // The jobs are enqueued before the cursor is saved, and the run ends after that.
  await until(() => runs.some((r) => !('skipped' in r) && r.cursor === '6'), 2000, 'the run that saved the cursor')
  t.equal((await p.status()).cursor, '6')
  t.ok(runs.every((r) => r.reason === 'schedule'), 'runOnStart: false leaves the first run to the schedule')
})

t.test('runOnStart runs at once, whatever `every` says', async (t) => {
  const { redis, queue, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(4))
  const runs: PollRunEvent[] = []
  const p = poller({ every: 60_000, runOnStart: true, fetchChanges: eventsApi(redis, apiKey) })
  p.on('run', (r: PollRunEvent) => runs.push(r))
  await until(async () => (await queue.getJobCounts('wait')).wait === 4, 5000, 'the start run')
  await until(() => runs.length > 0, 1000, 'the run event')
  t.match(runs[0], { reason: 'start', events: 4, cursor: '4', hasMore: false })
})

t.test('cursor lag past the threshold triggers a catch-up at once', async (t) => {
  t.test('catches up instead of waiting for the schedule', async (t) => {
    const { redis, apiKey, poller } = pollSetup(t)
    await publishEvents(redis, apiKey, makeEvents(5))
    const { logger, lines } = captureLogs()
    const runs: PollRunEvent[] = []
    const lags: PollLagEvent[] = []
    // One 400 ms page per run against a 300 ms threshold: every run ends lagging until the provider is drained.
    const p = poller({ logger, every: 60_000, runOnStart: true, maxPagesPerRun: 1, lagThresholdMs: 300, fetchChanges: eventsApi(redis, apiKey, { pageSize: 1, delayMs: 400 }) })
    p.on('run', (r: PollRunEvent) => runs.push(r))
    p.on('lag', (l: PollLagEvent) => lags.push(l))
    await until(async () => (await p.status()).cursor === '5' && runs.some((r) => !('skipped' in r) && !r.hasMore), 15_000, 'the catch-up to drain the provider')
    t.ok(runs.length >= 5, `${runs.length} runs within seconds, with \`every\` at 60 s`)
    // On a loaded machine the lag timer's catch-up can take the lease before the start run does
    // (the start run is then reported as skipped), so only the set of reasons is fixed.
    t.equal(runs.filter((r) => r.reason === 'start').length, 1, 'one start run')
    t.ok(runs.every((r) => r.reason === 'start' || r.reason === 'catch-up'), 'every other run is a catch-up')
    t.ok(lags.length >= 4)
    t.ok(lags.every((l) => l.lagMs > 300 && l.lagThresholdMs === 300))
    t.ok(lines.some((l) => l.level === 40 && l.msg === 'poll cursor lags behind the provider: catching up'), 'warned')
    const count = runs.length
    await new Promise((resolve) => setTimeout(resolve, 600))
    t.equal(runs.length, count, 'caught up: no more runs until the schedule')
    t.ok(Number((await p.status()).lagMs) < 5000)
  })

  t.test('under the threshold, the schedule decides', async (t) => {
    const { redis, apiKey, poller } = pollSetup(t)
    await publishEvents(redis, apiKey, makeEvents(5))
    const runs: PollRunEvent[] = []
    const p = poller({ every: 60_000, runOnStart: true, maxPagesPerRun: 1, lagThresholdMs: 60_000, fetchChanges: eventsApi(redis, apiKey, { pageSize: 1, delayMs: 400 }) })
    p.on('run', (r: PollRunEvent) => runs.push(r))
    await until(() => runs.length === 1, 5000, 'the start run')
    await new Promise((resolve) => setTimeout(resolve, 1200))
    t.equal(runs.length, 1)
    t.equal((await p.status()).cursor, '1')
  })

  t.test('a lag found at start catches up without runOnStart', async (t) => {
    const { redis, apiKey, queueName, poller } = pollSetup(t)
    await publishEvents(redis, apiKey, makeEvents(2))
    await redis.set(pollKeys(PREFIX, queueName, 'acme').synced, Date.now() - 3_600_000)
    const runs: PollRunEvent[] = []
    const p = poller({ every: 60_000, runOnStart: false, lagThresholdMs: 300_000, fetchChanges: eventsApi(redis, apiKey) })
    p.on('run', (r: PollRunEvent) => runs.push(r))
    await until(() => runs.length === 1, 5000, 'the catch-up run')
    t.match(runs[0], { reason: 'catch-up', events: 2, hasMore: false })
    t.ok(Number((await p.status()).lagMs) < 5000, 'the lag clock restarted')
  })
})

t.test('a RateLimitedError pauses polling for every replica without losing the cursor', async (t) => {
  const { redis, queue, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(10))
  const api = eventsApi(redis, apiKey, { pageSize: 5 })
  const { logger, lines } = captureLogs()
  const calls: Array<{ at: number, cursor: string }> = []
  let limitedAt = 0
  async function fetchChanges (cursor: string, ctx: PollContext): Promise<PollPage<Record<string, unknown>>> {
    calls.push({ at: Date.now(), cursor })
    if (cursor === '5' && limitedAt === 0) {
      limitedAt = Date.now()
      // Recognised by name, as from another copy of the package.
      throw Object.assign(new Error('429 from the provider'), { name: 'RateLimitedError', retryAfterMs: 1500 })
    }
    return await api(cursor, ctx)
  }
  const p = poller({ logger, every: 200, runOnStart: true, fetchChanges })
  const other = poller({ every: 200, fetchChanges })
  await until(() => limitedAt > 0, 5000, 'the rate limit')
  const status = await p.status()
  t.equal(status.cursor, '5', 'the page before the limit stays saved')
  t.ok(status.pausedUntil !== null && status.pausedUntil >= limitedAt + 1400)
  t.match(await other.runOnce(), { skipped: 'paused' }, 'another replica pauses too')
  await until(async () => (await p.status()).cursor === '10', 8000, 'polling to resume')
  const after = calls.filter((c) => c.at > limitedAt)
  t.ok((after[0]?.at ?? 0) - limitedAt >= 1400, `no fetch during the pause (next after ${(after[0]?.at ?? 0) - limitedAt} ms)`)
  t.equal(after[0]?.cursor, '5', 'resumed from the saved cursor')
  t.equal((await queue.getJobCounts('wait')).wait, 10)
  t.ok(lines.some((l) => l.level === 40 && l.msg === 'fetchChanges was rate limited: polling paused, cursor kept' && l.pauseMs === 1500))
})

t.test('runOnce reports a rate limit; an unusable retryAfterMs pauses 60 s', async (t) => {
  const { poller } = pollSetup(t)
  let retryAfterMs = 2000
  let calls = 0
  const p = poller({ fetchChanges: async () => { calls++; throw new RateLimitedError(retryAfterMs) } })
  const result = await p.runOnce() as PollRunResult
  t.match(result, { pages: 0, stopped: 'rate-limited', cursor: '0' })
  t.ok(Number(result.resumeAt) >= Date.now() + 1500)
  t.equal(calls, 1, 'a rate limit is not retried')
  t.match(await p.runOnce(), { skipped: 'paused' })
  const { redis, queueName } = pollSetup(t)
  retryAfterMs = Number.NaN
  const q = poller({ queueName, fetchChanges: async () => { throw new RateLimitedError(retryAfterMs) } })
  await q.runOnce()
  const pausedUntil = Number((await q.status()).pausedUntil)
  t.ok(pausedUntil > Date.now() + 55_000 && pausedUntil <= Date.now() + 60_000)
  await redis.del(pollKeys(PREFIX, queueName, 'acme').pause)
})

t.test('a user store: compare-and-set with the previous cursor and a growing fencing token', async (t) => {
  const { redis, apiKey, queueName, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(7))
  let value: string | null = null
  const saves: Array<{ next: string, prev: string | null, token: number, source: string }> = []
  const store: CursorStore = {
    load: async () => value,
    save: async (next, prev, fence) => {
      saves.push({ next, prev, ...fence })
      if (prev !== value) return false
      value = next
      return true
    }
  }
  const p = poller({ store, fetchChanges: eventsApi(redis, apiKey, { pageSize: 3 }), maxPagesPerRun: 2 })
  t.match(await p.runOnce(), { pages: 2, cursor: '6', hasMore: true })
  t.same(saves.map((s) => [s.next, s.prev]), [['0', null], ['3', '0'], ['6', '3']])
  t.ok(saves.every((s) => s.source === 'acme' && s.token === saves[0]?.token && s.token > 0))
  t.equal(await redis.exists(pollKeys(PREFIX, queueName, 'acme').cursor), 0, 'nothing in Redis')

  value = '3'
  const { logger, lines } = captureLogs()
  // Another writer moves the stored cursor while the page is fetched: the compare fails.
  const q = poller({ store, logger, fetchChanges: async () => { value = '4'; return { events: [{ id: 'x', payload: {} }], cursor: '9', hasMore: false } } })
  saves.length = 0
  t.match(await q.runOnce(), { pages: 0, stopped: 'conflict', cursor: '3' })
  t.same(saves.map((s) => [s.next, s.prev]), [['9', '3']])
  t.ok(Number(saves[0]?.token) > 0)
  t.ok(lines.some((l) => l.level === 40 && l.outcome === 'conflict'))
  t.equal(value, '4')

  const fresh = pollSetup(t).poller({ store: { load: () => null, save: () => false }, initialCursor: '0', fetchChanges: eventsApi(redis, apiKey) })
  await t.rejects(fresh.runOnce(), /refused the initial cursor but holds none/)

  const badLoad = poller({ store: { load: () => 5 as never, save: () => true }, fetchChanges: eventsApi(redis, apiKey) })
  await t.rejects(badLoad.runOnce(), { name: 'TypeError', message: /Expected `store.load\(\)` to be to resolve to a string, null or undefined, got `5` \(number\)/ })
  const badSave = poller({ store: { load: () => null, save: () => 'yes' as never }, fetchChanges: eventsApi(redis, apiKey) })
  await t.rejects(badSave.runOnce(), /Expected `store.save\(\)` to be to resolve to a boolean/)
})

t.test('a user store is not written by a run that lost its lease', async (t) => {
  const { redis, queueName, poller } = pollSetup(t)
  let value: string | null = '0'
  const saves: string[] = []
  const store: CursorStore = { load: () => value, save: (next) => { saves.push(next); value = next; return true } }
  let release: (() => void) | undefined
  const entered = new Promise<void>((resolve) => {
    poller({ store, fetchChanges: async () => { resolve(); await new Promise<void>((resolve) => { release = resolve }); return { events: [], cursor: '5', hasMore: false } } })
      .runOnce().then((r) => t.match(r, { stopped: 'lease-lost' })).catch(t.error)
  })
  await entered
  await redis.del(pollKeys(PREFIX, queueName, 'acme').lease)
  const b = poller({ store, fetchChanges: async () => ({ events: [], cursor: '7', hasMore: false }) })
  t.match(await b.runOnce(), { cursor: '7' })
  release?.()
  await until(() => saves.length === 1 && value === '7', 2000, 'the other run to end')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(saves, ['7'], 'only the lease holder saved')
})

t.test('close() closes only what it opened; a closed poller refuses runOnce', async (t) => {
  const { redis, apiKey, queueName, poller } = pollSetup(t)
  const mine = new Redis(redisUrl(), { maxRetriesPerRequest: null })
  t.teardown(() => mine.disconnect())
  const p = poller({ connection: mine, fetchChanges: eventsApi(redis, apiKey) })
  await p.ready()
  t.match(await p.runOnce(), { pages: 1 })
  await p.close()
  await p.close()
  t.equal(await mine.ping(), 'PONG', 'the given client stays open')
  t.notOk(p.worker.isRunning())
  await t.rejects(p.runOnce(), /The poller is closed/)
  const schedulers = await redis.zrange(`${PREFIX}:${queueName}-poll:repeat`, 0, -1)
  t.same(schedulers, ['poll.acme'], 'the schedule stays for the other replicas')
})

t.test('a poll queue shared by two sources is reported, not run for the wrong source', async (t) => {
  const { redis, apiKey, queueName, poller } = pollSetup(t)
  const { logger, lines } = captureLogs()
  let calls = 0
  const p = poller({ logger, fetchChanges: async (cursor, ctx) => { calls++; return await eventsApi(redis, apiKey)(cursor, ctx) } })
  await p.ready()
  const { Queue } = await import('bullmq')
  const pollQueue = new Queue(`${queueName}-poll`, { connection: redis, prefix: PREFIX })
  t.teardown(() => pollQueue.close())
  await pollQueue.add('poll', { source: 'other' })
  await until(() => lines.some((l) => l.level === 50 && /shared with the poller of another source/.test(l.msg)), 5000, 'the error log')
  t.equal(calls, 0)
})

t.test('close() is prompt: it aborts the run in flight, even a fetchChanges that ignores its signal, and reports no failure', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(3))
  const { logger, lines } = captureLogs()
  const runs: PollRunEvent[] = []
  let entered = false
  const p = poller({ logger, runOnStart: true, fetchChanges: async () => { entered = true; return await new Promise<never>(() => {}) } })
  p.on('run', (r: PollRunEvent) => runs.push(r))
  await until(() => entered, 5000, 'the start run to fetch')
  const started = Date.now()
  await p.close()
  t.ok(Date.now() - started < 5000, 'well before fetchTimeoutMs (30 s)')
  t.match(runs, [{ reason: 'start', stopped: 'closed', pages: 0, cursor: '0' }])
  t.same(lines.filter((l) => l.level >= 50), [], 'no error logged')
  t.equal((await pollSetup(t).poller({ fetchChanges: eventsApi(redis, apiKey) }).status()).cursor, null, 'another queue is untouched')
})

t.test('a poller closed right after it was created closes cleanly', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  const { logger, lines } = captureLogs()
  const p = poller({ logger, runOnStart: true, fetchChanges: eventsApi(redis, apiKey) })
  await p.close()
  await p.ready().catch(() => {})
  t.same(lines.filter((l) => l.level >= 50), [], 'no error logged')
})

t.test('two replicas initialising the cursor at once: the second takes the first one\'s', async (t) => {
  const { redis, apiKey, poller } = pollSetup(t)
  await publishEvents(redis, apiKey, makeEvents(4))
  let value: string | null = null
  const store: CursorStore = {
    load: () => value,
    save: (next, prev) => {
      if (prev === null) { value = '2'; return false } // another replica's initial cursor won the race
      if (prev !== value) return false
      value = next
      return true
    }
  }
  const seen: string[] = []
  const api = eventsApi(redis, apiKey)
  const p = poller({ store, initialCursor: '0', fetchChanges: async (cursor, ctx) => { seen.push(cursor); return await api(cursor, ctx) } })
  t.match(await p.runOnce(), { events: 2, cursor: '4' })
  t.same(seen, ['2'])
})
