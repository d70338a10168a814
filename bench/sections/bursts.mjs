// Section 3, bursts: a backlog of events over few objects, enqueued before one
// worker process starts; how many hydrate calls it makes, against one per event.
import { templateJob, fill } from '../lib/jobs.mjs'
import { privateRedis } from '../lib/redis.mjs'
import { fmt, table } from '../lib/stats.mjs'
import { runWorker } from './worker.mjs'

const QUEUE = 'bench-worker'

/** Runs the burst; returns the section's result. */
export async function bursts (config, log) {
  const { events, objects, concurrency, hydrateMs } = config.bursts
  const redis = await privateRedis()
  try {
    const template = await templateJob(redis.url, QUEUE)
    await fill(redis.url, QUEUE, template, events, { objects, tag: 'burst' })
    const started = performance.now()
    const run = await runWorker(redis.url, 'package', concurrency, events, { BENCH_MODE: 'bursts', BENCH_HYDRATE_MS: String(hydrateMs) })
    const seconds = (performance.now() - started) / 1000
    const callsPerObject = run.hydrateCalls / objects
    log(`bursts: ${run.hydrateCalls} hydrate calls for ${events} events over ${objects} objects (coalescing ${run.coalescing ? 'on' : 'not in this build'})`)
    return {
      table: table(['events', 'objects', 'worker', 'hydrate calls', 'one per event', 'calls per object', 'drained in'], [[
        fmt(events), fmt(objects), `createWebhookWorker, concurrency ${concurrency}, ${run.coalescing ? 'objectKey set (coalescing)' : 'no objectKey option in this build (no coalescing)'}`,
        fmt(run.hydrateCalls), fmt(events), fmt(callsPerObject, 2), `${fmt(seconds, 1)} s`
      ]]),
      note: `hydrate is a fake API call of ${hydrateMs} ms. ${run.coalescing
        ? 'Coalescing shares one in-flight call per object among events received before it started.'
        : 'This build of the worker has no per-object coalescing yet, so every event costs one call.'}`,
      events,
      objects,
      hydrateCalls: run.hydrateCalls,
      callsPerObject,
      coalescing: run.coalescing,
      seconds
    }
  } finally {
    await redis.stop()
  }
}
