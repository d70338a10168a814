// @ts-check
// The ingest servers under test and how to start them: each in its own
// process, so its CPU and memory are its own.
import { fileURLToPath } from 'node:url'
import { startChild } from './proc.mjs'

const here = (/** @type {string} */ path) => fileURLToPath(new URL(path, import.meta.url))

/**
 * A receiver: `queue` is where it enqueues, when it does.
 * @typedef {{ key: string, label: string, file: string, queue?: string }} ServerSpec
 */
/** @typedef {ServerSpec & { child: import('./proc.mjs').Child, port: number }} StartedServer */

/**
 * The three receivers of the ingest comparison, in table order.
 * @type {ServerSpec[]}
 */
export const INGEST_SERVERS = [
  { key: 'plugin', label: 'this plugin', file: here('../servers/plugin.mjs'), queue: 'bench-plugin' },
  { key: 'bare', label: 'bare route (a)', file: here('../baselines/bare-route.mjs') },
  { key: 'hand', label: 'hand-rolled (b)', file: here('../baselines/hand-rolled.mjs'), queue: 'bench-hand' }
]

/**
 * Receivers bench/ab.mjs can compare besides the three above.
 * @type {ServerSpec[]}
 */
export const EXTRA_SERVERS = [
  { key: 'ablation', label: 'ablation', file: here('../servers/ablation.mjs'), queue: 'bench-ablation' }
]

/**
 * Starts an ingest server on a private Redis; resolves with the child and its port.
 * @param {ServerSpec} server
 * @param {string} redisUrl
 * @param {{ execArgv?: string[], variant?: string }} [options]
 * @returns {Promise<StartedServer>}
 */
export async function startServer (server, redisUrl, { execArgv = [], variant = '' } = {}) {
  const { child, info } = await startChild(server.file, {
    label: server.label,
    execArgv,
    env: { BENCH_REDIS_URL: redisUrl, BENCH_QUEUE: server.queue ?? 'unused', BENCH_VARIANT: variant }
  })
  return { ...server, child, port: info.port }
}

/** Starts the load generator process. */
export async function startLoad () {
  const { child } = await startChild(here('../load.mjs'), { label: 'load generator' })
  return child
}

/**
 * Path of a worker process script.
 * @type {Record<string, string>}
 */
export const WORKER_FILES = {
  package: here('../servers/worker.mjs'),
  bare: here('../baselines/bare-worker.mjs')
}
