/**
 * What the Redis-facing commands share: `REDIS_URL`, `--redis`, `--queue`,
 * `--prefix`, `--timeout-ms`, and a connection that fails fast instead of
 * waiting for a Redis that is not there.
 */
import { Redis } from 'ioredis'
import { redactUrl } from '../core/connection.js'
import { deadline } from '../core/deadline.js'
import { checkRedisName } from '../core/validate.js'
import type { CliIo } from './command.js'

const S = 'string' as const

/** The `parseArgs` options every Redis command accepts. */
export const REDIS_OPTIONS = {
  redis: { type: S },
  queue: { type: S, default: 'integration-events' },
  prefix: { type: S, default: 'bull' },
  'timeout-ms': { type: S, default: '5000' }
}

/** Their lines for a usage text. */
export const REDIS_USAGE = `Redis:
  --redis <url>          Redis to use (default: REDIS_URL, else redis://127.0.0.1:6379)
  --queue <name>         the event queue (default integration-events)
  --prefix <prefix>      BullMQ's key prefix (default bull)
  --timeout-ms <ms>      give up on Redis after this long (default 5000)`

/** A user error: printed as it is, exit code 2. */
export class UsageError extends Error {}

/** Where to connect and what to read, after checks. */
export interface RedisTarget {
  url: string
  queueName: string
  prefix: string
  timeoutMs: number
}

/** Reads the shared options; throws a {@link UsageError} for a bad one. */
export function redisTarget (values: { redis?: string, queue: string, prefix: string, 'timeout-ms': string }, io: CliIo): RedisTarget {
  const url = values.redis ?? io.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (!/^rediss?:\/\//i.test(url)) throw new UsageError(`the Redis URL must start with redis:// or rediss://, got '${redactUrl(url)}'`)
  const timeoutMs = Number(values['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`--timeout-ms must be a positive integer, got '${values['timeout-ms']}'`)
  for (const [name, value] of [['--queue', values.queue], ['--prefix', values.prefix]] as const) {
    if (checkRedisName(name, value) !== undefined) throw new UsageError(`${name} must be a non-empty name without ':', got '${value}'`)
  }
  return { url, queueName: values.queue, prefix: values.prefix, timeoutMs }
}

/**
 * Connects once, without retrying: an unreachable Redis is an error within
 * `timeoutMs`, never a hang. Commands time out too, and a lost connection is
 * not re-established (pending commands fail). Close it with `disconnect`.
 */
export async function connectRedis (target: RedisTarget): Promise<Redis> {
  const client = new Redis(target.url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: () => null,
    connectTimeout: target.timeoutMs,
    commandTimeout: target.timeoutMs,
    connectionName: 'webhooks:cli'
  })
  // connect() only says the connection closed; the 'error' event says why.
  let lastError: Error | undefined
  client.on('error', (err) => { lastError = err })
  try {
    // A timeout says `no answer within <timeoutMs> ms`.
    await deadline(target.timeoutMs, undefined, async () => await client.connect())
  } catch (err) {
    client.disconnect()
    throw new RedisUnreachable(target.url, lastError ?? err)
  }
  return client
}

/** Redis could not be reached: the message names the URL (password hidden) and why. */
export class RedisUnreachable extends Error {
  constructor (url: string, cause: unknown) {
    super(`cannot reach Redis at ${redactUrl(url)} (${(cause as Error).message}): is it running? Set REDIS_URL or --redis`, { cause })
  }
}

/** Closes a client, politely when it can. */
export async function disconnect (client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => {})
  client.disconnect()
}
