import t from 'tap'
import type { AttemptReport } from '../../worker/reporter.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

// Applies that ignore their timeout: one apply at a time per event, the fence
// of each attempt, and the last attempt's late success.

/** A fake database row guarded by the fence, as a transactional apply writes it: `… WHERE fence < $fence`. */
function fencedRow (): { value: string | undefined, fence: number, refused: string[], write: (value: string, fence: number) => boolean } {
  const row = {
    value: undefined as string | undefined,
    fence: 0,
    refused: [] as string[],
    write (value: string, fence: number): boolean {
      if (!(typeof fence === 'number' && fence > row.fence)) {
        row.refused.push(value)
        return false
      }
      row.value = value
      row.fence = fence
      return true
    }
  }
  return row
}

interface Run { attempt: number, fence: number, start: number, end: number }

t.test('an apply that ignores its timeout: the retry starts after it settled, its write lands last, and fences increase', async (t) => {
  const q = queueFixture(t)
  const row = fencedRow()
  const runs: Run[] = []
  await startWorker(t, q, {
    applyTimeoutMs: 300,
    retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 50 },
    apply: async (_s, _e, ctx) => {
      const run = { attempt: ctx.attempt, fence: ctx.fence, start: Date.now(), end: 0 }
      runs.push(run)
      if (ctx.attempt === 1) await sleep(3000) // deaf to ctx.signal
      row.write(`attempt ${ctx.attempt}`, ctx.fence)
      run.end = Date.now()
    }
  })
  await q.add(makeEvent())
  await waitFor(async () => await q.queue.getCompletedCount() === 1, 15_000, 'the event completed')
  t.equal(runs.length, 2, 'two applies: the timed-out one and the retry')
  t.ok(runs[0].end > 0 && runs[1].start >= runs[0].end, `the retry started after the first apply ended (${runs[1].start - runs[0].end} ms)`)
  t.equal(row.value, 'attempt 2', 'the retry wrote last')
  t.same(row.refused, [], 'no write was refused: they came in fence order')
  t.ok(Number.isSafeInteger(runs[0].fence) && runs[0].fence > 0, 'ctx.fence is a positive integer')
  t.ok(runs[1].fence > runs[0].fence, 'the fence of the retry is higher')
})

t.test('past applyGraceMs the claim lapses and the retry runs; the fence refuses the late write', async (t) => {
  const q = queueFixture(t)
  const row = fencedRow()
  const runs: Run[] = []
  const reports: AttemptReport[] = []
  const handle = await startWorker(t, q, {
    applyTimeoutMs: 300,
    applyGraceMs: 100,
    retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 50 },
    apply: async (_s, _e, ctx) => {
      const run = { attempt: ctx.attempt, fence: ctx.fence, start: Date.now(), end: 0 }
      runs.push(run)
      if (ctx.attempt === 1) await sleep(3000)
      row.write(`attempt ${ctx.attempt}`, ctx.fence)
      run.end = Date.now()
    }
  })
  handle.on('attempt', (r) => reports.push(r))
  await q.add(makeEvent())
  await waitFor(async () => await q.queue.getCompletedCount() === 1, 10_000, 'the retry completed the event')
  await waitFor(() => runs[0]?.end > 0, 5000, 'the late apply ended')
  t.ok(runs[1].start < runs[0].end, 'the bound let the retry overlap the deaf apply')
  t.ok(runs[1].fence > runs[0].fence, 'the retry holds the higher fence')
  t.equal(row.value, 'attempt 2', 'the retry\'s write stands')
  t.same(row.refused, ['attempt 1'], 'the late write was refused by the fence')
  t.match(reports.find((r) => r.attempt === 1), { outcome: 'retry', stage: 'apply', error: { code: 'WEBHOOK_WORKER_TIMEOUT' } })
})

t.test('the last attempt\'s apply times out, then succeeds within applyGraceMs: applied once, not dead-lettered', async (t) => {
  const q = queueFixture(t)
  let effects = 0
  const reports: AttemptReport[] = []
  const handle = await startWorker(t, q, {
    applyTimeoutMs: 300,
    retry: { attempts: 1, baseDelayMs: 50, maxDelayMs: 50 },
    apply: async () => {
      await sleep(1000) // deaf to ctx.signal, and its write lands
      effects++
    }
  })
  handle.on('attempt', (r) => reports.push(r))
  const event = makeEvent()
  await q.add(event)
  await waitFor(() => reports.length === 1, 10_000, 'the attempt ended')
  t.match(reports[0], { attempt: 1, outcome: 'applied' })
  t.equal(effects, 1)
  t.equal(await handle.deadLetters.count(), 0, 'no dead letter to replay onto the effect')
  await waitFor(async () => await q.queue.getCompletedCount() === 1, 5000, 'the job completed')

  await q.queue.obliterate({ force: true })
  await q.add(event)
  await waitFor(() => reports.length === 2, 10_000, 'a redelivery was processed')
  t.equal(reports[1].outcome, 'duplicate', 'the event is done: a copy is not applied again')
  t.equal(effects, 1, 'one effect')
})

t.test('the last attempt\'s apply times out and then fails: dead-lettered as usual', async (t) => {
  const q = queueFixture(t)
  const handle = await startWorker(t, q, {
    applyTimeoutMs: 300,
    retry: { attempts: 1, baseDelayMs: 50, maxDelayMs: 50 },
    apply: async () => {
      await sleep(800)
      throw new Error('the write failed late')
    }
  })
  await q.add(makeEvent())
  const letter = await waitFor(async () => (await handle.deadLetters.list())[0], 10_000, 'the dead letter')
  t.match(letter, { stage: 'apply', error: { code: 'WEBHOOK_WORKER_TIMEOUT' } })
})
