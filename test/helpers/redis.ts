import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { startRedisServer, type RedisServer, type StartRedisOptions } from '../../scripts/redis-server.mjs'

/** The shared test Redis (started by `npm test`, or the user's REDIS_URL). */
export function redisUrl (): string {
  const url = process.env.REDIS_URL
  if (url === undefined || url === '') throw new Error('REDIS_URL is not set: run the tests with `npm test`, which starts a private redis-server')
  return url
}

/** A queue name no other test uses. */
export function uniqueName (label = 'test'): string {
  return `${label}-${randomUUID()}`
}

/**
 * A client on the shared test Redis, disconnected when the test ends. Never
 * use it for FLUSHALL or CONFIG SET: the shared server may be the user's.
 */
export function testClient (t: Test, url = redisUrl()): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null })
  t.teardown(() => { client.disconnect() })
  return client
}

/** Deletes every key under `prefix:queueName` on the shared Redis. */
export async function cleanQueue (client: Redis, prefix: string, queueName: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:${queueName}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await client.del(...keys)
  } while (cursor !== '0')
}

/**
 * A private, throwaway redis-server for tests that kill, freeze, fill or
 * reconfigure Redis. Stopped when the test ends.
 */
export async function privateRedis (t: Test, opts: StartRedisOptions = {}): Promise<RedisServer> {
  const server = await startRedisServer(opts)
  t.teardown(() => server.stop())
  return server
}

export type { RedisServer }
