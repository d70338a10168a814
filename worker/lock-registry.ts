import { randomUUID } from 'node:crypto'
import type { RedisClient } from '../core/connection.js'
import { WebhookErrors } from '../core/errors.js'
import { queueKeyBase } from '../core/keys.js'
import { defineScript, runScript, type LuaScript } from '../core/scripts.js'

// KEYS: 1 registry hash (worker id -> "expiresAtMs|settings")
// ARGV: 1 worker id, 2 settings, 3 ttl ms
// Redis's clock decides expiry, so workers on machines with skewed clocks agree.
const REGISTER = defineScript('registerLockSettings', `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local id, value = entries[i], entries[i + 1]
  local sep = string.find(value, '|', 1, true)
  local expires = tonumber(string.sub(value, 1, sep - 1)) or 0
  local settings = string.sub(value, sep + 1)
  if expires <= now then
    redis.call('HDEL', KEYS[1], id)
  elseif id ~= ARGV[1] and settings ~= ARGV[2] then
    return {0, settings}
  end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d|%s', now + tonumber(ARGV[3]), ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1}
`)

/** Every script of this file, loaded at start. */
export const REGISTRY_SCRIPTS: LuaScript[] = [REGISTER]

/** The settings every worker of a queue must share: BullMQ's stall detection breaks when they differ. */
export interface LockSettings {
  lockDuration: number
  stalledInterval: number
  maxStalledCount: number
}

/**
 * Records this worker's lock settings in Redis with a heartbeat, and refuses
 * (`WEBHOOK_WORKER_LOCK_MISMATCH`) when a live worker of the queue registered
 * different ones. An entry lapses three heartbeats after its worker stops.
 */
export class LockRegistry {
  readonly #client: RedisClient
  readonly #key: string
  readonly #queueName: string
  readonly #settings: string
  readonly #ttlMs: number
  readonly #id = randomUUID()
  #timer: NodeJS.Timeout | undefined

  constructor (client: RedisClient, options: LockSettings & { prefix: string, queueName: string }) {
    this.#client = client
    this.#key = `${queueKeyBase(options.prefix, options.queueName)}workers`
    this.#queueName = options.queueName
    this.#settings = formatSettings(options)
    this.#ttlMs = 3 * Math.max(options.lockDuration, options.stalledInterval)
  }

  /** Registers once; throws `WEBHOOK_WORKER_LOCK_MISMATCH` on a conflict. */
  async register (): Promise<void> {
    const reply = await runScript(this.#client, REGISTER, [this.#key], [this.#id, this.#settings, this.#ttlMs]) as [number, string?]
    if (reply[0] === 1) return
    throw new WebhookErrors.WEBHOOK_WORKER_LOCK_MISMATCH(
      `A live worker of queue '${this.#queueName}' uses ${String(reply[1])}, this one ${this.#settings}. ` +
      'Every worker of a queue must share lockDuration, stalledInterval and maxStalledCount: stop the others or align the settings'
    )
  }

  /** Re-registers every third of the TTL; `onProblem` hears a conflict or a Redis error. */
  startHeartbeat (onProblem: (err: Error) => void): void {
    this.#timer = setInterval(() => {
      this.register().catch(onProblem)
    }, Math.floor(this.#ttlMs / 3))
    this.#timer.unref()
  }

  /** Stops the heartbeat and removes this worker's entry. Never throws. */
  async unregister (): Promise<void> {
    clearInterval(this.#timer)
    await this.#client.hdel(this.#key, this.#id).catch(() => {})
  }
}

function formatSettings (s: LockSettings): string {
  return `lockDuration=${s.lockDuration} stalledInterval=${s.stalledInterval} maxStalledCount=${s.maxStalledCount}`
}
