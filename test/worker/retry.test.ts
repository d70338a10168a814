import t from 'tap'
import { attemptBudget, createBackoffStrategy, rememberRetryDelay, retryDelayBounds, retryDelayMs } from '../../worker/retry.js'
import { WORKER_DEFAULTS } from '../../worker/resolve-options.js'
import { ATTEMPTS_CEILING } from '../../core/job-options.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { makeEvent, queueFixture, startWorker, waitFor } from '../helpers/worker.js'

const DEFAULT = { ...WORKER_DEFAULTS.retry }
const HOUR = 3_600_000

t.test('the default schedule: 24 attempts, retry k waits within [d/2, d], d = min(10 min, 1 s * 2^(k-1)), 1.2 to 2.5 h in all', async (t) => {
  t.equal(DEFAULT.attempts, 24)
  t.same(retryDelayBounds(1, DEFAULT), { min: 500, max: 1000 })
  t.same(retryDelayBounds(2, DEFAULT), { min: 1000, max: 2000 })
  t.same(retryDelayBounds(10, DEFAULT), { min: 256_000, max: 512_000 })
  t.same(retryDelayBounds(11, DEFAULT), { min: 300_000, max: 600_000 })
  t.same(retryDelayBounds(23, DEFAULT), { min: 300_000, max: 600_000 })
  t.same(retryDelayBounds(5000, DEFAULT), { min: 300_000, max: 600_000 }, 'no overflow for huge retry numbers')
  let min = 0
  let max = 0
  for (let k = 1; k < DEFAULT.attempts; k++) {
    min += retryDelayBounds(k, DEFAULT).min
    max += retryDelayBounds(k, DEFAULT).max
  }
  t.ok(min > 1.2 * HOUR && min < 1.25 * HOUR, `shortest total ${(min / HOUR).toFixed(2)} h`)
  t.ok(max > 2.4 * HOUR && max < 2.5 * HOUR, `longest total ${(max / HOUR).toFixed(2)} h`)
})

t.test('delays are drawn uniformly within the bounds', async (t) => {
  t.equal(retryDelayMs(3, DEFAULT, () => 0), 2000)
  t.equal(retryDelayMs(3, DEFAULT, () => 0.999999), 4000)
  const seen = new Set<number>()
  for (let i = 0; i < 2000; i++) seen.add(retryDelayMs(1, { attempts: 4, baseDelayMs: 100, maxDelayMs: 400 }))
  t.same([...seen].filter((d) => d < 50 || d > 100), [], 'never outside [50, 100]')
  t.ok(seen.size > 30, 'spread over the range')
  t.ok(seen.has(50) || seen.has(51), 'reaches the lower bound')
  t.ok(seen.has(100) || seen.has(99), 'reaches the upper bound')
  t.equal(retryDelayMs(4, { attempts: 10, baseDelayMs: 0, maxDelayMs: 0 }), 0, 'a zero base retries at once')
})

t.test('the backoff strategy: the processor\'s chosen delay, -1 once the budget is spent', async (t) => {
  const schedule = { attempts: 4, baseDelayMs: 100, maxDelayMs: 400 }
  const backoff = createBackoffStrategy(schedule)
  const job = { opts: { attempts: ATTEMPTS_CEILING } }
  const err = new Error('x')
  rememberRetryDelay(err, 77)
  t.equal(backoff(1, 'webhook', err, job as never), 77)
  const fresh = backoff(2, 'webhook', new Error('y'), job as never)
  t.ok(fresh >= 100 && fresh <= 200)
  t.equal(backoff(4, 'webhook', err, job as never), -1)
  t.equal(backoff(4, 'webhook'), -1, 'without a job, the worker budget')
  t.equal(backoff(1, 'webhook', err, { opts: { attempts: 1 } } as never), -1, 'a job added with fewer attempts keeps its own')
  t.equal(attemptBudget({ opts: {} }, schedule), 1, 'BullMQ\'s default of one attempt')
  t.equal(attemptBudget({ opts: { attempts: 2 } }, schedule), 2)
  t.equal(attemptBudget({ opts: { attempts: ATTEMPTS_CEILING } }, schedule), 4)
})

t.test('transient errors with a small schedule: dead letter after the budget, each delay within its jitter bounds', async (t) => {
  const q = queueFixture(t)
  const schedule = { attempts: 4, baseDelayMs: 100, maxDelayMs: 400 }
  const starts: number[] = []
  const failedAt: number[] = []
  const reports: AttemptReport[] = []
  const handle = await startWorker(t, q, {
    retry: schedule,
    apply: async () => {
      starts.push(Date.now())
      failedAt.push(Date.now())
      throw Object.assign(new Error('upstream 503'), { status: 503 })
    }
  })
  handle.on('attempt', (r) => reports.push(r))
  await q.add(makeEvent())
  const [letter] = await waitFor(async () => {
    const letters = await handle.deadLetters.list()
    return letters.length === 1 ? letters : undefined
  }, 10_000, 'dead letter')
  t.equal(starts.length, 4, 'four attempts in all')
  t.match(letter, { stage: 'apply', attemptsMade: 4, error: { message: 'upstream 503', status: 503 } })
  t.same(reports.map((r) => r.outcome), ['retry', 'retry', 'retry', 'dead-lettered'])
  // The scheduling margin covers BullMQ's move to delayed and its wake-up; the lower bound has none to spare.
  const MARGIN_MS = 500
  for (let k = 1; k <= 3; k++) {
    const { min, max } = retryDelayBounds(k, schedule)
    const chosen = reports[k - 1].retryInMs as number
    t.ok(chosen >= min && chosen <= max, `retry ${k}: chosen delay ${chosen} ms within [${min}, ${max}]`)
    const waited = starts[k] - failedAt[k - 1]
    t.ok(waited >= chosen - 5 && waited <= chosen + MARGIN_MS, `retry ${k}: waited ${waited} ms for a ${chosen} ms delay`)
  }
  t.equal(await q.queue.getFailedCount(), 0)
})
