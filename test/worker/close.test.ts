import t from 'tap'
import type { AttemptReport } from '../../worker/reporter.js'
import { safeJobId } from '../../core/job-id.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

// A forced close gives the running job back to the queue at once, without
// spending an attempt, so another worker needs no stall to run it.
const LOCKS = { lockDuration: 1000, stalledInterval: 30_000 }

for (const deaf of [false, true]) {
  t.test(`close({ timeoutMs }) during an apply that ${deaf ? 'ignores' : 'honours'} its signal: outcome closed, the job back in wait, run by the next worker without a stall`, async (t) => {
    const q = queueFixture(t)
    const reports: AttemptReport[] = []
    let started = 0
    const first = await startWorker(t, q, {
      ...LOCKS,
      apply: async (_s, _e, ctx) => {
        started++
        if (deaf) return await sleep(5000)
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
        throw ctx.signal.reason
      }
    })
    first.on('attempt', (r) => reports.push(r))
    const event = makeEvent()
    await q.add(event)
    await waitFor(() => started === 1, 5000, 'apply started')
    const before = Date.now()
    await first.close({ timeoutMs: 200 })
    t.ok(Date.now() - before < 2000, `close returned in ${Date.now() - before} ms`)
    t.match(reports, [{ attempt: 1, outcome: 'closed', stage: 'apply', error: { code: 'WEBHOOK_WORKER_CLOSED' } }])
    const job = await q.queue.getJob(safeJobId(event.source, event.id))
    t.match(await job?.getState(), /^(waiting|delayed)$/, 'given back to the queue, not left active')
    t.equal(job?.attemptsMade, 0, 'no attempt spent')

    let appliedAt = 0
    const afterClose = Date.now()
    const second = await startWorker(t, q, { ...LOCKS, apply: async (_s, _e, ctx) => { appliedAt = Date.now(); t.equal(ctx.attempt, 1) } })
    await waitFor(() => appliedAt > 0, 10_000, 'the next worker applied it')
    t.ok(appliedAt - afterClose < 5000, `applied ${appliedAt - afterClose} ms after the close, no stall interval (30 s) needed`)
    await waitFor(async () => await q.queue.getCompletedCount() === 1, 5000, 'completed')
    t.equal(second.stats().applied, 1)
  })
}
