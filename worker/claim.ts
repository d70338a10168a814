import type { RedisClient } from './connection.js'
import { queueKeyBase } from './keys.js'
import { defineScript, runScript, type LuaScript } from './scripts.js'

// KEYS: 1 fence counter, 2 done marker, 3 claim, 4 BullMQ job hash, [5 replay marker, 6 replay claim]
// ARGV: 1 lease ms, 2 idempotency key, 3 now ms
// A claim is a key holding a fencing token (from one INCR counter per queue)
// with a lease that the holder renews while its job runs. With a replayKey the
// claim also covers the replayKey, so two ids for one signed delivery never
// run at once. The first attempt's time is kept on the job hash (deleted with
// the job) so a dead letter can say when the event was first tried.
const CLAIM = defineScript('claim', `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'done'} end
local replay = #KEYS > 4
if replay then
  local owner = redis.call('GET', KEYS[5])
  if owner and owner ~= ARGV[2] then return {'replay'} end
end
local function heldFor (key)
  local ttl = redis.call('PTTL', key)
  if ttl == -2 then return nil end
  if ttl < 0 then return tonumber(ARGV[1]) end
  return ttl
end
local busy = heldFor(KEYS[3])
if not busy and replay then busy = heldFor(KEYS[6]) end
if busy then return {'busy', busy} end
local token = tostring(redis.call('INCR', KEYS[1]))
redis.call('SET', KEYS[3], token, 'PX', ARGV[1])
if replay then redis.call('SET', KEYS[6], token, 'PX', ARGV[1]) end
local first = ARGV[3]
if redis.call('EXISTS', KEYS[4]) == 1 then
  first = redis.call('HGET', KEYS[4], 'whfa')
  if not first then
    first = ARGV[3]
    redis.call('HSET', KEYS[4], 'whfa', first)
  end
end
return {'claimed', token, first}
`)

// KEYS: 1 claim, 2 done marker, [3 replay claim, 4 replay marker]
// ARGV: 1 token, 2 ttl ms, 3 idempotency key, 4 now ms
// Refused (0) unless the claim still holds this token: a worker that lost its
// claim to a stall never marks the event done on top of the new holder.
const COMMIT = defineScript('commit', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('DEL', KEYS[1])
if #KEYS > 2 then
  if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2])
end
return 1
`)

// KEYS: claim keys; ARGV: 1 token. Deletes only what this token still holds.
const RELEASE = defineScript('release', `
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
`)

// KEYS: claim keys of every held claim; ARGV: 1 lease ms, then one token per key.
const RENEW = defineScript('renew', `
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`)

/** Every script of this file, loaded at start. */
export const CLAIM_SCRIPTS: LuaScript[] = [CLAIM, COMMIT, RELEASE, RENEW]

/** What a claim attempt found. */
export type ClaimDecision = 'claimed' | 'done' | 'replay' | 'busy'

/** The keys of one event. */
export interface EventKeys {
  done: string
  claim: string
  replayMarker?: string
  replayClaim?: string
}

/** A claim this process holds. */
export interface HeldClaim {
  keys: EventKeys
  token: string
  /** The local time before which the lease is surely still ours. */
  until: number
  /** Set when a renewal found the claim gone or taken. */
  lost: boolean
  /** Called once when a renewal finds the claim lost. */
  onLost: () => void
}

/** The keys of an event under a queue's key base (see `queueKeyBase`). */
export function eventKeys (base: string, idempotencyKey: string, replayKey?: string): EventKeys {
  const keys: EventKeys = { done: `${base}done:${idempotencyKey}`, claim: `${base}claim:${idempotencyKey}` }
  if (replayKey !== undefined) {
    keys.replayMarker = `${base}replay:${replayKey}`
    keys.replayClaim = `${base}claim-replay:${replayKey}`
  }
  return keys
}

export type ClaimResult =
  | { decision: 'claimed', claim: HeldClaim, firstAttemptAt: number }
  | { decision: 'done' | 'replay' }
  | { decision: 'busy', heldForMs: number }

/**
 * Claims, commits and releases events in Redis, and renews the leases of the
 * claims it holds on a timer. Each operation is one script call.
 */
export class ClaimStore {
  readonly #client: RedisClient
  readonly #base: string
  readonly #jobPrefix: string
  readonly #leaseMs: number
  readonly #held = new Set<HeldClaim>()
  #timer: NodeJS.Timeout | undefined
  #renewing = false

  constructor (client: RedisClient, options: { prefix: string, queueName: string, leaseMs: number }) {
    this.#client = client
    this.#base = queueKeyBase(options.prefix, options.queueName)
    this.#jobPrefix = `${options.prefix}:${options.queueName}:`
    this.#leaseMs = options.leaseMs
  }

  /** The keys of an event, by idempotency key and replayKey. */
  keysFor (idempotencyKey: string, replayKey?: string): EventKeys {
    return eventKeys(this.#base, idempotencyKey, replayKey)
  }

  /** One round trip: done, replayed, busy, or claimed with a fresh fencing token. */
  async claim (keys: EventKeys, idempotencyKey: string, jobId: string, onLost: () => void): Promise<ClaimResult> {
    const sentAt = Date.now()
    const scriptKeys = [`${this.#base}fence`, keys.done, keys.claim, this.#jobPrefix + jobId]
    if (keys.replayMarker !== undefined && keys.replayClaim !== undefined) scriptKeys.push(keys.replayMarker, keys.replayClaim)
    const reply = await runScript(this.#client, CLAIM, scriptKeys, [this.#leaseMs, idempotencyKey, sentAt]) as [string, (string | number)?, string?]
    const decision = reply[0] as ClaimDecision
    if (decision === 'busy') return { decision, heldForMs: Number(reply[1]) }
    if (decision !== 'claimed') return { decision }
    const claim: HeldClaim = { keys, token: String(reply[1]), until: sentAt + this.#leaseMs, lost: false, onLost }
    this.#held.add(claim)
    return { decision, claim, firstAttemptAt: Number(reply[2]) }
  }

  /** True while the lease is surely ours: not reported lost and not past its local deadline, less a margin. */
  holds (claim: HeldClaim): boolean {
    return !claim.lost && Date.now() < claim.until - Math.min(250, this.#leaseMs / 10)
  }

  /** One round trip: writes the done (and replay) marker if the token still holds the claim. False when refused. */
  async commit (claim: HeldClaim, idempotencyKey: string, ttlMs: number): Promise<boolean> {
    this.#held.delete(claim)
    const { keys } = claim
    const scriptKeys = [keys.claim, keys.done]
    if (keys.replayMarker !== undefined && keys.replayClaim !== undefined) scriptKeys.push(keys.replayClaim, keys.replayMarker)
    const reply = await runScript(this.#client, COMMIT, scriptKeys, [claim.token, ttlMs, idempotencyKey, Date.now()])
    return reply === 1
  }

  /** Deletes the claim if this token still holds it, so a retry (or a duplicate) can take it at once. */
  async release (claim: HeldClaim): Promise<void> {
    this.#held.delete(claim)
    await runScript(this.#client, RELEASE, claimKeys(claim), [claim.token])
  }

  /** Stops renewing a claim without deleting it: it lapses within one lease. */
  forget (claim: HeldClaim): void {
    this.#held.delete(claim)
  }

  /** Starts renewing held leases every third of a lease, like BullMQ renews its job locks. */
  start (): void {
    this.#timer ??= setInterval(() => { this.renew().catch(() => {}) }, Math.max(10, Math.floor(this.#leaseMs / 3)))
    this.#timer.unref()
  }

  /** Stops the renewal timer. */
  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Renews every held lease in one round trip; a claim found gone or taken is marked lost. */
  async renew (): Promise<void> {
    if (this.#renewing || this.#held.size === 0) return
    this.#renewing = true
    const claims = [...this.#held]
    const keys = claims.flatMap(claimKeys)
    const tokens = claims.flatMap((c) => claimKeys(c).map(() => c.token))
    const sentAt = Date.now()
    try {
      const reply = await runScript(this.#client, RENEW, keys, [this.#leaseMs, ...tokens]) as number[]
      let i = 0
      for (const claim of claims) {
        const renewed = reply[i] === 1
        i += claimKeys(claim).length
        if (!this.#held.has(claim)) continue
        if (renewed) claim.until = sentAt + this.#leaseMs
        else markLost(claim)
      }
    } catch {
      // Redis unreachable: leases run out on their local deadline, which `holds` checks.
    } finally {
      this.#renewing = false
    }
  }
}

function claimKeys (claim: HeldClaim): string[] {
  return claim.keys.replayClaim === undefined ? [claim.keys.claim] : [claim.keys.claim, claim.keys.replayClaim]
}

function markLost (claim: HeldClaim): void {
  if (claim.lost) return
  claim.lost = true
  claim.onLost()
}
