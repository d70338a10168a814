import type { RedisClient } from '../core/connection.js'
import { eventKeys, hydrationKeys, queueKeyBase, type EventKeys } from '../core/keys.js'
import { CLAIM, COMMIT, HOLD_OBJECT, RELEASE, RENEW } from './claim-scripts.js'
import { runScript } from '../core/scripts.js'
import type { ClaimDecision } from './reports.js'

export { eventKeys, type EventKeys }

/** A claim this process holds. */
export interface HeldClaim {
  keys: EventKeys
  token: string
  /** The local time before which the lease is surely still ours. */
  until: number
  /** Set when a renewal found the claim gone or taken. */
  lost: boolean
  /** Called once when a renewal finds the claim lost, or at its local deadline when renewals fail. */
  onLost: () => void
  /** True once this claim's token holds the object's lease too (renewed, released and committed with it). */
  objectHeld: boolean
  /** When the claim was taken, in µs on Redis's clock: hydrate calls of its attempt start after it. */
  claimedAt: number
  /** Fires at the local deadline (`until` less the safety margin), re-armed by each renewal. */
  deadline?: NodeJS.Timeout
}

export type { ClaimDecision }

export type ClaimResult =
  | { decision: 'claimed', claim: HeldClaim, firstAttemptAt: number, lastAppliedVersion: string | undefined }
  | { decision: 'done' | 'replay' }
  | { decision: 'busy', heldForMs: number }

/** What taking an object's lease found: held, with the committed version (stored form) and Redis's time (µs), or busy. */
export type HoldResult =
  | { decision: 'held', version: string | undefined, heldAt: number }
  | { decision: 'busy', heldForMs: number }

/** A version to commit with the done marker, and the stored one it replaces (`''` for none). */
export interface VersionWrite {
  value: string
  expected: string
}

/**
 * Claims, commits and releases events in Redis, and renews the leases of the
 * claims it holds on a timer. Each operation is one script call.
 */
export class ClaimStore {
  readonly #client: RedisClient
  readonly #base: string
  readonly #jobPrefix: string
  readonly #leaseMs: number
  readonly #pauseKey: string
  readonly #onPause: (ms: number) => void
  readonly #held = new Set<HeldClaim>()
  #timer: NodeJS.Timeout | undefined
  #renewing = false

  /** `onHydrationPause` hears how long hydration is still paused for the queue, whenever a claim finds it paused. */
  constructor (client: RedisClient, options: { prefix: string, queueName: string, leaseMs: number, onHydrationPause?: (ms: number) => void }) {
    this.#client = client
    this.#base = queueKeyBase(options.prefix, options.queueName)
    this.#jobPrefix = `${options.prefix}:${options.queueName}:`
    this.#leaseMs = options.leaseMs
    this.#pauseKey = hydrationKeys(this.#base).pause
    this.#onPause = options.onHydrationPause ?? (() => {})
  }

  /** The keys of an event, by idempotency key and replayKey, and of its object when its applies are ordered. */
  keysFor (idempotencyKey: string, replayKey?: string, objectKey?: string): EventKeys {
    return eventKeys(this.#base, idempotencyKey, replayKey, objectKey)
  }

  /**
   * One round trip: done, replayed, busy, or claimed with a fresh fencing
   * token (and the object's last committed version, in its stored form, and
   * the claim's time on Redis's clock, in µs).
   */
  async claim (keys: EventKeys, idempotencyKey: string, jobId: string, onLost: () => void): Promise<ClaimResult> {
    const sentAt = Date.now()
    const replay = keys.replayMarker !== undefined && keys.replayClaim !== undefined
    const scriptKeys = [
      `${this.#base}fence`, keys.done, keys.claim, this.#jobPrefix + jobId, keys.replayMarker ?? keys.done, keys.replayClaim ?? keys.claim,
      keys.object?.version ?? keys.done, this.#pauseKey
    ]
    const args = [this.#leaseMs, idempotencyKey, sentAt, replay ? '1' : '0', keys.object === undefined ? '0' : '1']
    const reply = await runScript(this.#client, CLAIM, scriptKeys, args) as [string, (string | number)?, string?, string?, number?, string?]
    const decision = reply[0] as ClaimDecision
    if (decision === 'busy') return { decision, heldForMs: Number(reply[1]) }
    if (decision !== 'claimed') return { decision }
    const claim: HeldClaim = { keys, token: String(reply[1]), until: sentAt + this.#leaseMs, lost: false, onLost, objectHeld: false, claimedAt: Number(reply[5]) }
    this.#held.add(claim)
    this.#armDeadline(claim)
    const pausedForMs = Number(reply[4])
    if (pausedForMs > 0) this.#onPause(pausedForMs)
    return { decision, claim, firstAttemptAt: Number(reply[2]), lastAppliedVersion: reply[3] === '' ? undefined : reply[3] }
  }

  /**
   * One round trip: takes the object's lease for this claim's token, or finds
   * it busy. Once held, it is renewed, released and committed with the claim.
   */
  async holdObject (claim: HeldClaim): Promise<HoldResult> {
    const object = claim.keys.object
    if (object === undefined) throw new Error('holdObject: the claim has no object keys')
    const reply = await runScript(this.#client, HOLD_OBJECT, [object.lease, object.version], [claim.token, this.#leaseMs]) as [string, string | number, string?]
    if (reply[0] === 'busy') return { decision: 'busy', heldForMs: Number(reply[1]) }
    claim.objectHeld = true
    return { decision: 'held', version: reply[1] === '' ? undefined : String(reply[1]), heldAt: Number(reply[2]) }
  }

  /** True while the lease is surely ours: not reported lost and not past its local deadline, less a margin. */
  holds (claim: HeldClaim): boolean {
    return !claim.lost && Date.now() < claim.until - this.#marginMs()
  }

  // Renewals that do not come back (a partition, a frozen Redis) must not let
  // an apply run on past the point where another worker can take the event.
  #armDeadline (claim: HeldClaim): void {
    clearTimeout(claim.deadline)
    claim.deadline = setTimeout(() => markLost(claim), Math.max(0, claim.until - this.#marginMs() - Date.now()))
    claim.deadline.unref()
  }

  #drop (claim: HeldClaim): void {
    this.#held.delete(claim)
    clearTimeout(claim.deadline)
  }

  #marginMs (): number {
    return Math.min(250, this.#leaseMs / 10)
  }

  /**
   * One round trip: writes the done (and replay) marker, and the object's
   * version if given, if the token still holds the claim (and the object's
   * lease, when held) and the stored version is still `version.expected`.
   * Releases the object's lease. False when refused.
   */
  async commit (claim: HeldClaim, idempotencyKey: string, ttlMs: number, version?: VersionWrite): Promise<boolean> {
    this.#drop(claim)
    const { keys } = claim
    const replay = keys.replayMarker !== undefined && keys.replayClaim !== undefined
    const scriptKeys = [keys.claim, keys.done, keys.replayClaim ?? keys.claim, keys.replayMarker ?? keys.done, keys.object?.version ?? keys.done, keys.object?.lease ?? keys.claim]
    const args = [claim.token, ttlMs, idempotencyKey, Date.now(), replay ? '1' : '0', version?.value ?? '', version?.expected ?? '', claim.objectHeld ? '1' : '0']
    const reply = await runScript(this.#client, COMMIT, scriptKeys, args)
    return reply === 1
  }

  /** Deletes the claim if this token still holds it, so a retry (or a duplicate) can take it at once. */
  async release (claim: HeldClaim): Promise<void> {
    this.#drop(claim)
    await runScript(this.#client, RELEASE, claimKeys(claim), [claim.token])
  }

  /** Stops renewing a claim without deleting it: it lapses within one lease. */
  forget (claim: HeldClaim): void {
    this.#drop(claim)
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
    // Key lists are taken once: a claim may take its object's lease while the renewal is on its way.
    const lists = claims.map(claimKeys)
    const keys = lists.flat()
    const tokens = claims.flatMap((c, n) => lists[n].map(() => c.token))
    const sentAt = Date.now()
    try {
      const reply = await runScript(this.#client, RENEW, keys, [this.#leaseMs, ...tokens]) as number[]
      let i = 0
      for (const [n, claim] of claims.entries()) {
        const renewed = lists[n].every((_, k) => reply[i + k] === 1)
        i += lists[n].length
        if (!this.#held.has(claim)) continue
        if (!renewed) markLost(claim)
        else if (!claim.lost) {
          claim.until = sentAt + this.#leaseMs
          this.#armDeadline(claim)
        }
      }
    } catch {
      // Redis unreachable: leases run out on their local deadline, which `holds` checks.
    } finally {
      this.#renewing = false
    }
  }
}

function claimKeys (claim: HeldClaim): string[] {
  const keys = [claim.keys.claim]
  if (claim.keys.replayClaim !== undefined) keys.push(claim.keys.replayClaim)
  if (claim.objectHeld && claim.keys.object !== undefined) keys.push(claim.keys.object.lease)
  return keys
}

function markLost (claim: HeldClaim): void {
  if (claim.lost) return
  claim.lost = true
  claim.onLost()
}
