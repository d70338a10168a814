import { Redis, Cluster, type RedisOptions } from 'ioredis'
import { batchWrites } from './batch-writes.js'
import { deadline } from './deadline.js'
import { WebhookErrors } from './errors.js'

/**
 * How to reach Redis: a `redis://` or `rediss://` URL, ioredis options, or an
 * ioredis `Redis` or `Cluster` instance. An instance you pass stays yours: the
 * package never closes it, and duplicates it where it needs other settings.
 */
export type RedisConnection = string | RedisOptions | Redis | Cluster

/** An ioredis client, standalone or cluster. */
export type RedisClient = Redis | Cluster

/** A client with the knowledge of whether we created it (and so must close it). */
export interface ManagedClient {
  client: RedisClient
  /** True when this package created the client and closes it. */
  owned: boolean
  /** Closes the client if it is owned; leaves a borrowed one open. */
  close: () => Promise<void>
}

/** Options for {@link createProducerClient} and {@link createWorkerClient}. */
export interface ClientOptions {
  /** Called with connection errors of clients this package creates (ioredis emits them on every failed reconnect). */
  onError?: (err: Error) => void
  /** A name for the connection, sent with `CLIENT SETNAME` where supported. */
  connectionName?: string
  /**
   * Whether the commands of one event-loop turn leave in one write (default
   * true). Off for a client whose caller batches its own commands per turn.
   */
  batchWrites?: boolean
}

// Producers fail fast: with the offline queue off, a command sent while Redis is
// unreachable is rejected at once instead of waiting for a reconnect, so the
// plugin can answer 503 within its acknowledgement deadline. A timeout around
// `add` still covers a frozen Redis, where the socket stays open.
const PRODUCER_OVERRIDES: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 }

// BullMQ workers need `maxRetriesPerRequest: null`: their blocking commands wait
// out outages instead of failing after a number of reconnects.
const WORKER_OVERRIDES: RedisOptions = { maxRetriesPerRequest: null }

/** True when `value` looks like an ioredis `Redis` or `Cluster` (duck-typed: an app may hold two copies of ioredis). */
export function isRedisClient (value: unknown): value is RedisClient {
  return typeof value === 'object' && value !== null &&
    typeof (value as Redis).duplicate === 'function' &&
    typeof (value as Redis).status === 'string' &&
    typeof (value as Redis).sendCommand === 'function'
}

/** True when the client is an ioredis `Cluster`. */
export function isCluster (client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true
}

/**
 * Checks a `connection` option. Returns `undefined` when it is usable, or a
 * sentence saying what was expected and what came.
 */
export function connectionProblem (value: unknown): string | undefined {
  if (typeof value === 'string') {
    if (/^rediss?:\/\//i.test(value)) {
      try {
        // eslint-disable-next-line no-new
        new URL(value)
        return undefined
      } catch {
        return `a valid redis:// or rediss:// URL, got an unparsable URL \`${redactUrl(value)}\``
      }
    }
    return `a redis:// or rediss:// URL, got \`${redactUrl(value)}\` (string)`
  }
  if (isRedisClient(value)) return undefined
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return undefined
  return `a redis:// URL, ioredis options or an ioredis Redis/Cluster instance, got \`${String(value)}\` (${Array.isArray(value) ? 'array' : typeof value})`
}

/** A URL with its password replaced by `***`, for error messages and logs. */
export function redactUrl (url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, '$1***@')
}

/**
 * A client for adding jobs: fails fast when Redis is unreachable. A given
 * instance is duplicated with fail-fast settings; the duplicate is owned.
 */
export function createProducerClient (connection: RedisConnection, options: ClientOptions = {}): ManagedClient {
  return create(connection, PRODUCER_OVERRIDES, options, () => false)
}

/**
 * A client for BullMQ workers and the worker's own keys: waits out outages
 * (`maxRetriesPerRequest: null`). A given instance already configured that way
 * is used as it is and left open; any other is duplicated.
 */
export function createWorkerClient (connection: RedisConnection, options: ClientOptions = {}): ManagedClient {
  return create(connection, WORKER_OVERRIDES, options, (client) => optionsOf(client).maxRetriesPerRequest === null)
}

function create (
  connection: RedisConnection,
  overrides: RedisOptions,
  options: ClientOptions,
  usableAsIs: (client: RedisClient) => boolean
): ManagedClient {
  const problem = connectionProblem(connection)
  // Every public caller checked `connection` first, with its own coded option error.
  if (problem !== undefined) throw new TypeError(`Expected \`connection\` to be ${problem}`)
  const named: RedisOptions = options.connectionName === undefined ? overrides : { ...overrides, connectionName: options.connectionName }

  let client: RedisClient
  if (isRedisClient(connection)) {
    if (usableAsIs(connection)) return borrowed(connection)
    client = isCluster(connection) ? duplicateCluster(connection, named) : connection.duplicate(named)
  } else if (typeof connection === 'string') {
    client = new Redis(connection, named)
  } else {
    client = new Redis({ ...(connection as RedisOptions), ...named })
  }
  // One write per event-loop turn: a job's commands (and those of the jobs
  // handled in the same turn) share a write. A cluster keeps a socket per
  // node, so it is left as it is.
  if (!isCluster(client) && options.batchWrites !== false) batchWrites(client)
  const onError = options.onError ?? (() => {})
  client.on('error', onError)
  return { client, owned: true, close: () => closeClient(client) }
}

// A cluster takes the offline-queue setting at its own level, the rest per node.
function duplicateCluster (cluster: Cluster, overrides: RedisOptions): Cluster {
  const { enableOfflineQueue, ...perNode } = overrides
  return cluster.duplicate(undefined, {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    redisOptions: { ...cluster.options.redisOptions, ...perNode }
  })
}

function borrowed (client: RedisClient): ManagedClient {
  return { client, owned: false, close: async () => {} }
}

function optionsOf (client: RedisClient): RedisOptions {
  return isCluster(client) ? (client.options.redisOptions ?? {}) : client.options
}

/**
 * Closes a client: `QUIT` when connected (so pending replies arrive), bounded by
 * `timeoutMs`, then a hard disconnect. Never throws.
 */
export async function closeClient (client: RedisClient, timeoutMs = 2000): Promise<void> {
  if (client.status === 'end') return
  const ended = new Promise<void>((resolve) => client.once('end', resolve))
  if (client.status === 'ready') await within(client.quit().catch(() => {}), timeoutMs)
  // Between reconnect attempts there is no socket: disconnect() only cancels the
  // next attempt, and ioredis emits no 'end', so there is nothing to wait for.
  const idle = client.status === 'reconnecting'
  client.disconnect()
  if (idle || await within(ended, timeoutMs)) return
  // A frozen server never answers our FIN, so the socket would linger: destroy it.
  for (const node of isCluster(client) ? client.nodes() : [client]) node.stream?.destroy()
  await within(ended, 100)
}

/** Resolves true when `promise` settles within `ms`, false otherwise; never rejects. */
export async function within (promise: Promise<unknown>, ms: number): Promise<boolean> {
  return await deadline(ms, undefined, () => promise.then(() => true, () => true), { fallback: () => false })
}

/** Resolves when the client is ready, or rejects after `timeoutMs` (the client keeps reconnecting). */
export async function waitForReady (client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      reject(new WebhookErrors.WEBHOOK_REDIS_NOT_READY(timeoutMs, client.status))
    }, timeoutMs)
    function onReady (): void {
      clearTimeout(timer)
      resolve()
    }
    client.once('ready', onReady)
  })
}
