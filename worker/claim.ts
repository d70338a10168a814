import type { RedisClient } from './connection.js'
import { queueKeyBase } from './keys.js'
import { CLAIM, COMMIT, RELEASE, RENEW } from './claim-scripts.js'
import { runScript } from './scripts.js'

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
    const replay = keys.replayMarker !== undefined && keys.replayClaim !== undefined
    const scriptKeys = [`${this.#base}fence`, keys.done, keys.claim, this.#jobPrefix + jobId, keys.replayMarker ?? keys.done, keys.replayClaim ?? keys.claim]
    const args = [this.#leaseMs, idempotencyKey, sentAt, replay ? '1' : '0']
    const reply = await runScript(this.#client, CLAIM, scriptKeys, args) as [string, (string | number)?, string?]
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
    const replay = keys.replayMarker !== undefined && keys.replayClaim !== undefined
    const scriptKeys = [keys.claim, keys.done, keys.replayClaim ?? keys.claim, keys.replayMarker ?? keys.done]
    const args = [claim.token, ttlMs, idempotencyKey, Date.now(), replay ? '1' : '0']
    const reply = await runScript(this.#client, COMMIT, scriptKeys, args)
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
