// @ts-check
// A local Redis Cluster of three masters and no replicas, each node a private
// redis-server with AOF in its own directory, for the cluster scenario. It
// answers like startRedis(): kill/start/signal act on the node that owns the
// hash slot of the harness's prefix (the node every key of the queue is on).
import { spawnSync } from 'node:child_process'
import { Redis } from 'ioredis'
import { startRedis } from './processes.mjs'
import { sleep } from './sender.mjs'

/** @typedef {Awaited<ReturnType<typeof startRedis>>} Node */

/**
 * Starts three nodes with `--cluster-enabled yes`, joins them with
 * `redis-cli --cluster create`, waits until every node reports
 * `cluster_state:ok`, and finds the owner of `hashTag`'s slot.
 * @param {{ appendonly?: boolean, hashTag: string, nodeTimeoutMs?: number }} opts
 */
export async function startCluster ({ appendonly = true, hashTag, nodeTimeoutMs = 5000 }) {
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs)]
  /** @type {Node[]} */
  const nodes = []
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis({ appendonly, args }))
    const addresses = nodes.map((n) => `127.0.0.1:${n.server.port}`)
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30000 })
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status ?? created.signal}): ${(created.stderr || created.stdout).trim()}`)
    await waitForClusterOk(nodes, 20000)
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw err
  }
  const owner = await slotOwner(nodes, hashTag)

  return {
    nodes,
    owner,
    /** The addresses, as ioredis' Cluster takes them. */
    clusterNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.server.port })),
    get url () { return owner.url },
    get pid () { return owner.pid },
    /** SIGKILLs the node that holds the queue's slot. */
    async kill () { await owner.kill() },
    /** Starts it again (same port, directory, nodes.conf and AOF) and waits until the cluster is whole. */
    async start () {
      await owner.start()
      await waitForClusterOk(nodes, 20000)
    },
    /** @param {NodeJS.Signals} sig */
    signal (sig) { owner.signal(sig) },
    async stop () { await Promise.all(nodes.map((n) => n.stop())) }
  }
}

/**
 * The node whose slots include the key slot of `{hashTag}`.
 * @param {Node[]} nodes
 * @param {string} hashTag
 * @returns {Promise<Node>}
 */
async function slotOwner (nodes, hashTag) {
  const probe = new Redis(nodes[0].url, { maxRetriesPerRequest: 1 })
  try {
    const slot = /** @type {number} */ (await probe.call('CLUSTER', 'KEYSLOT', `{${hashTag}}`))
    // CLUSTER SLOTS: [from, to, [host, port, id], ...replicas]
    const ranges = /** @type {Array<[number, number, [string, number, string]]>} */ (await probe.call('CLUSTER', 'SLOTS'))
    const range = ranges.find(([from, to]) => slot >= from && slot <= to)
    // Every slot is assigned once the cluster is ok.
    const port = /** @type {[number, number, [string, number, string]]} */ (range)[2][1]
    return /** @type {Node} */ (nodes.find((n) => n.server.port === port))
  } finally {
    probe.disconnect()
  }
}

/**
 * @param {Node[]} nodes
 * @param {number} timeoutMs
 */
async function waitForClusterOk (nodes, timeoutMs) {
  const until = Date.now() + timeoutMs
  for (;;) {
    const states = await Promise.all(nodes.map((n) => clusterState(n.url)))
    if (states.every((s) => s === 'ok')) return
    if (Date.now() > until) throw new Error(`the cluster did not reach cluster_state:ok within ${timeoutMs} ms (${states.join(', ')})`)
    await sleep(200)
  }
}

/** @param {string} url */
async function clusterState (url) {
  const c = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 1000, retryStrategy: () => null })
  c.on('error', () => {})
  try {
    await c.connect()
    const info = /** @type {string} */ (await c.call('CLUSTER', 'INFO'))
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown'
  } catch {
    return 'down'
  } finally {
    c.disconnect()
  }
}
