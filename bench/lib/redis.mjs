// @ts-check
// Each benchmark section gets its own private redis-server, configured as in
// production (AOF on, appendfsync everysec, noeviction), and stops it after.
import { Redis } from 'ioredis'
import { startRedisServer } from '../../scripts/redis-server.mjs'

/** @type {Set<import('../../scripts/redis-server.d.mts').RedisServer>} */
const running = new Set()

// An interrupted run (Ctrl-C, a CI timeout) skips the sections' finally
// blocks: stop every private Redis still running before exiting.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.once(signal, () => {
    for (const server of running) server.signal('SIGKILL')
    process.exit(130)
  })
}

/** @typedef {Awaited<ReturnType<typeof privateRedis>>} PrivateRedis */

/** Starts a private Redis and a client for the harness's own reads and resets. */
export async function privateRedis () {
  const server = await startRedisServer({ appendonly: true })
  running.add(server)
  const client = new Redis(server.url, { maxRetriesPerRequest: null })
  return {
    server,
    client,
    url: server.url,
    pid: server.pid,
    async stop () {
      client.disconnect()
      await server.stop()
      running.delete(server)
    }
  }
}

/**
 * Empties a private Redis between trials so every trial starts from the same
 * state, and rewrites the AOF so neither the file's size nor a rewrite still
 * running falls into the next trial.
 * @param {Redis} client
 */
export async function reset (client) {
  await client.flushall()
  await waitForRewrite(client)
  await client.bgrewriteaof()
  await waitForRewrite(client)
}

/** @param {Redis} client */
async function waitForRewrite (client) {
  for (;;) {
    const info = await client.info('persistence')
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Redis's `used_memory`, in bytes.
 * @param {Redis} client
 */
export async function usedMemory (client) {
  const info = await client.info('memory')
  // INFO memory always has it.
  return Number(/** @type {RegExpExecArray} */ (/used_memory:(\d+)/.exec(info))[1])
}

/**
 * Every key matching `pattern`.
 * @param {Redis} client
 * @param {string} pattern
 */
export async function scanKeys (client, pattern) {
  /** @type {string[]} */
  const keys = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys
}
