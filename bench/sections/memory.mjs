// @ts-check
// Section 5, memory: each receiver's resident memory under a 16 KB load (fresh
// processes, peak as the kernel counts it), and what the worker leaves in
// Redis per event: bytes per done marker and per retained completed job.
import { Queue } from 'bullmq'
import { templateJob, fill } from '../lib/jobs.mjs'
import { memoryOf } from '../lib/proc.mjs'
import { privateRedis, reset, scanKeys, usedMemory } from '../lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from '../lib/servers.mjs'
import { fmt, mb, median, table } from '../lib/stats.mjs'
import { runWorker } from './worker.mjs'

const QUEUE = 'bench-worker'

/** @typedef {import('../lib/config.mjs').Config} Config */
/** @typedef {import('../lib/config.mjs').Log} Log */

/**
 * Runs the memory measurements; returns the section's result.
 * @param {import('../lib/config.mjs').Config} config
 * @param {import('../lib/config.mjs').Log} log
 */
export async function memory (config, log) {
  const rss = await ingestRss(config, log)
  const redisBytes = await redisPerEvent(config, log)
  const rows = INGEST_SERVERS.map((s) => [`${s.label}: RSS idle → peak under load`, `${mb(rss[s.key].idle)} → ${mb(rss[s.key].peak)}`])
  rows.push(
    ['Redis per done marker (used_memory freed by deleting them)', `${fmt(redisBytes.bytesPerMarker)} B`],
    ['Redis per done marker (MEMORY USAGE, median key)', `${fmt(redisBytes.markerMemoryUsage)} B`],
    ['Redis per retained completed 1 KB job (used_memory freed by removing them)', `${fmt(redisBytes.bytesPerCompletedJob)} B`],
    ['Redis per retained completed 1 KB job (MEMORY USAGE, median job hash)', `${fmt(redisBytes.jobMemoryUsage)} B`]
  )
  return {
    table: table(['measure', 'value'], rows),
    note: `RSS: each receiver in a fresh process under ${config.connections} connections of ${config.memory.bodySize / 1024} KB events for ${config.duration} s. ` +
      `Redis: ${fmt(redisBytes.events)} 1 KB events through createWebhookWorker (default 14-day dedupe TTL), ${fmt(redisBytes.markers)} done markers (\`wh:done:<job id>\`), ` +
      `${fmt(redisBytes.otherWorkerKeys)} other worker keys; a marker's bytes are what deleting all markers freed, divided by their number (key, value, expiry entry and allocator overhead included).`,
    rss,
    pluginPeakRss: rss.plugin.peak,
    ...redisBytes
  }
}

/**
 * @param {Config} config
 * @param {Log} log
 */
async function ingestRss (config, log) {
  const redis = await privateRedis()
  const load = await startLoad()
  /** @type {Record<string, { idle: number, peak: number, after: number }>} */
  const out = {}
  try {
    for (const s of INGEST_SERVERS) {
      await reset(redis.client)
      const server = await startServer(s, redis.url)
      try {
        const idle = memoryOf(server.child.pid).rss
        await load.call('run', { port: server.port, bodySize: config.memory.bodySize, connections: config.connections, duration: config.duration })
        const { rss, peakRss } = memoryOf(server.child.pid)
        out[s.key] = { idle, peak: peakRss, after: rss }
        log(`memory ${s.label}: RSS ${mb(idle)} idle, ${mb(peakRss)} peak`)
      } finally {
        await server.child.stop()
      }
    }
  } finally {
    await load.stop()
    await redis.stop()
  }
  return out
}

/**
 * @param {Config} config
 * @param {Log} log
 */
async function redisPerEvent (config, log) {
  const events = config.memory.markers
  const redis = await privateRedis()
  try {
    const template = await templateJob(redis.url, QUEUE)
    await fill(redis.url, QUEUE, template, events, { tag: 'mem' })
    await runWorker(redis.url, 'package', 10, events)
    const c = redis.client
    // Done markers are the worker's keys under `wh:done:`, one per applied event (worker/claim.ts).
    const markers = await scanKeys(c, `bull:${QUEUE}:wh:done:*`)
    const others = (await scanKeys(c, `bull:${QUEUE}:wh:*`)).length - markers.length
    const markerSizes = await Promise.all(markers.slice(0, 200).map((k) => c.memory('USAGE', k, 'SAMPLES', '0')))
    if (markers.length !== events) throw new Error(`expected ${events} done markers after ${events} applied events, found ${markers.length}`)
    const before = await usedMemory(c)
    for (let i = 0; i < markers.length; i += 1000) await c.del(...markers.slice(i, i + 1000))
    const afterMarkers = await usedMemory(c)
    const completed = await c.zrange(`bull:${QUEUE}:completed`, 0, 199)
    const jobSizes = await Promise.all(completed.map((id) => c.memory('USAGE', `bull:${QUEUE}:${id}`, 'SAMPLES', '0')))
    const retained = await c.zcard(`bull:${QUEUE}:completed`)
    const queue = new Queue(QUEUE, { connection: { url: redis.url } })
    await queue.clean(0, retained, 'completed')
    await queue.close()
    const afterJobs = await usedMemory(c)
    const result = {
      events,
      markers: markers.length,
      otherWorkerKeys: others,
      bytesPerMarker: (before - afterMarkers) / markers.length,
      markerMemoryUsage: median(markerSizes),
      retainedJobs: retained,
      bytesPerCompletedJob: retained > 0 ? (afterMarkers - afterJobs) / retained : NaN,
      jobMemoryUsage: median(jobSizes)
    }
    log(`memory Redis: ${fmt(result.bytesPerMarker)} B per done marker, ${fmt(result.bytesPerCompletedJob)} B per retained completed job`)
    return result
  } finally {
    await redis.stop()
  }
}
