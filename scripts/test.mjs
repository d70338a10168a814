#!/usr/bin/env node
// @ts-check
// `npm test`: runs tap against a private redis-server (AOF on) unless REDIS_URL
// is set, and stops that server by its pid however the run ends.
import { spawn } from 'node:child_process'
import { hasRedisServer, redisInstallHint, startRedisServer } from './redis-server.mjs'

const args = process.argv.slice(2)
/** @type {import('./redis-server.d.mts').RedisServer | undefined} */
let redis
if (!process.env.REDIS_URL) {
  if (!hasRedisServer()) {
    console.error(redisInstallHint())
    process.exit(1)
  }
  redis = await startRedisServer({ appendonly: true })
  console.log(`test: private redis-server pid ${redis.pid} at ${redis.url}`)
}

const env = { ...process.env, REDIS_URL: process.env.REDIS_URL ?? redis?.url }
const tap = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...args], { stdio: ['inherit', 'pipe', 'inherit'], env })

// Pass tap's output through, and remember its closing summary so the run ends
// on one plain line: `tests: N passed, N failed`.
/** @type {{ pass: number, fail: number } | undefined} */
let summary
let tail = ''
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk).slice(-4096)
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(tail)
  if (m) summary = { pass: Number(m[2] ?? 0), fail: Number(m[3] ?? 0) }
})

let stopping = false
/** @param {number} code */
async function finish (code) {
  if (stopping) return
  stopping = true
  if (redis) await redis.stop().catch((err) => console.error('test: could not stop redis-server:', err.message))
  if (summary) console.log(`\ntests: ${summary.pass} passed, ${summary.fail} failed`)
  process.exit(code)
}
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    tap.kill(sig)
    finish(130)
  })
}
tap.on('exit', (code, signal) => finish(code ?? (signal ? 1 : 0)))
tap.on('error', (err) => {
  console.error('test: could not run tap:', err.message)
  finish(1)
})
