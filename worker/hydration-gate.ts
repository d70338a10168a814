import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../core/connection.js'
import type { RateLimitOptions } from './options.js'
import { Postponed } from './postponed.js'
import type { Reporter } from './reporter.js'
import { defineScript, runScript, type LuaScript } from '../core/scripts.js'
import { hydrationKeys, type HydrationKeys } from '../core/keys.js'

export { hydrationKeys, type HydrationKeys }

// KEYS: 1 bucket, 2 pause; ARGV: 1 max, 2 duration ms, 3 a unique member.
// A token bucket whose every token comes back `duration` ms after it was taken:
// a sorted set of the times tokens were taken, so no window of `duration` ever
// holds more than `max` calls. Time is Redis's, the one clock all workers share.
// Replies {'ok'}, {'paused', ms} or {'wait', ms until the oldest token returns}.
export const TAKE = defineScript('hydrate-take', `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {'paused', paused} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], duration)
  return {'ok'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {'wait', math.max(1, tonumber(oldest[2]) + duration - now)}
`)

// KEYS: 1 pause; ARGV: 1 ms. Extends the pause, never shortens it.
export const PAUSE = defineScript('hydrate-pause', `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
`)

/** The hydration scripts, loaded at start. */
export const HYDRATION_SCRIPTS: LuaScript[] = [TAKE, PAUSE]

// A wait up to this long (and at most half the hydrate timeout, which the wait counts against)
// is slept through with the job held; a longer one gives the job back, delayed.
export const LOCAL_WAIT_MS = 1000

/**
 * Decides when a `hydrate` call may start: not while the queue's hydration is
 * paused (a 429 seen by any worker), and with `rateLimit`, only with a token
 * from the shared bucket. One script call per hydrate call with a rate limit;
 * none without one (claims report the pause for free, see `ClaimStore`).
 */
export class HydrationGate {
  readonly #client: RedisClient
  readonly #keys: HydrationKeys
  readonly #limit: RateLimitOptions | undefined
  readonly #reporter: Reporter
  readonly #maxWaitMs: number
  #pausedUntil = 0

  constructor (client: RedisClient, keys: HydrationKeys, limit: RateLimitOptions | undefined, reporter: Reporter, hydrateTimeoutMs = Infinity) {
    this.#client = client
    this.#keys = keys
    this.#limit = limit
    this.#reporter = reporter
    this.#maxWaitMs = Math.min(LOCAL_WAIT_MS, Math.floor(hydrateTimeoutMs / 2))
  }

  /** Remembers a pause another worker set (as a claim saw it). */
  notePause (ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms)
  }

  /**
   * Resolves when a call may start; rejects with `Postponed` when hydration is
   * paused or the budget is spent for longer than `LOCAL_WAIT_MS` (or half the hydrate timeout).
   */
  async acquire (signal: AbortSignal): Promise<void> {
    for (;;) {
      const paused = this.#pausedUntil - Date.now()
      if (paused > 0) throw new Postponed('rate-limited', paused)
      if (this.#limit === undefined) return
      const reply = await runScript(this.#client, TAKE, [this.#keys.bucket, this.#keys.pause], [this.#limit.max, this.#limit.duration, randomUUID()]) as [string, number?]
      if (reply[0] === 'ok') return
      const ms = Number(reply[1])
      if (reply[0] === 'paused') this.notePause(ms)
      else if (ms > this.#maxWaitMs) throw new Postponed('rate-limited', ms)
      else await sleep(ms, signal)
    }
  }

  /** Pauses hydration for the whole queue (kept in Redis, extended, never shortened). */
  async pause (ms: number, cause: Error): Promise<void> {
    this.notePause(ms)
    this.#reporter.hydrationPaused(ms, cause)
    await runScript(this.#client, PAUSE, [this.#keys.pause], [ms]).catch((err: unknown) => {
      this.#reporter.problem(err, 'could not record the hydration pause in Redis; other workers learn of it from their own 429')
    })
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms)
    function done (): void {
      signal.removeEventListener('abort', aborted)
      resolve()
    }
    function aborted (): void {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', aborted, { once: true })
  })
}
