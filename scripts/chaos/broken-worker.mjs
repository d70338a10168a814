// @ts-check
// The negative control: the common hand-rolled recipe (dedupe marker first),
// kept in the harness and nowhere else. It checks a dedupe key, sets it, THEN hydrates and
// applies. When apply fails (or the process dies) after the marker is set,
// every retry sees the marker, skips, and completes: the event is lost. The
// harness must catch that and report FAIL.
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'

const DEDUPE_TTL_SEC = 14 * 86400

/**
 * @param {import('./types.d.mts').WorkerConfig & { hydrate: import('./types.d.mts').ChaosHydrate, apply: import('./types.d.mts').ChaosApply, logger: unknown }} o
 */
export async function startBrokenWorker (o) {
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null })
  const markerBase = `${o.prefix}:${o.queueName}:chaos-broken:done:`

  /** @param {import('bullmq').Job<import('./types.d.mts').ChaosEvent>} job */
  async function processor (job) {
    const event = job.data
    const marker = markerBase + event.id
    // The recipe's dedupe: exists, then set, before any work is done.
    if (await redis.exists(marker)) return 'duplicate'
    await redis.set(marker, '1', 'EX', DEDUPE_TTL_SEC)
    const state = await o.hydrate(event)
    // A job being processed has its id.
    await o.apply({ ...event, payload: state }, /** @type {string} */ (job.id), { attempt: job.attemptsMade + 1, token: job.token, origin: event.origin })
    return 'applied'
  }

  const worker = new Worker(o.queueName, processor, {
    connection: new Redis(o.redisUrl, { maxRetriesPerRequest: null }),
    prefix: o.prefix,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    // The package's producers name the 'webhook' backoff type; any fixed delay will do here.
    settings: { backoffStrategy: () => 500 }
  })

  return {
    worker,
    async close () {
      await worker.close()
      await redis.quit().catch(() => {})
    }
  }
}
