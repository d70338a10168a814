// @ts-check
// Worker baseline: a bare BullMQ Worker with a no-op processor, BullMQ's
// defaults otherwise (same lock settings as the package's defaults). It
// takes the same jobs as the package's worker: no dedupe, no claim, no commit.
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { completions, within } from '../lib/completions.mjs'
import { ready, serve } from '../lib/proc.mjs'

const expected = Number(process.env.BENCH_EXPECT)
const tracker = completions(expected)
const connection = new Redis(/** @type {string} */ (process.env.BENCH_REDIS_URL), { maxRetriesPerRequest: null })
const worker = new Worker(/** @type {string} */ (process.env.BENCH_QUEUE), async function noop () {}, {
  connection,
  concurrency: Number(process.env.BENCH_CONCURRENCY)
})
worker.on('completed', tracker.record)
worker.on('error', () => {})

serve({
  async result (/** @type {{ timeoutMs: number }} */ { timeoutMs }) {
    await within(tracker.done, timeoutMs)
    return tracker.summary()
  },
  async stop () {
    await worker.close()
    await connection.quit()
  }
})
ready()
