import { isCluster, type RedisClient } from './connection.js'

/** What {@link checkPersistence} found on one Redis node (or the only one). */
export interface PersistenceReport {
  /** True when every node checked has AOF on and `maxmemory-policy noeviction`. */
  ok: boolean
  /** False when Redis refused `INFO` (a managed service may rename or deny it). */
  verifiable: boolean
  /** `appendonly` on every node; `null` when unverifiable. */
  aof: boolean | null
  /** The eviction policy (the first non-`noeviction` one across nodes); `null` when unverifiable. */
  maxmemoryPolicy: string | null
  /** Plain sentences describing what is wrong, empty when `ok`. */
  problems: string[]
}

/**
 * Reads `INFO persistence` and `INFO memory` (on every master of a cluster) and
 * reports whether the settings the delivery contract relies on are in place:
 * `appendonly yes` (a 202 survives a Redis crash) and
 * `maxmemory-policy noeviction` (Redis never drops a queued job to make room).
 * Never throws: a Redis that refuses `INFO` is reported as unverifiable.
 */
export async function checkPersistence (client: RedisClient): Promise<PersistenceReport> {
  const nodes = isCluster(client) ? client.nodes('master') : [client]
  let infos: string[]
  try {
    infos = await Promise.all(nodes.map(async (node) => {
      const [persistence, memory] = await Promise.all([node.info('persistence'), node.info('memory')])
      return `${persistence}\n${memory}`
    }))
  } catch (err) {
    return {
      ok: false,
      verifiable: false,
      aof: null,
      maxmemoryPolicy: null,
      problems: [`Redis settings could not be verified: ${(err as Error).message}`]
    }
  }
  if (infos.length === 0) {
    return { ok: false, verifiable: false, aof: null, maxmemoryPolicy: null, problems: ['Redis settings could not be verified: no cluster master is known yet'] }
  }
  const parsed = infos.map(parseInfo)
  const aof = parsed.every((fields) => fields.get('aof_enabled') === '1')
  const policies = parsed.map((fields) => fields.get('maxmemory_policy') ?? 'unknown')
  const maxmemoryPolicy = policies.find((p) => p !== 'noeviction') ?? 'noeviction'
  const problems: string[] = []
  if (!aof) {
    problems.push('appendonly is off: a Redis crash loses acknowledged webhooks (set `appendonly yes`)')
  }
  if (maxmemoryPolicy !== 'noeviction') {
    problems.push(`maxmemory-policy is ${maxmemoryPolicy}: Redis may evict queued webhooks under memory pressure (set \`maxmemory-policy noeviction\`)`)
  }
  return { ok: problems.length === 0, verifiable: true, aof, maxmemoryPolicy, problems }
}

function parseInfo (info: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of info.split('\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && line[0] !== '#') fields.set(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  return fields
}
