import t from 'tap'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'
import { privateRedis } from '../helpers/redis.js'
import { tcpProxy } from '../helpers/proxy.js'

// A worker cut off from Redis while it applies: its signal aborts at the lease's
// local deadline, before another worker can take the event over.
t.setTimeout(60_000)

t.test('a worker partitioned from Redis during apply: ctx.signal aborts within the lease, before the other worker applies', async (t) => {
  const server = await privateRedis(t)
  const proxy = await tcpProxy(t, server.port)
  const q = queueFixture(t, server.url)
  const a = { started: 0, aborted: 0, reason: undefined as unknown, fence: 0 }
  const b = { started: 0, fence: 0 }
  const workerA = await startWorker(t, { ...q, url: proxy.url }, {
    apply: async (_s, _e, ctx) => {
      a.started = Date.now()
      a.fence = ctx.fence
      ctx.signal.addEventListener('abort', () => { a.aborted = Date.now(); a.reason = ctx.signal.reason })
      await sleep(6000) // keeps running: only its signal can tell it to stop
    }
  })
  await q.add(makeEvent())
  await waitFor(() => a.started > 0, 5000, 'A is in apply')
  proxy.cut()
  const cutAt = Date.now()
  await startWorker(t, q, {
    apply: async (_s, _e, ctx) => {
      b.started = Date.now()
      b.fence = ctx.fence
    }
  })
  await waitFor(() => a.aborted > 0, 5000, 'A\'s signal aborted')
  t.ok(a.aborted - cutAt <= 2000, `A's signal aborted ${a.aborted - cutAt} ms after the cut (lease 1 s + 1 s margin)`)
  t.match(a.reason, { code: 'WEBHOOK_WORKER_CLAIM_LOST' })
  await waitFor(() => b.started > 0, 10_000, 'B took the event over')
  t.ok(a.aborted <= b.started, `A's signal aborted ${b.started - a.aborted} ms before B's apply started`)
  t.ok(b.fence > a.fence, 'B holds the higher fence')
  proxy.heal()
  await workerA.close({ timeoutMs: 500 })
})
