#!/usr/bin/env node
// An A/B of the package's default configuration against a user-level variant
// (VARIANTS in bench/servers/plugin.mjs and bench/servers/worker.mjs),
// interleaved like the benchmark, to measure what a proposed change buys
// before it is made in the package.
//
//   node bench/ab.mjs --variant autopipeline [--target plugin] [--size 1024] [--rounds 3] [--duration 10]
//   node bench/ab.mjs --variant autopipeline --target worker [--jobs 20000] [--concurrency 10] [--rounds 3]
import { parseArgs } from 'node:util'
import { fill, templateJob } from './lib/jobs.mjs'
import { cpuSeconds } from './lib/proc.mjs'
import { privateRedis, reset } from './lib/redis.mjs'
import { INGEST_SERVERS, startLoad, startServer } from './lib/servers.mjs'
import { fmt, median, ratio, table, times } from './lib/stats.mjs'
import { runWorker } from './sections/worker.mjs'

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    target: { type: 'string', default: 'plugin' },
    size: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    jobs: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '10' }
  }
})
if (!values.variant) throw new Error('--variant is required')
const rounds = Number(values.rounds)
const keys = ['default', values.variant]

const redis = await privateRedis()
let rows
try {
  rows = values.target === 'worker' ? await abWorker() : await abPlugin()
} finally {
  await redis.stop()
}
console.log(rows.caption + '\n')
console.log(table(rows.header, rows.body))

async function abPlugin () {
  const bodySize = Number(values.size)
  const duration = Number(values.duration)
  const load = await startLoad()
  const arms = []
  try {
    for (const key of keys) {
      const variant = key === 'default' ? '' : key
      arms.push({ ...await startServer({ ...INGEST_SERVERS[0], queue: `bench-${key}` }, redis.url, { variant }), key, trials: [] })
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
          rate: r.rps,
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
  }
  const m = arms.map(medians)
  return {
    caption: `plugin, ${bodySize} B bodies, ${rounds} rounds of ${duration} s, medians:`,
    header: ['plugin', 'req/s', 'p99 ms', 'server CPU µs/req', 'Redis CPU µs/req', 'req/s vs default'],
    body: m.map((x) => [x.key, fmt(x.rate), fmt(x.p99, 1), fmt(x.cpu), fmt(x.redisCpu), times(ratio(x.rate, m[0].rate))])
  }
}

async function abWorker () {
  const queue = 'bench-worker'
  const jobs = Number(values.jobs)
  const template = await templateJob(redis.url, queue)
  const arms = keys.map((key) => ({ key, trials: [] }))
  for (let round = 0; round < rounds; round++) {
    for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) {
      await reset(redis.client)
      await fill(redis.url, queue, template, jobs, { tag: `ab${round}` })
      const redis0 = cpuSeconds(redis.pid)
      const r = await runWorker(redis.url, 'package', Number(values.concurrency), jobs, { BENCH_VARIANT: arm.key === 'default' ? '' : arm.key })
      arm.trials.push({ rate: r.jobsPerSecond, cpu: r.cpuUsPerJob, redisCpu: ((cpuSeconds(redis.pid) - redis0) / jobs) * 1e6 })
      console.error(`ab: ${arm.key}: ${fmt(r.jobsPerSecond)} jobs/s`)
    }
  }
  const m = arms.map(medians)
  return {
    caption: `createWebhookWorker, ${fmt(jobs)} jobs at concurrency ${values.concurrency}, ${rounds} rounds, medians:`,
    header: ['worker', 'jobs/s', 'worker CPU µs/job', 'Redis CPU µs/job', 'jobs/s vs default'],
    body: m.map((x) => [x.key, fmt(x.rate), fmt(x.cpu), fmt(x.redisCpu), times(ratio(x.rate, m[0].rate))])
  }
}

function medians (arm) {
  const of = (name) => median(arm.trials.map((t) => t[name]))
  return { key: arm.key, rate: of('rate'), p99: of('p99'), cpu: of('cpu'), redisCpu: of('redisCpu') }
}
