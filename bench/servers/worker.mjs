// @ts-check
// This package's worker, in its own process: createWebhookWorker with fake
// user callbacks, as the benchmark mode asks:
// - throughput: no-op hydrate and apply;
// - bursts: a hydrate that takes BENCH_HYDRATE_MS like an API call, counted;
// - e2e: no-op hydrate, an apply that records when each event was applied.
import { createWebhookWorker } from 'fastify-hybrid-webhooks/worker'
import { completions, within } from '../lib/completions.mjs'
import { corkRedisWrites } from '../lib/cork.mjs'
import { nowMs } from '../lib/events.mjs'
import { ready, serve } from '../lib/proc.mjs'

const mode = process.env.BENCH_MODE ?? 'throughput'
const expected = Number(process.env.BENCH_EXPECT ?? Number.MAX_SAFE_INTEGER)
const hydrateMs = Number(process.env.BENCH_HYDRATE_MS ?? 0)
const tracker = completions(mode === 'e2e' ? 1 : expected)
const STATE = Object.freeze({ ok: true })

/** @typedef {import('fastify-hybrid-webhooks/worker').WebhookEvent<{ object_id: string }>} BenchEvent */

let hydrateCalls = 0
/** @type {Set<string>} */
const objectsHydrated = new Set()
/** @type {Array<[string, number]>} */
const applied = []
/** @type {{ count: number, resolve: () => void } | undefined} */
let appliedWaiter

/** @param {BenchEvent} event */
async function hydrate (event) {
  if (mode !== 'bursts') return STATE
  hydrateCalls++
  objectsHydrated.add(event.payload.object_id)
  await new Promise((resolve) => setTimeout(resolve, hydrateMs))
  return { id: event.payload.object_id }
}

/**
 * @param {unknown} _state
 * @param {BenchEvent} event
 */
async function apply (_state, event) {
  if (mode !== 'e2e') return
  applied.push([event.id, nowMs()])
  if (appliedWaiter !== undefined && applied.length >= appliedWaiter.count) appliedWaiter.resolve()
}

/** @param {BenchEvent} event */
function objectKey (event) {
  return event.payload.object_id
}

// BENCH_VARIANT names a user-level configuration tried by bench/ab.mjs; the benchmark runs the default.
/** @type {Record<string, () => object>} */
const VARIANTS = {
  // ioredis sends the commands issued in one tick in one write
  autopipeline: () => {
    const { hostname, port } = new URL(/** @type {string} */ (process.env.BENCH_REDIS_URL))
    return { connection: { host: hostname, port: Number(port), enableAutoPipelining: true } }
  },
  // the commands of one event-loop turn leave in one write (bench/lib/cork.mjs)
  cork: () => {
    corkRedisWrites()
    return {}
  }
}

const base = {
  connection: /** @type {string} */ (process.env.BENCH_REDIS_URL),
  queueName: /** @type {string} */ (process.env.BENCH_QUEUE),
  concurrency: Number(process.env.BENCH_CONCURRENCY),
  hydrate,
  apply,
  ...VARIANTS[process.env.BENCH_VARIANT ?? '']?.()
}

// Bursts: BENCH_OBJECT_KEY=1 sets `objectKey` (one in-flight call per object is
// shared), BENCH_CACHE_MS sets `hydrateCacheMs` too. A build without these
// options refuses them by name; the result then says so.
const coalescing = mode === 'bursts' && process.env.BENCH_OBJECT_KEY === '1'
const burstOptions = coalescing
  ? { objectKey, ...(Number(process.env.BENCH_CACHE_MS ?? 0) > 0 ? { hydrateCacheMs: Number(process.env.BENCH_CACHE_MS) } : {}) }
  : {}
let handle
let supported = true
try {
  handle = createWebhookWorker({ ...base, ...burstOptions })
} catch (err) {
  if (!coalescing || !/objectKey|hydrateCacheMs/.test(/** @type {Error} */ (err).message)) throw err
  supported = false
  handle = createWebhookWorker(base)
}
handle.worker.on('completed', tracker.record)

serve({
  async result (/** @type {{ timeoutMs: number }} */ { timeoutMs }) {
    await within(tracker.done, timeoutMs)
    return { ...tracker.summary(), hydrateCalls, distinctObjects: objectsHydrated.size, supported }
  },
  async applied (/** @type {{ count: number, timeoutMs: number }} */ { count, timeoutMs }) {
    /** @type {Promise<void>} */
    const all = new Promise((resolve) => {
      appliedWaiter = { count, resolve }
      if (applied.length >= count) resolve()
    })
    await within(all, timeoutMs)
    return applied
  },
  stop: () => handle.close({ timeoutMs: 5000 })
})
ready()
