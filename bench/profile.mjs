#!/usr/bin/env node
// @ts-check
// Profiles one process of the benchmark under load with `node --cpu-prof`: an
// ingest server under the ingest benchmark's load (from a separate process),
// or a worker draining a filled queue. Prints where the busy time went; the
// profile stays on disk for a flame graph (Chrome DevTools, or
// https://www.speedscope.app).
//
//   node bench/profile.mjs [--target plugin|hand|bare|ablation] [--variant V] [--size BYTES] [--duration S]
//   node bench/profile.mjs --target worker|bare-worker [--jobs N] [--concurrency C]
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { analyse } from './lib/cpuprofile.mjs'
import { fill, templateJob } from './lib/jobs.mjs'
import { startChild } from './lib/proc.mjs'
import { privateRedis } from './lib/redis.mjs'
import { EXTRA_SERVERS, INGEST_SERVERS, startLoad, startServer, WORKER_FILES } from './lib/servers.mjs'
import { fmt, table } from './lib/stats.mjs'

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'plugin' },
    variant: { type: 'string', default: '' },
    size: { type: 'string', default: '1024' },
    duration: { type: 'string', default: '15' },
    jobs: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' }
  }
})
/** @type {Record<string, string>} */
const WORKERS = { worker: 'package', 'bare-worker': 'bare' }
const server = [...INGEST_SERVERS, ...EXTRA_SERVERS].find((s) => s.key === values.target)
if (server === undefined && WORKERS[values.target] === undefined) {
  throw new Error(`--target takes ${[...INGEST_SERVERS.map((s) => s.key), ...Object.keys(WORKERS)].join(', ')}`)
}
const bodySize = Number(values.size)
const duration = Number(values.duration)
const top = Number(values.top)

const dir = join(fileURLToPath(new URL('results/profiles', import.meta.url)), `${values.target}-${Date.now()}`)
mkdirSync(dir, { recursive: true })
const execArgv = ['--cpu-prof', '--cpu-prof-dir', dir]

const redis = await privateRedis()
/** @type {{ fromUs: number, toUs: number }} */
let window
/** @type {string | undefined} set by the profiling function */
let title
try {
  window = server === undefined ? await profileWorker() : await profileServer(server)
} finally {
  await redis.stop()
}

/** @param {import('./lib/servers.mjs').ServerSpec} server */
async function profileServer (server) {
  const load = await startLoad()
  const s = await startServer(server, redis.url, { execArgv, variant: values.variant })
  try {
    // Warm the JIT first; only the measured run's samples are analysed.
    await load.call('run', { port: s.port, bodySize, connections: 50, duration: 3 })
    const fromUs = await s.child.call('clock')
    const r = await load.call('run', { port: s.port, bodySize, connections: 50, duration })
    const toUs = await s.child.call('clock')
    title = `${server.label}${values.variant ? ` (${values.variant})` : ''}, ${bodySize} B bodies, ${duration} s under load: ${fmt(r.rps)} req/s under the profiler`
    return { fromUs, toUs }
  } finally {
    await s.child.stop()
    await load.stop()
  }
}

async function profileWorker () {
  const queue = 'bench-worker'
  const jobs = Number(values.jobs)
  await fill(redis.url, queue, await templateJob(redis.url, queue), jobs, { tag: 'profile' })
  const { child } = await startChild(WORKER_FILES[WORKERS[values.target]], {
    label: values.target,
    execArgv,
    env: { BENCH_REDIS_URL: redis.url, BENCH_QUEUE: queue, BENCH_CONCURRENCY: values.concurrency, BENCH_EXPECT: String(jobs), BENCH_VARIANT: values.variant }
  })
  try {
    const fromUs = await child.call('clock')
    const r = await child.call('result', { timeoutMs: 600_000 })
    const toUs = await child.call('clock')
    title = `${values.target}, ${fmt(jobs)} jobs at concurrency ${values.concurrency}: ${fmt(r.jobsPerSecond)} jobs/s under the profiler`
    return { fromUs, toUs }
  } finally {
    await child.stop()
  }
}

// node --cpu-prof wrote one when the profiled process exited.
const file = join(dir, /** @type {string} */ (readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))))
const a = analyse(file, window)
const pct = (/** @type {number} */ x) => `${(x * 100).toFixed(1)}%`
console.log(`## CPU profile: ${title}\n`)
console.log(`Busy time ${fmt(a.busyMs)} ms. Profile: ${file}\n`)
console.log('### By package (self time)\n')
console.log(table(['package', 'ms', 'share'], a.categories.map((c) => [c.key, fmt(c.ms), pct(c.share)])))
console.log(`\n### Top ${top} functions by self time\n`)
console.log(table(['function', 'ms', 'share'], a.self.slice(0, top).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
const ours = (/** @type {Array<{ key: string, ms: number, share: number }>} */ list) => list.filter((f) => /\.ts:\d+\)$/.test(f.key)).slice(0, top)
console.log('\n### This package: self time\n')
console.log(table(['function', 'ms', 'share'], ours(a.self).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
console.log('\n### This package: inclusive time (the function and everything it called)\n')
console.log(table(['function', 'ms', 'share'], ours(a.inclusive).map((f) => [f.key, fmt(f.ms), pct(f.share)])))
