// @ts-check
// Section 1, ingest: the plugin against the bare route (the ceiling) and the
// hand-rolled receiver, per body size, in interleaved trials on one private Redis.
import { cpuSeconds, memoryOf } from '../lib/proc.mjs'
import { privateRedis, reset } from '../lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from '../lib/servers.mjs'
import { fmt, median, ratio, table, times } from '../lib/stats.mjs'

/** @typedef {import('../lib/config.mjs').Config} Config */
/** @typedef {import('../lib/redis.mjs').PrivateRedis} PrivateRedis */
/** @typedef {import('../lib/proc.mjs').Child} Child */
/** @typedef {import('../lib/servers.mjs').StartedServer} StartedServer */
/** @typedef {import('../load.mjs').RunResult & { cpuUsPerRequest: number, redisCpuUsPerRequest: number, enqueued: number | undefined }} Trial */
/** @typedef {Awaited<ReturnType<typeof compareAtSize>>} SizeResult */

/**
 * Runs the ingest comparison; returns the section's result.
 * @param {import('../lib/config.mjs').Config} config
 * @param {import('../lib/config.mjs').Log} log
 */
export async function ingest (config, log) {
  const redis = await privateRedis()
  /** @type {StartedServer[]} */
  const servers = []
  let load
  try {
    for (const s of INGEST_SERVERS) servers.push(await startServer(s, redis.url))
    load = await startLoad()
    const bySize = []
    for (const bodySize of config.bodySizes) {
      bySize.push(await compareAtSize(config, log, redis, load, servers, bodySize))
    }
    const peakRss = Object.fromEntries(servers.map((s) => [s.key, memoryOf(s.child.pid).peakRss]))
    return summarize(bySize, peakRss)
  } finally {
    await load?.stop()
    for (const s of servers) await s.child.stop()
    await redis.stop()
  }
}

/**
 * @param {Config} config
 * @param {import('../lib/config.mjs').Log} log
 * @param {PrivateRedis} redis
 * @param {Child} load the load generator
 * @param {StartedServer[]} servers
 * @param {number} bodySize
 */
async function compareAtSize (config, log, redis, load, servers, bodySize) {
  /** @type {Record<string, Trial[]>} */
  const trials = Object.fromEntries(servers.map((s) => [s.key, []]))
  for (const s of servers) {
    await reset(redis.client)
    await load.call('run', { port: s.port, bodySize, connections: config.connections, duration: config.warmup })
  }
  for (let round = 0; round < config.rounds; round++) {
    // Rotate the order every round so no server always runs first or last.
    const order = servers.map((_, i) => servers[(i + round) % servers.length])
    for (const s of order) {
      const trial = await runTrial(config, redis, load, s, bodySize)
      trials[s.key].push(trial)
      log(`ingest ${bodySize} B ${s.label}: ${fmt(trial.rps)} req/s, p99 ${trial.p99} ms, ${fmt(trial.cpuUsPerRequest)} µs CPU/req` +
        (trial.enqueued === undefined ? '' : `, ${trial.enqueued} enqueued for ${trial.ok} acknowledged`))
    }
  }
  const medians = Object.fromEntries(Object.entries(trials).map(([key, list]) => [key, {
    rps: median(list.map((t) => t.rps)),
    p50: median(list.map((t) => t.p50)),
    p99: median(list.map((t) => t.p99)),
    cpuUsPerRequest: median(list.map((t) => t.cpuUsPerRequest)),
    redisCpuUsPerRequest: median(list.map((t) => t.redisCpuUsPerRequest)),
    errors: list.reduce((n, t) => n + t.non2xx + t.errors + t.timeouts, 0)
  }]))
  // Ratios of trials run next to each other (same round) share the machine's
  // background load; their median is steadier than a ratio of medians.
  const paired = (/** @type {string} */ a, /** @type {string} */ b, /** @type {'rps' | 'p99' | 'cpuUsPerRequest'} */ field) => median(trials[a].map((t, i) => ratio(t[field], trials[b][i][field])))
  const pairedRatios = {
    rpsVsHand: paired('plugin', 'hand', 'rps'),
    rpsVsBare: paired('plugin', 'bare', 'rps'),
    handVsBare: paired('hand', 'bare', 'rps'),
    p99VsBare: paired('plugin', 'bare', 'p99'),
    cpuVsHand: paired('plugin', 'hand', 'cpuUsPerRequest'),
    cpuVsBare: paired('plugin', 'bare', 'cpuUsPerRequest')
  }
  return { bodySize, trials, medians, pairedRatios }
}

/**
 * @param {Config} config
 * @param {PrivateRedis} redis
 * @param {Child} load the load generator
 * @param {StartedServer} server
 * @param {number} bodySize
 * @returns {Promise<Trial>}
 */
async function runTrial (config, redis, load, server, bodySize) {
  await reset(redis.client)
  const before = { server: cpuSeconds(server.child.pid), redis: cpuSeconds(redis.pid) }
  /** @type {import('../load.mjs').RunResult} */
  const r = await load.call('run', { port: server.port, bodySize, connections: config.connections, duration: config.duration })
  const serverCpu = cpuSeconds(server.child.pid) - before.server
  const redisCpu = cpuSeconds(redis.pid) - before.redis
  const answered = r.requests
  // Every acknowledged event must be in Redis: a receiver that answered 202
  // for more jobs than it enqueued would be measured doing less than it claims.
  const enqueued = server.queue === undefined ? undefined : await redis.client.llen(`bull:${server.queue}:wait`)
  if (enqueued !== undefined && enqueued < r.ok) throw new Error(`${server.label} acknowledged ${r.ok} events but Redis holds ${enqueued}`)
  return {
    ...r,
    cpuUsPerRequest: answered > 0 ? (serverCpu / answered) * 1e6 : NaN,
    redisCpuUsPerRequest: answered > 0 ? (redisCpu / answered) * 1e6 : NaN,
    enqueued
  }
}

/**
 * @param {SizeResult[]} bySize
 * @param {Record<string, number>} peakRss
 */
function summarize (bySize, peakRss) {
  /** @type {Array<Array<string | number>>} */
  const rows = []
  /** @type {Record<string, SizeResult['pairedRatios']>} */
  const ratios = {}
  for (const { bodySize, medians, pairedRatios } of bySize) {
    const kb = `${bodySize / 1024} KB`
    ratios[kb] = pairedRatios
    /** @type {Record<string, string>} */
    const vs = { plugin: '1.00×', bare: times(pairedRatios.rpsVsBare), hand: times(pairedRatios.rpsVsHand) }
    /** @type {Record<string, string>} */
    const cpuVs = { plugin: '1.00×', bare: times(pairedRatios.cpuVsBare), hand: times(pairedRatios.cpuVsHand) }
    for (const s of INGEST_SERVERS) {
      const m = medians[s.key]
      rows.push([
        kb, s.label, fmt(m.rps), fmt(m.p50, 1), fmt(m.p99, 1), fmt(m.cpuUsPerRequest), fmt(m.redisCpuUsPerRequest),
        vs[s.key], cpuVs[s.key], String(m.errors)
      ])
    }
  }
  return {
    table: table(['body', 'receiver', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'Redis CPU µs/req', 'plugin ÷ this, req/s', 'plugin ÷ this, CPU/req', 'errors'], rows),
    note: 'Medians of the interleaved trials; the ratios are medians of per-round ratios (trials run back to back). ' +
      'Errors: non-2xx answers, socket errors and timeouts. After every trial the jobs in Redis are counted; a 202 without its job stops the run.',
    ratios,
    peakRss,
    bySize
  }
}
