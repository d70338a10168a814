#!/usr/bin/env node
// An A/B of the plugin's default configuration against a variant (see
// VARIANTS in bench/servers/plugin.mjs), interleaved like the benchmark, to
// measure what a proposed change buys before it is made.
//
//   node bench/ab.mjs --variant autopipeline [--size 1024] [--rounds 3] [--duration 10]
import { parseArgs } from 'node:util'
import { cpuSeconds } from './lib/proc.mjs'
import { privateRedis, reset } from './lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from './lib/servers.mjs'
import { fmt, median, ratio, table, times } from './lib/stats.mjs'

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    size: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' }
  }
})
if (!values.variant) throw new Error('--variant is required')
const bodySize = Number(values.size)
const duration = Number(values.duration)
const rounds = Number(values.rounds)
const plugin = INGEST_SERVERS[0]

const redis = await privateRedis()
const load = await startLoad()
const arms = []
try {
  for (const [key, variant] of [['default', ''], [values.variant, values.variant]]) {
    arms.push({ ...await startServer({ ...plugin, queue: `bench-${key}` }, redis.url, { variant }), key, trials: [] })
  }
  for (const arm of arms) await load.call('run', { port: arm.port, bodySize, connections: 50, duration: 3 })
  for (let round = 0; round < rounds; round++) {
    for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
      await reset(redis.client)
      const cpu0 = cpuSeconds(arm.child.pid)
      const redis0 = cpuSeconds(redis.pid)
      const r = await load.call('run', { port: arm.port, bodySize, connections: 50, duration })
      const enqueued = await redis.client.llen(`bull:${arm.queue}:wait`)
      if (enqueued < r.ok) throw new Error(`${arm.key}: ${r.ok} acknowledged, ${enqueued} enqueued`)
      arm.trials.push({
        rps: r.rps,
        p99: r.p99,
        cpu: ((cpuSeconds(arm.child.pid) - cpu0) / r.requests) * 1e6,
        redisCpu: ((cpuSeconds(redis.pid) - redis0) / r.requests) * 1e6
      })
      console.error(`ab: ${arm.key}: ${fmt(r.rps)} req/s`)
    }
  }
} finally {
  for (const arm of arms) await arm.child.stop()
  await load.stop()
  await redis.stop()
}
const m = arms.map((arm) => ({
  key: arm.key,
  rps: median(arm.trials.map((t) => t.rps)),
  p99: median(arm.trials.map((t) => t.p99)),
  cpu: median(arm.trials.map((t) => t.cpu)),
  redisCpu: median(arm.trials.map((t) => t.redisCpu))
}))
console.log(`${bodySize} B, ${rounds} rounds of ${duration} s, medians:\n`)
console.log(table(['plugin', 'req/s', 'p99 ms', 'server CPU µs/req', 'Redis CPU µs/req', 'req/s vs default'], m.map((x) => [
  x.key, fmt(x.rps), fmt(x.p99, 1), fmt(x.cpu), fmt(x.redisCpu), times(ratio(x.rps, m[0].rps))
])))
