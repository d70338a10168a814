// @ts-check
// Section 4, end to end: the plugin and the worker running together at a fixed
// offered rate well under capacity; for each event, the time from the sender
// receiving its 202 to the worker's apply, and from sending to apply.
import { startChild } from '../lib/proc.mjs'
import { privateRedis } from '../lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer, WORKER_FILES } from '../lib/servers.mjs'
import { fmt, percentile, table } from '../lib/stats.mjs'

const QUEUE = 'bench-e2e'

/**
 * Runs the end-to-end latency measurement; returns the section's result.
 * @param {import('../lib/config.mjs').Config} config
 * @param {import('../lib/config.mjs').Log} log
 */
export async function e2e (config, log) {
  const { rate, concurrency } = config.e2e
  const redis = await privateRedis()
  let server, worker, load
  try {
    server = await startServer({ ...INGEST_SERVERS[0], queue: QUEUE }, redis.url)
    ;({ child: worker } = await startChild(WORKER_FILES.package, {
      label: 'package worker',
      env: { BENCH_REDIS_URL: redis.url, BENCH_QUEUE: QUEUE, BENCH_CONCURRENCY: String(concurrency), BENCH_MODE: 'e2e' }
    }))
    load = await startLoad()
    // A short unmeasured run warms both processes.
    /** @type {import('../load.mjs').PacedResult} */
    const warm = await load.call('paced', { port: server.port, bodySize: 1024, rate, duration: Math.min(2, config.warmup), connections: config.connections })
    /** @type {import('../load.mjs').PacedResult} */
    const r = await load.call('paced', { port: server.port, bodySize: 1024, rate, duration: config.duration, connections: config.connections })
    /** @type {Map<string, number>} */
    const applied = new Map(await worker.call('applied', { count: warm.acked.length + r.acked.length, timeoutMs: 60_000 }))
    const sent = new Map(r.sent)
    /** @type {number[]} */
    const ackToApply = []
    /** @type {number[]} */
    const sendToApply = []
    /** @type {number[]} */
    const sendToAck = []
    for (const [id, ackedAt] of r.acked) {
      const appliedAt = applied.get(id)
      // Every acknowledged event was sent.
      const sentAt = /** @type {number} */ (sent.get(id))
      sendToAck.push(ackedAt - sentAt)
      if (appliedAt === undefined) continue
      ackToApply.push(appliedAt - ackedAt)
      sendToApply.push(appliedAt - sentAt)
    }
    const missing = r.acked.length - ackToApply.length
    const row = (/** @type {string} */ label, /** @type {number[]} */ v) => [label, fmt(percentile(v, 50), 2), fmt(percentile(v, 99), 2)]
    log(`e2e at ${rate}/s: ack→apply p50 ${fmt(percentile(ackToApply, 50), 2)} ms, p99 ${fmt(percentile(ackToApply, 99), 2)} ms, ${missing} acknowledged but not applied`)
    return {
      table: table(['latency (ms)', 'p50', 'p99'], [
        row('202 received → applied', ackToApply),
        row('sent → applied', sendToApply),
        row('sent → 202 received', sendToAck)
      ]),
      note: `${fmt(r.acked.length)} events of 1 KB at ${rate}/s for ${config.duration} s (open loop, evenly spaced), createWebhookWorker at concurrency ${concurrency} with no-op hydrate and apply. ` +
        `Negative ack→apply values mean the worker applied before the sender read its 202. Acknowledged but never applied: ${missing}. Statuses: ${JSON.stringify(r.statuses)}.`,
      rate,
      events: r.acked.length,
      missing,
      ackToApply: { p50: percentile(ackToApply, 50), p99: percentile(ackToApply, 99) },
      sendToApply: { p50: percentile(sendToApply, 50), p99: percentile(sendToApply, 99) },
      sendToAck: { p50: percentile(sendToAck, 50), p99: percentile(sendToAck, 99) }
    }
  } finally {
    await load?.stop()
    await worker?.stop()
    await server?.child.stop()
    await redis.stop()
  }
}
