#!/usr/bin/env node
// @ts-check
// An interleaved A/B of two configurations, to measure what a proposed change
// buys before it is made in the package. An arm is `receiver[:variant]`:
// receivers plugin, hand, bare (bench/servers, bench/baselines) and ablation
// (bench/servers/ablation.mjs), variants as listed in those files.
//
//   node bench/ab.mjs --b plugin:autopipeline [--a plugin] [--size 1024] [--rounds 3] [--duration 10]
//   node bench/ab.mjs --a ablation:http --b ablation:fastify --b ablation:fastify,exists   (any number of --b)
//   node bench/ab.mjs --target worker --b package:autopipeline [--jobs 20000] [--concurrency 10]
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { fill, templateJob } from './lib/jobs.mjs'
import { cpuSeconds } from './lib/proc.mjs'
import { privateRedis, reset } from './lib/redis.mjs'
import { EXTRA_SERVERS, INGEST_SERVERS, startLoad, startServer } from './lib/servers.mjs'
import { fmt, median, ratio, table, times } from './lib/stats.mjs'
import { runWorker } from './sections/worker.mjs'

/**
 * One arm's trial; `p99`, `loadCpu`, `busy` and `iowait` are measured on ingest only.
 * @typedef {{ rate: number, cpu: number, redisCpu: number, p99?: number, loadCpu?: number, busy?: number, iowait?: number }} Trial
 */
/** @typedef {{ spec: string, trials: Trial[] }} Arm */

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'ingest' },
    a: { type: 'string' },
    b: { type: 'string', multiple: true },
    size: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    jobs: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '10' }
  }
})
if (!values.b) throw new Error('--b is required, e.g. --b plugin:autopipeline (repeat it for more arms)')
const rounds = Number(values.rounds)
const specs = [values.a ?? (values.target === 'worker' ? 'package' : 'plugin'), ...values.b].map((spec) => {
  const [receiver, variant = ''] = spec.split(':')
  return { spec, receiver, variant }
})

const redis = await privateRedis()
let rows
try {
  rows = values.target === 'worker' ? await abWorker() : await abIngest()
} finally {
  await redis.stop()
}
console.log(rows.caption + '\n')
console.log(table(rows.header, rows.body))

async function abIngest () {
  const bodySize = Number(values.size)
  const duration = Number(values.duration)
  const load = await startLoad()
  /** @type {Array<Arm & import('./lib/servers.mjs').StartedServer>} */
  const arms = []
  try {
    for (const [i, { spec, receiver, variant }] of specs.entries()) {
      const server = [...INGEST_SERVERS, ...EXTRA_SERVERS].find((s) => s.key === receiver)
      if (server === undefined) throw new Error(`unknown receiver ${receiver}`)
      const queue = server.queue === undefined ? undefined : `bench-${i}`
      arms.push({ ...await startServer({ ...server, queue }, redis.url, { variant }), spec, trials: [] })
    }
    for (const arm of arms) await load.call('run', { port: arm.port, bodySize, connections: 50, duration: 3 })
    for (let round = 0; round < rounds; round++) {
      for (const arm of rotate(arms, round)) {
        await reset(redis.client)
        const cpu0 = cpuSeconds(arm.child.pid)
        const redis0 = cpuSeconds(redis.pid)
        const load0 = cpuSeconds(load.pid)
        const machine0 = machineBusy()
        /** @type {import('./load.mjs').RunResult} */
        const r = await load.call('run', { port: arm.port, bodySize, connections: 50, duration })
        const machine1 = machineBusy()
        if (arm.queue !== undefined) {
          const enqueued = await redis.client.llen(`bull:${arm.queue}:wait`)
          if (enqueued < r.ok) throw new Error(`${arm.spec}: ${r.ok} acknowledged, ${enqueued} enqueued`)
        }
        if (r.ok !== r.requests) throw new Error(`${arm.spec}: ${r.requests - r.ok} answers were not 202: ${JSON.stringify(r.statusCodes)}`)
        arm.trials.push({
          rate: r.rps,
          p99: r.p99,
          cpu: ((cpuSeconds(arm.child.pid) - cpu0) / r.requests) * 1e6,
          redisCpu: ((cpuSeconds(redis.pid) - redis0) / r.requests) * 1e6,
          loadCpu: ((cpuSeconds(load.pid) - load0) / r.requests) * 1e6,
          busy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total),
          iowait: (machine1.iowait - machine0.iowait) / (machine1.total - machine0.total)
        })
        console.error(`ab: ${arm.spec}: ${fmt(r.rps)} req/s`)
      }
    }
  } finally {
    for (const arm of arms) await arm.child.stop()
    await load.stop()
  }
  const m = arms.map(medians)
  return {
    caption: `${bodySize} B bodies, ${rounds} rounds of ${duration} s; medians, ratios as medians of per-round ratios to A:`,
    header: ['arm', 'req/s', 'p99 ms', 'server CPU µs/req', 'Redis CPU µs/req', 'load CPU µs/req', 'machine busy', 'iowait', 'req/s ÷ A', 'CPU/req ÷ A'],
    body: m.map((x, i) => [label(i, x.spec), fmt(x.rate), fmt(x.p99, 1), fmt(x.cpu), fmt(x.redisCpu), fmt(x.loadCpu), `${fmt(x.busy * 100)}%`, `${fmt(x.iowait * 100, 1)}%`,
      times(paired(arms, i, 'rate')), times(paired(arms, i, 'cpu'))])
  }
}

async function abWorker () {
  const queue = 'bench-worker'
  const jobs = Number(values.jobs)
  const template = await templateJob(redis.url, queue)
  const arms = specs.map((s) => ({ ...s, trials: /** @type {Trial[]} */ ([]) }))
  for (let round = 0; round < rounds; round++) {
    for (const arm of rotate(arms, round)) {
      await reset(redis.client)
      await fill(redis.url, queue, template, jobs, { tag: `ab${round}` })
      const redis0 = cpuSeconds(redis.pid)
      const r = await runWorker(redis.url, arm.receiver, Number(values.concurrency), jobs, { BENCH_VARIANT: arm.variant })
      arm.trials.push({ rate: r.jobsPerSecond, cpu: r.cpuUsPerJob, redisCpu: ((cpuSeconds(redis.pid) - redis0) / jobs) * 1e6 })
      console.error(`ab: ${arm.spec}: ${fmt(r.jobsPerSecond)} jobs/s`)
    }
  }
  const m = arms.map(medians)
  return {
    caption: `${fmt(jobs)} jobs at concurrency ${values.concurrency}, ${rounds} rounds; medians, ratios as medians of per-round ratios to A:`,
    header: ['arm', 'jobs/s', 'worker CPU µs/job', 'Redis CPU µs/job', 'jobs/s ÷ A', 'CPU/job ÷ A'],
    body: m.map((x, i) => [label(i, x.spec), fmt(x.rate), fmt(x.cpu), fmt(x.redisCpu), times(paired(arms, i, 'rate')), times(paired(arms, i, 'cpu'))])
  }
}

/**
 * Every arm runs first in some round, so none always follows the same neighbour.
 * @template T
 * @param {T[]} arms
 * @param {number} round
 */
function rotate (arms, round) {
  return arms.map((_, i) => arms[(i + round) % arms.length])
}

/**
 * @param {number} i
 * @param {string} spec
 */
function label (i, spec) {
  return `${i === 0 ? 'A' : `B${i}`}: ${spec}`
}

/** @param {Arm} arm */
function medians (arm) {
  const of = (/** @type {keyof Trial} */ name) => median(arm.trials.map((t) => t[name]))
  return { spec: arm.spec, rate: of('rate'), p99: of('p99'), cpu: of('cpu'), redisCpu: of('redisCpu'), loadCpu: of('loadCpu'), busy: of('busy'), iowait: of('iowait') }
}

// Jiffies the whole machine spent busy and in all, from /proc/stat.
function machineBusy () {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const n = fields.map(Number)
  const total = n.reduce((a, b) => a + b, 0)
  return { busy: total - n[3] - n[4], iowait: n[4], total }
}

/**
 * @param {Arm[]} arms
 * @param {number} i
 * @param {'rate' | 'cpu'} field
 */
function paired (arms, i, field) {
  return median(arms[i].trials.map((t, round) => ratio(t[field], arms[0].trials[round][field])))
}
