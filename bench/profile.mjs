#!/usr/bin/env node
// Profiles one ingest server under load: `node --cpu-prof` in the server's
// process, the same load as the ingest benchmark from a separate process,
// and a summary of where the busy time went (the profile stays on disk for
// a flame graph: open it in Chrome DevTools or https://www.speedscope.app).
//
//   node bench/profile.mjs [--server plugin|hand|bare] [--size BYTES] [--duration S]
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { analyse } from './lib/cpuprofile.mjs'
import { privateRedis } from './lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from './lib/servers.mjs'
import { fmt, table } from './lib/stats.mjs'

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'plugin' },
    size: { type: 'string', default: '1024' },
    duration: { type: 'string', default: '15' },
    top: { type: 'string', default: '25' }
  }
})
const server = INGEST_SERVERS.find((s) => s.key === values.server)
if (server === undefined) throw new Error(`--server takes ${INGEST_SERVERS.map((s) => s.key).join(', ')}`)
const bodySize = Number(values.size)
const duration = Number(values.duration)
const top = Number(values.top)

const dir = join(fileURLToPath(new URL('results/profiles', import.meta.url)), `${server.key}-${bodySize}-${Date.now()}`)
mkdirSync(dir, { recursive: true })

const redis = await privateRedis()
const load = await startLoad()
let window
try {
  const s = await startServer(server, redis.url, { execArgv: ['--cpu-prof', '--cpu-prof-dir', dir] })
  try {
    // Warm the JIT first; only the measured run's samples are analysed.
    await load.call('run', { port: s.port, bodySize, connections: 50, duration: 3 })
    const fromUs = await s.child.call('clock')
    const r = await load.call('run', { port: s.port, bodySize, connections: 50, duration })
    const toUs = await s.child.call('clock')
    window = { fromUs, toUs }
    console.error(`profile: ${server.label}, ${bodySize} B: ${fmt(r.rps)} req/s under the profiler (${r.non2xx} non-2xx)`)
  } finally {
    await s.child.stop()
  }
} finally {
  await load.stop()
  await redis.stop()
}

const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')))
const a = analyse(file, window)
const pct = (x) => `${(x * 100).toFixed(1)}%`
console.log(`## CPU profile: ${server.label}, ${bodySize} B bodies, ${duration} s under load\n`)
console.log(`Busy time ${fmt(a.busyMs)} ms. Profile: ${file}\n`)
console.log('### By package (self time)\n')
console.log(table(['package', 'ms', 'share'], a.categories.map((c) => [c.key, fmt(c.ms), pct(c.share)])))
console.log(`\n### Top ${top} functions by self time\n`)
console.log(table(['function', 'ms', 'share'], a.self.slice(0, top).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
const ours = (list) => list.filter((f) => /\.ts:\d+\)$/.test(f.key)).slice(0, top)
console.log('\n### This package: self time\n')
console.log(table(['function', 'ms', 'share'], ours(a.self).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
console.log('\n### This package: inclusive time (the function and everything it called)\n')
console.log(table(['function', 'ms', 'share'], ours(a.inclusive).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
