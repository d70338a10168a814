import t from 'tap'
import type { WebhookEvent } from '../../core/event.js'
import { RateLimitedError } from '../../core/hook-errors.js'
import { queueKeyBase } from '../../core/keys.js'
import type { WorkerContext } from '../../worker/options.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

t.setTimeout(90_000)

interface Call { eventId: string, at: number, attempt: number }

t.test('a 429 with Retry-After pauses hydration for the queue, spends no attempt, and hydration resumes after the pause', async (t) => {
  const q = queueFixture(t)
  const calls: Call[] = []
  let limitedAt = 0
  const applied: Array<{ id: string, attempt: number }> = []
  const options = {
    hydrate: async (event: WebhookEvent, ctx: WorkerContext) => {
      calls.push({ eventId: event.id, at: Date.now(), attempt: ctx.attempt })
      if (calls.length === 1) {
        limitedAt = Date.now()
        throw Object.assign(new Error('Too Many Requests'), { response: { status: 429, headers: new Headers({ 'retry-after': '2' }) } })
      }
      return event.payload
    },
    apply: async (_s: unknown, event: WebhookEvent, ctx: WorkerContext) => { applied.push({ id: event.id, attempt: ctx.attempt }) },
    concurrency: 2
  }
  // Two workers: the one that got the 429, and one that only learns of the pause from Redis.
  const w1 = await startWorker(t, q, options)
  const w2 = await startWorker(t, q, options)
  const first = makeEvent()
  await q.add(first)
  await waitFor(() => w1.stats().hydrationPauses + w2.stats().hydrationPauses === 1, 5000, 'the 429')
  const pauseTtl = await q.redis.pttl(`${queueKeyBase(q.prefix, q.queueName)}hydrate:pause`)
  t.ok(pauseTtl > 1500 && pauseTtl <= 2000, 'the pause is in Redis, for the Retry-After')
  const others = [makeEvent(), makeEvent(), makeEvent(), makeEvent()]
  for (const e of others) await q.add(e)
  await waitFor(() => applied.length === 5, 15_000, 'all applied after the pause')

  const during = calls.slice(1).filter((c) => c.at < limitedAt + 2000)
  t.same(during, [], 'no worker called hydrate during the pause')
  t.ok(applied.every((a) => a.attempt === 1), 'no attempt was spent')
  t.ok(calls.every((c) => c.attempt === 1))
  const s1 = w1.stats()
  const s2 = w2.stats()
  t.equal(s1.retries + s2.retries, 0)
  t.ok(s1.rateLimited + s2.rateLimited >= 1, 'the job was given back as rate-limited')
  t.equal(s1.hydrateCalls + s2.hydrateCalls, 6, 'one refused call, then one per event')
})

t.test('a RateLimitedError thrown by hydrate pauses the same way', async (t) => {
  const q = queueFixture(t)
  const calls: number[] = []
  const attempts: number[] = []
  const w = await startWorker(t, q, {
    hydrate: async (event) => {
      calls.push(Date.now())
      if (calls.length === 1) throw new RateLimitedError(800)
      return event.payload
    },
    apply: async (_s, _e, ctx) => { attempts.push(ctx.attempt) }
  })
  await q.add(makeEvent())
  await waitFor(() => attempts.length === 1, 5000, 'applied')
  t.ok(calls[1] - calls[0] >= 800, 'the next call came after the pause')
  t.same(attempts, [1])
  t.match(w.stats(), { rateLimited: 1, retries: 0, hydrationPauses: 1 })
})

t.test('two workers under one rateLimit never exceed it together', async (t) => {
  const q = queueFixture(t)
  const limit = { max: 5, duration: 1500 }
  const calls: Call[] = []
  const byWorker = [0, 0]
  const options = (n: number) => ({
    rateLimit: limit,
    hydrate: async (event: WebhookEvent, ctx: WorkerContext) => {
      byWorker[n]++
      calls.push({ eventId: event.id, at: Date.now(), attempt: ctx.attempt })
      return event.payload
    },
    apply: async () => {},
    concurrency: 4
  })
  const w1 = await startWorker(t, q, options(0))
  const w2 = await startWorker(t, q, options(1))
  const count = 20
  for (let i = 0; i < count; i++) await q.add(makeEvent())
  await waitFor(async () => await q.queue.getCompletedCount() === count, 30_000, 'all applied')

  const times = calls.map((c) => c.at).sort((a, b) => a - b)
  t.equal(times.length, count, 'one call per event')
  // The bucket runs on Redis's clock and the calls are stamped in the test
  // process a moment later; 100 ms covers that lag, not the limiter.
  const window = limit.duration - 100
  let worst = 0
  for (let i = 0; i < times.length; i++) {
    let inWindow = 0
    for (let j = i; j < times.length && times[j] < times[i] + window; j++) inWindow++
    worst = Math.max(worst, inWindow)
  }
  t.ok(worst <= limit.max, `at most ${limit.max} calls in any ${window} ms window (worst: ${worst})`)
  t.ok(times[times.length - 1] - times[0] >= (count / limit.max - 1) * limit.duration - 100, 'the limit did hold the calls back')
  t.ok(byWorker[0] > 0 && byWorker[1] > 0, 'both workers called')
  t.ok(calls.every((c) => c.attempt === 1), 'waiting for the budget spends no attempt')
  const s = [w1.stats(), w2.stats()]
  t.equal(s[0].retries + s[1].retries, 0)
  t.ok(s[0].rateLimited + s[1].rateLimited >= 1, 'jobs facing a long wait were given back rather than held')
})

t.test('cache hits and shared calls cost nothing from the budget', async (t) => {
  const q = queueFixture(t)
  let calls = 0
  let applied = 0
  const w = await startWorker(t, q, {
    rateLimit: { max: 1, duration: 60_000 },
    objectKey: () => 'one-object',
    hydrateCacheMs: 60_000,
    hydrate: async () => {
      calls++
      await sleep(100)
      return { calls }
    },
    apply: async () => { applied++ }
  })
  const old = Date.now() - 60_000
  for (let i = 0; i < 10; i++) await q.add({ ...makeEvent(), receivedAt: old })
  await waitFor(() => applied === 10, 10_000, 'all applied with one token')
  t.equal(calls, 1)
  t.match(w.stats(), { rateLimited: 0, hydrateCalls: 1 })
  t.equal(w.stats().coalesced + w.stats().cacheHits, 9)
})
