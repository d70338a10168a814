// How the harness's processes reach Redis: a URL for a single server, or an
// ioredis Cluster over the nodes of a local cluster, as a user would pass one.
import { Cluster } from 'ioredis'

/**
 * The `connection` option for the package (and the client for the harness's
 * own views): `config.redisUrl`, or a Cluster when `config.clusterNodes` is set.
 * Cluster clients wait out outages (`maxRetriesPerRequest: null`), as workers
 * need; the plugin and the poller duplicate them with fail-fast settings.
 */
export function chaosConnection (config) {
  if (!config.clusterNodes) return config.redisUrl
  const cluster = new Cluster(config.clusterNodes, {
    redisOptions: { maxRetriesPerRequest: null },
    // A restarted node comes back on the same address; look again soon.
    clusterRetryStrategy: (times) => Math.min(100 * times, 1000)
  })
  cluster.on('error', () => {})
  return cluster
}
