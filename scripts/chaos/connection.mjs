// @ts-check
// How the harness's processes reach Redis: a URL for a single server, or an
// ioredis Cluster over the nodes of a local cluster, as a user would pass one.
import { Cluster } from 'ioredis'

/**
 * The `connection` option for the package (and the client for the harness's
 * own views): `config.redisUrl`, or a Cluster when `config.clusterNodes` is set.
 * Cluster clients wait out outages (`maxRetriesPerRequest: null`), as workers
 * need; the plugin and the poller duplicate them with fail-fast settings.
 * @param {{ redisUrl: string, clusterNodes?: Array<{ host: string, port: number }> }} config
 * @returns {string | Cluster}
 */
export function chaosConnection (config) {
  if (!config.clusterNodes) return config.redisUrl
  const cluster = new Cluster(config.clusterNodes, {
    redisOptions: { maxRetriesPerRequest: null },
    // ioredis gives up on a command whose node is down after maxRedirections
    // tries retryDelayOnFailover apart (16 x 100 ms by default): too soon for a
    // node restart. These ride out about 30 s, as a worker should.
    retryDelayOnFailover: 500,
    maxRedirections: 60,
    // A restarted node comes back on the same address; look again soon.
    clusterRetryStrategy: (times) => Math.min(100 * times, 1000)
  })
  cluster.on('error', () => {})
  return cluster
}
