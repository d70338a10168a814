import type { Logger } from 'pino'
import type { RedisClient } from './connection.js'
import { deadline } from './deadline.js'
import { WebhookErrors } from './errors.js'
import { queueKeyBase } from './keys.js'

/** The Redis keys of one source's poller, all under the queue's `wh:` keys. */
export interface PollKeys {
  /** The saved cursor (unless the user keeps it in a store). */
  cursor: string
  /** The current lease: its fencing token, with a TTL. */
  lease: string
  /** The fencing-token counter. */
  fence: string
  /** When the last run reached `hasMore: false` (ms since epoch). */
  synced: string
  /** Set while a rate limit pauses polling; its value is the resume time. */
  pause: string
}

/** The keys of the poller of `source` on `queueName`. */
export function pollKeys (prefix: string, queueName: string, source: string): PollKeys {
  const base = `${queueKeyBase(prefix, queueName)}poll:${source}:`
  return { cursor: `${base}cursor`, lease: `${base}lease`, fence: `${base}fence`, synced: `${base}synced`, pause: `${base}pause` }
}

// A new token is taken only when nobody holds the lease, so tokens grow with
// every holder and a holder that lost its lease can be told apart from the next.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token`

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** A held lease: one poll run at a time across every replica. */
export interface Lease {
  /** The fencing token: greater than that of every earlier holder. */
  readonly token: number
  /** Aborted as soon as a renewal finds the lease gone. */
  readonly signal: AbortSignal
  /** True while Redis still names this holder. */
  held: () => Promise<boolean>
  /** Stops renewing and deletes the lease if it is still ours. Never throws. */
  release: () => Promise<void>
}

/** What a lease needs: a fail-fast client, the keys, the TTL, and a bound on each command. */
export interface LeaseOptions {
  client: RedisClient
  keys: PollKeys
  leaseMs: number
  commandTimeoutMs: number
  log: Logger
}

/**
 * Takes the lease if nobody holds it, and renews it every third of `leaseMs`
 * while the run lives, so a run longer than `every` (or than `leaseMs`) keeps
 * it. Resolves `undefined` when another run holds it.
 */
export async function acquireLease (options: LeaseOptions): Promise<Lease | undefined> {
  const { client, keys, leaseMs, commandTimeoutMs, log } = options
  const token = Number(await bounded(client.eval(ACQUIRE, 2, keys.lease, keys.fence, leaseMs), commandTimeoutMs, 'acquiring the poll lease'))
  if (token === 0) return undefined
  const lost = new AbortController()
  const timer = setInterval(renew, Math.floor(leaseMs / 3))

  async function renew (): Promise<void> {
    try {
      const kept = await bounded(client.eval(RENEW, 1, keys.lease, token, leaseMs), commandTimeoutMs, 'renewing the poll lease')
      if (Number(kept) === 1 || lost.signal.aborted) return
      clearInterval(timer)
      log.warn({ token }, 'poll lease lost: this run stops and cannot save its cursor')
      lost.abort(new WebhookErrors.WEBHOOK_POLLER_LEASE_LOST(token))
    } catch (err) {
      // A failed renewal is not a loss: the fenced save refuses the cursor if the lease did expire.
      log.debug({ err, token }, 'poll lease renewal failed')
    }
  }

  async function held (): Promise<boolean> {
    return await bounded(client.get(keys.lease), commandTimeoutMs, 'reading the poll lease') === String(token)
  }

  async function release (): Promise<void> {
    clearInterval(timer)
    try {
      await bounded(client.eval(RELEASE, 1, keys.lease, token), commandTimeoutMs, 'releasing the poll lease')
    } catch (err) {
      log.warn({ err, token }, 'poll lease release failed; it expires on its own')
    }
  }

  return { token, signal: lost.signal, held, release }
}

/** Rejects when `promise` takes longer than `ms` (a frozen Redis keeps sockets open). */
export async function bounded<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  return await deadline(ms, undefined, () => promise, { error: () => new WebhookErrors.WEBHOOK_REDIS_TIMEOUT(ms, what) })
}
