// @ts-check
// A primary with one replica behind a proxy (redis-proxy.mjs), for the
// replicas scenario. It answers like startRedis() (url, pid, stop), and
// `failover(holdMs)` does what Sentinel and a moving endpoint do when a primary
// dies while its replica lags: the replica is frozen for `holdMs` (writes
// acknowledged meanwhile reach the primary only), the primary is SIGKILLed, the
// replica is thawed and promoted, the proxy moves to it, and a new replica
// joins the new primary.
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '../redis-server.mjs'
import { nodeChild, startRedis } from './processes.mjs'
import { sleep } from './sender.mjs'

/** @typedef {Awaited<ReturnType<typeof startRedis>>} Node */

/** @param {{ dir: string }} opts the run directory (the proxy's log goes there) */
export async function startReplicated ({ dir }) {
  let primary = await startRedis({})
  let replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.server.port)] })
  /** @type {Node[]} */
  const retired = []
  await linkUp(replica)
  const port = await freePort()
  const proxy = nodeChild('redis-proxy', 'redis-proxy.mjs', { port, targetPort: primary.server.port }, join(dir, 'redis-proxy.log'))
  await proxy.start()

  return {
    url: `redis://127.0.0.1:${port}`,
    get pid () { return primary.pid },
    get primaryUrl () { return primary.url },
    get replicaUrl () { return replica.url },
    proxy,
    /**
     * The failover; resolves with how many writes the promoted replica had not received (replication offset gap).
     * @param {number} holdMs
     */
    async failover (holdMs) {
      replica.signal('SIGSTOP')
      await sleep(holdMs)
      const gap = await offsetGap(primary, replica)
      await primary.kill()
      replica.signal('SIGCONT')
      const promoted = new Redis(replica.url, { maxRetriesPerRequest: 3 })
      try {
        await promoted.call('REPLICAOF', 'NO', 'ONE')
      } finally {
        promoted.disconnect()
      }
      retired.push(primary)
      primary = replica
      await proxy.ask('switch', { port: primary.server.port })
      replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.server.port)] })
      await linkUp(replica)
      return gap
    },
    async stop () {
      await proxy.stop()
      await Promise.all([primary.stop(), replica.stop(), ...retired.map((r) => r.stop())])
    }
  }
}

/**
 * Bytes of the replication stream the (frozen) replica had not acknowledged.
 * @param {Node} primary
 * @param {Node} replica
 */
async function offsetGap (primary, replica) {
  const c = new Redis(primary.url, { maxRetriesPerRequest: 1 })
  try {
    const info = await c.info('replication')
    const master = Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? 0)
    const acked = Number(/slave0:.*offset=(\d+)/.exec(info)?.[1] ?? 0)
    return master - acked
  } catch {
    return undefined
  } finally {
    c.disconnect()
  }
}

/** @param {Node} replica */
async function linkUp (replica) {
  const c = new Redis(replica.url, { maxRetriesPerRequest: null })
  try {
    const until = Date.now() + 20000
    while (!/master_link_status:up/.test(await c.info('replication'))) {
      if (Date.now() > until) throw new Error('the replica did not sync within 20 s')
      await sleep(100)
    }
  } finally {
    c.disconnect()
  }
}
