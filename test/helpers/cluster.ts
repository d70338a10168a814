import { spawnSync } from 'node:child_process'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { privateRedis, type RedisServer } from './redis.js'
import { waitFor } from './wait.js'

/**
 * A private three-master Redis Cluster (no replicas), stopped when the test
 * ends. Resolves once every node reports `cluster_state:ok`.
 */
export async function privateCluster (t: Test): Promise<RedisServer[]> {
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-require-full-coverage', 'no']
  const nodes = [await privateRedis(t, { args }), await privateRedis(t, { args }), await privateRedis(t, { args })]
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr}`)
  await waitFor(async () => await clusterOk(nodes), 20_000, 'cluster_state:ok on every node')
  return nodes
}

/** True when every node answers `cluster_state:ok`. */
export async function clusterOk (nodes: Array<{ url: string }>): Promise<boolean> {
  const states = await Promise.all(nodes.map(async (n) => {
    const c = new Redis(n.url, { maxRetriesPerRequest: 1, retryStrategy: () => null })
    c.on('error', () => {})
    try {
      return /cluster_state:ok/.test(await c.call('CLUSTER', 'INFO') as string)
    } catch {
      return false
    } finally {
      c.disconnect()
    }
  }))
  return states.every(Boolean)
}
