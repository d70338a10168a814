// @ts-check
// Section 2, worker: createWebhookWorker with no-op hydrate and apply against a
// bare BullMQ Worker with a no-op processor, on the same jobs, per concurrency,
// in interleaved runs (a fresh queue and a fresh worker process each run).
import { templateJob, fill } from '../lib/jobs.mjs'
import { cpuSeconds, startChild } from '../lib/proc.mjs'
import { privateRedis, reset } from '../lib/redis.mjs'
import { WORKER_FILES } from '../lib/servers.mjs'
import { fmt, median, ratio, table, times } from '../lib/stats.mjs'

/** @typedef {import('../lib/completions.mjs').Summary} WorkerRun a worker process's answer to `result` */
/** @typedef {WorkerRun & { redisCpuUsPerJob: number }} MeasuredRun */
/** @typedef {{ jobsPerSecond: number, cpuUsPerJob: number, redisCpuUsPerJob: number, runs: MeasuredRun[] }} Medians */
/** @typedef {Record<string, Record<string, Medians>>} ByConcurrency medians per concurrency, then per worker */

const QUEUE = 'bench-worker'
const IMPLS = [
  { key: 'package', label: 'createWebhookWorker' },
  { key: 'bare', label: 'bare BullMQ Worker' }
]

/**
 * Runs the worker comparison; returns the section's result.
 * @param {import('../lib/config.mjs').Config} config
 * @param {import('../lib/config.mjs').Log} log
 */
export async function worker (config, log) {
  const redis = await privateRedis()
  try {
    const template = await templateJob(redis.url, QUEUE)
    const { jobs, concurrencies, rounds } = config.worker
    /** @type {ByConcurrency} */
    const byConcurrency = {}
    for (const concurrency of concurrencies) {
      /** @type {Record<string, MeasuredRun[]>} */
      const runs = { package: [], bare: [] }
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? IMPLS : [...IMPLS].reverse()
        for (const impl of order) {
          await reset(redis.client)
          await fill(redis.url, QUEUE, template, jobs, { tag: `c${concurrency}r${round}` })
          const redisCpu = cpuSeconds(redis.pid)
          // Measured here, below.
          const run = /** @type {MeasuredRun} */ (await runWorker(redis.url, impl.key, concurrency, jobs))
          run.redisCpuUsPerJob = ((cpuSeconds(redis.pid) - redisCpu) / jobs) * 1e6
          runs[impl.key].push(run)
          log(`worker c=${concurrency} ${impl.label}: ${fmt(run.jobsPerSecond)} jobs/s, ${fmt(run.cpuUsPerJob)} µs CPU/job, Redis ${fmt(run.redisCpuUsPerJob)} µs/job`)
        }
      }
      byConcurrency[concurrency] = Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, {
        jobsPerSecond: median(list.map((r) => r.jobsPerSecond)),
        cpuUsPerJob: median(list.map((r) => r.cpuUsPerJob)),
        redisCpuUsPerJob: median(list.map((r) => r.redisCpuUsPerJob)),
        runs: list
      }]))
    }
    return summarize(byConcurrency, jobs)
  } finally {
    await redis.stop()
  }
}

/**
 * Starts a worker process on a filled queue and waits until it completed every job.
 * @param {string} redisUrl
 * @param {string} key which worker: `package` or `bare`
 * @param {number} concurrency
 * @param {number} expected jobs in the queue
 * @param {Record<string, string>} [env] BENCH_* settings of the worker process
 * @returns {Promise<WorkerRun>}
 */
export async function runWorker (redisUrl, key, concurrency, expected, env = {}) {
  const { child } = await startChild(WORKER_FILES[key], {
    label: `${key} worker`,
    env: { BENCH_REDIS_URL: redisUrl, BENCH_QUEUE: QUEUE, BENCH_CONCURRENCY: String(concurrency), BENCH_EXPECT: String(expected), ...env }
  })
  try {
    const result = await child.call('result', { timeoutMs: 300_000 })
    if (result.completed < expected) throw new Error(`${key} worker completed ${result.completed} of ${expected} jobs in 300 s`)
    return result
  } finally {
    await child.stop()
  }
}

/**
 * @param {ByConcurrency} byConcurrency
 * @param {number} jobs
 */
function summarize (byConcurrency, jobs) {
  /** @type {Array<Array<string | number>>} */
  const rows = []
  /** @type {Record<string, number>} */
  const ratios = {}
  for (const [concurrency, m] of Object.entries(byConcurrency)) {
    // Runs of one round ran back to back: the median of their ratios is steadier than a ratio of medians.
    ratios[concurrency] = median(m.package.runs.map((r, i) => ratio(r.jobsPerSecond, m.bare.runs[i].jobsPerSecond)))
    rows.push([
      concurrency, fmt(m.package.jobsPerSecond), fmt(m.bare.jobsPerSecond), times(ratios[concurrency]),
      fmt(m.package.cpuUsPerJob), fmt(m.bare.cpuUsPerJob), fmt(m.package.redisCpuUsPerJob), fmt(m.bare.redisCpuUsPerJob)
    ])
  }
  return {
    table: table(['concurrency', 'createWebhookWorker jobs/s', 'bare BullMQ jobs/s', 'ratio', 'package CPU µs/job', 'bare CPU µs/job', 'Redis CPU µs/job (package)', 'Redis CPU µs/job (bare)'], rows),
    note: `${fmt(jobs)} jobs per run (1 KB events cloned from a job the plugin enqueued), each run in a fresh worker process on a fresh queue; ` +
      'rate and CPU between the 10th and 90th percentile of completions; Redis CPU over the whole run; medians of runs, the ratio a median of per-round ratios.',
    ratios,
    byConcurrency
  }
}
