import t from 'tap'
import type { PollRunEvent } from '../../worker/index.js'
import { pollSetup, until } from '../fixtures/poller-setup.js'

// Regression: on a Redis Cluster, BullMQ's job scheduler of the poll queue
// could stop firing after a master restarted (its next iteration sat in the
// delayed set, and the poll worker never took it). The poller only looked at
// its lag after a run, so with no runs it never noticed, never warned, and
// never caught up: dropped webhooks stayed missing, silently. The lag is now
// also checked on a timer of its own, every `lagThresholdMs`.
//
// Here the schedule is simply far away (`every` is a minute), which is what
// a stalled scheduler looks like from the poller.

t.test('a schedule that does not fire: the lag is noticed and caught up on a timer', async (t) => {
  const { poller } = pollSetup(t, 'stalled-schedule')
  let n = 0
  const p = poller({
    fetchChanges: async () => ({ events: [{ id: `e${++n}`, payload: { n } }], cursor: String(n), hasMore: false }),
    every: 60_000,
    runOnStart: true,
    lagThresholdMs: 400
  })
  const runs: PollRunEvent[] = []
  const lags: unknown[] = []
  p.on('run', (r: PollRunEvent) => runs.push(r))
  p.on('lag', (l) => lags.push(l))
  await p.ready()
  await until(() => runs.some((r) => r.reason === 'start'), 5000, 'the start run')
  await until(() => runs.some((r) => r.reason === 'catch-up'), 5000, 'a catch-up run without any scheduled run')
  t.equal(runs.filter((r) => r.reason === 'schedule').length, 0, 'the schedule never fired')
  t.ok(lags.length > 0, 'the lag was reported')
  const status = await p.status()
  t.ok(status.lagMs !== null && status.lagMs < 5000, 'the cursor is caught up')

  await p.close()
  const after = runs.length
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(runs.length, after, 'no run after close()')
})
