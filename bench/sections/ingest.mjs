// Section 1, ingest: the plugin against the bare route (the ceiling) and the
// hand-rolled receiver, per body size, in interleaved trials on one private Redis.
import { cpuSeconds, memoryOf } from '../lib/proc.mjs'
import { privateRedis, reset } from '../lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from '../lib/servers.mjs'
import { fmt, median, ratio, table, times } from '../lib/stats.mjs'

/** Runs the ingest comparison; returns the section's result. */
export async function ingest (config, log) {
  const redis = await privateRedis()
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

async function compareAtSize (config, log, redis, load, servers, bodySize) {
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
    errors: list.reduce((n, t) => n + t.non2xx + t.errors + t.timeouts, 0),
    lostAcks: list.reduce((n, t) => n + (t.enqueued !== undefined && t.enqueued < t.ok ? t.ok - t.enqueued : 0), 0)
  }]))
  return { bodySize, trials, medians }
}

async function runTrial (config, redis, load, server, bodySize) {
  await reset(redis.client)
  const before = { server: cpuSeconds(server.child.pid), redis: cpuSeconds(redis.pid) }
  const r = await load.call('run', { port: server.port, bodySize, connections: config.connections, duration: config.duration })
  const serverCpu = cpuSeconds(server.child.pid) - before.server
  const redisCpu = cpuSeconds(redis.pid) - before.redis
  const answered = r.requests
  // Every acknowledged event must be in Redis: a receiver that answered 202
  // for more jobs than it enqueued would be measured doing less than it claims.
  const enqueued = server.queue === undefined ? undefined : await redis.client.llen(`bull:${server.queue}:wait`)
  return {
    ...r,
    cpuUsPerRequest: answered > 0 ? (serverCpu / answered) * 1e6 : NaN,
    redisCpuUsPerRequest: answered > 0 ? (redisCpu / answered) * 1e6 : NaN,
    enqueued
  }
}

function summarize (bySize, peakRss) {
  const rows = []
  const ratios = {}
  for (const { bodySize, medians } of bySize) {
    const p = medians.plugin
    const kb = `${bodySize / 1024} KB`
    ratios[kb] = {
      rpsVsHand: ratio(p.rps, medians.hand.rps),
      rpsVsBare: ratio(p.rps, medians.bare.rps),
      handVsBare: ratio(medians.hand.rps, medians.bare.rps),
      p99VsBare: ratio(p.p99, medians.bare.p99),
      cpuVsHand: ratio(p.cpuUsPerRequest, medians.hand.cpuUsPerRequest)
    }
    for (const s of INGEST_SERVERS) {
      const m = medians[s.key]
      rows.push([
        kb, s.label, fmt(m.rps), fmt(m.p50, 1), fmt(m.p99, 1), fmt(m.cpuUsPerRequest), fmt(m.redisCpuUsPerRequest),
        s.key === 'plugin' ? '1.00×' : times(ratio(p.rps, m.rps)), String(m.errors + m.lostAcks)
      ])
    }
  }
  return {
    table: table(['body', 'receiver', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'Redis CPU µs/req', 'plugin ÷ this (req/s)', 'errors'], rows),
    ratios,
    peakRss,
    bySize
  }
}
