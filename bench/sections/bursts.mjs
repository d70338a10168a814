// @ts-check
// Section 3, bursts: a backlog of events over few objects, enqueued before one
// worker process starts; how many hydrate calls it makes, against one per
// event: without objectKey, with objectKey (in-flight calls shared per
// object), and with objectKey and a short hydrate cache.
import { templateJob, fill } from '../lib/jobs.mjs'
import { privateRedis, reset } from '../lib/redis.mjs'
import { fmt, table } from '../lib/stats.mjs'
import { runWorker } from './worker.mjs'

/**
 * The package worker's answer in bursts mode, and what this section adds.
 * @typedef {import('./worker.mjs').WorkerRun & { hydrateCalls: number, distinctObjects: number, supported: boolean, seconds: number, callsPerObject: number }} BurstRun
 */

const QUEUE = 'bench-worker'
// A shared or cached state serves only events received more than the worker's
// clockSkewMs (default 1 s) before its fetch started: the backlog is made older
// than that before the worker starts, as a backlog built up during an outage is.
const BACKLOG_AGE_MS = 1500
const CACHE_MS = 60_000

/** @type {Array<{ key: string, label: string, env: Record<string, string> }>} */
const CONFIGS = [
  { key: 'none', label: 'no objectKey', env: {} },
  { key: 'objectKey', label: 'objectKey', env: { BENCH_OBJECT_KEY: '1' } },
  { key: 'cache', label: `objectKey, hydrateCacheMs ${CACHE_MS / 1000} s`, env: { BENCH_OBJECT_KEY: '1', BENCH_CACHE_MS: String(CACHE_MS) } }
]

/**
 * Runs the bursts; returns the section's result.
 * @param {import('../lib/config.mjs').Config} config
 * @param {import('../lib/config.mjs').Log} log
 */
export async function bursts (config, log) {
  const { events, objects, concurrency, hydrateMs } = config.bursts
  const redis = await privateRedis()
  try {
    const template = await templateJob(redis.url, QUEUE)
    /** @type {Record<string, BurstRun>} */
    const runs = {}
    for (const c of CONFIGS) {
      await reset(redis.client)
      await fill(redis.url, QUEUE, template, events, { objects, tag: `burst-${c.key}` })
      await new Promise((resolve) => setTimeout(resolve, BACKLOG_AGE_MS))
      const started = performance.now()
      // The package worker answers its hydrate figures too; seconds and callsPerObject are set here.
      const run = /** @type {BurstRun} */ (await runWorker(redis.url, 'package', concurrency, events, { BENCH_MODE: 'bursts', BENCH_HYDRATE_MS: String(hydrateMs), ...c.env }))
      run.seconds = (performance.now() - started) / 1000
      run.callsPerObject = run.hydrateCalls / objects
      runs[c.key] = run
      log(`bursts ${c.label}: ${run.hydrateCalls} hydrate calls for ${events} events over ${objects} objects${run.supported ? '' : ' (options not in this build)'}`)
    }
    const rows = CONFIGS.map((c) => {
      const r = runs[c.key]
      return [!r.supported ? `${c.label} (not in this build: ignored)` : c.label, fmt(r.hydrateCalls), fmt(r.callsPerObject, 2), fmt(r.hydrateCalls / events, 3), `${fmt(r.seconds, 1)} s`]
    })
    return {
      table: table(['worker options', 'hydrate calls', 'calls per object', 'calls per event', 'drained in'], rows),
      note: `${fmt(events)} events over ${fmt(objects)} objects (event i is about object i mod ${objects}), enqueued ${BACKLOG_AGE_MS / 1000} s before one worker process starts, ` +
        `createWebhookWorker at concurrency ${concurrency}; hydrate is a fake API call of ${hydrateMs} ms. One call per event would be ${fmt(events)}.`,
      events,
      objects,
      runs,
      callsPerObject: runs.cache.supported ? runs.cache.callsPerObject : NaN
    }
  } finally {
    await redis.stop()
  }
}
