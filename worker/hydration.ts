import { deadline } from '../core/deadline.js'
import type { WebhookEvent } from '../core/event.js'
import type { HydrationGate } from './hydration-gate.js'
import type { Hydrate, WorkerContext } from './options.js'
import type { ResolvedWorkerOptions } from './resolve-options.js'
import { Postponed } from './postponed.js'
import { hydrateStep, type Hydrated, type HydrateStep } from './processor.js'
import type { Reporter } from './reporter.js'
import type { Router } from './router.js'
import { rateLimitPauseMs } from './retry-after.js'
import { toError } from './steps.js'

interface Call<S> {
  /** When the user's hydrate started (0 until then: a call still waiting at the gate serves nobody else). */
  startedAt: number
  /** Resolves (never rejects) once the call has its result. */
  settled: Promise<void>
  result?: { ok: true, value: Hydrated<S> } | { ok: false, error: unknown, shareable: boolean }
}

interface CacheEntry<S> {
  startedAt: number
  value: Hydrated<S>
  expiresAt: number
}

/**
 * The hydrate step with the hydration budget, sharing and cache. Without a
 * user `hydrate` the payload is the state, and none of it applies.
 */
export function createHydration<S, P> (options: ResolvedWorkerOptions<S, P>, gate: HydrationGate, reporter: Reporter): HydrateStep<S, P> {
  const plain = hydrateStep(options)
  if (!options.router.hydrates) return plain
  return new SharedHydration(plain, options.router, gate, reporter, options.hydrateCacheMs, options.clockSkewMs).step
}

/**
 * Per object, at most one hydrate call in flight in this process. A call's
 * result (or error) serves an event only if the call started more than
 * `clockSkewMs` after the event was received, so no event is ever given a
 * state fetched before it happened; a newer event waits for the call in flight
 * and then starts, or joins, the next. The cache follows the same rule.
 * A shared or cached state keeps the claim time of the attempt that made the
 * call (`fetchedAfter`), so the order check never takes it for a state
 * fetched after a deletion it may predate.
 */
class SharedHydration<S, P> {
  readonly #hydrate: HydrateStep<S, P>
  readonly #router: Router<S, P>
  // Calls are shared per hydrate function and object: two handlers may fetch different states of one object.
  readonly #hydrateIds = new Map<Hydrate<S, P>, number>()
  readonly #gate: HydrationGate
  readonly #reporter: Reporter
  readonly #cacheMs: number
  readonly #skewMs: number
  readonly #inFlight = new Map<string, Call<S>>()
  readonly #cache = new Map<string, CacheEntry<S>>()

  constructor (hydrate: HydrateStep<S, P>, router: Router<S, P>, gate: HydrationGate, reporter: Reporter, cacheMs: number, skewMs: number) {
    this.#hydrate = hydrate
    this.#router = router
    this.#gate = gate
    this.#reporter = reporter
    this.#cacheMs = cacheMs
    this.#skewMs = skewMs
  }

  readonly step: HydrateStep<S, P> = async (event, ctx, eventObjectKey, claimedAt) => {
    const hydrate = this.#router.route(event).hydrate
    // No hydrate for this event: its payload is the state, with no call to budget or share.
    if (hydrate === undefined) return await this.#hydrate(event, ctx, eventObjectKey, claimedAt)
    if (eventObjectKey === undefined) return await this.#call(event, ctx, claimedAt)
    const objectKey = this.#sharingKey(hydrate, eventObjectKey)
    const notBefore = event.receivedAt + this.#skewMs
    for (;;) {
      ctx.signal.throwIfAborted()
      const cached = this.#cached(objectKey, notBefore)
      if (cached !== undefined) {
        this.#reporter.hydrateShared('cache')
        return cached.value
      }
      const call = this.#inFlight.get(objectKey)
      if (call === undefined) return await this.#start(objectKey, event, ctx, claimedAt)
      // A waiter is bounded by its own deadline, not by the call it joined.
      await deadline(Infinity, ctx.signal, () => call.settled)
      const result = call.result
      if (call.startedAt > notBefore && result !== undefined && (result.ok || result.shareable)) {
        if (!result.ok) throw result.error
        this.#reporter.hydrateShared('coalesced')
        return result.value
      }
    }
  }

  async #start (objectKey: string, event: WebhookEvent<P>, ctx: WorkerContext, claimedAt: number): Promise<Hydrated<S>> {
    let settle = (): void => {}
    const call: Call<S> = { startedAt: 0, settled: new Promise<void>((resolve) => { settle = resolve }) }
    this.#inFlight.set(objectKey, call)
    try {
      // A call that outlives its starter's deadline (a hydrate that ignores the
      // signal) is dropped then: its late answer serves nobody and is not cached,
      // so the object's next event calls hydrate again instead of waiting forever.
      const value = await deadline(Infinity, ctx.signal, async () => await this.#call(event, ctx, claimedAt, (at) => { call.startedAt = at }))
      call.result = { ok: true, value }
      this.#remember(objectKey, call.startedAt, value)
      return value
    } catch (err) {
      // A failure of the starter's own making (its timeout, lost claim or close
      // aborted its signal) is not passed on: the waiters try again.
      call.result = { ok: false, error: err, shareable: !ctx.signal.aborted }
      throw err
    } finally {
      this.#inFlight.delete(objectKey)
      settle()
    }
  }

  #sharingKey (hydrate: Hydrate<S, P>, objectKey: string): string {
    let id = this.#hydrateIds.get(hydrate)
    if (id === undefined) this.#hydrateIds.set(hydrate, id = this.#hydrateIds.size)
    return id === 0 ? objectKey : `${id}\u0000${objectKey}`
  }

  /** One call of the user's hydrate, through the gate; a rate-limit answer pauses hydration for the queue. */
  async #call (event: WebhookEvent<P>, ctx: WorkerContext, claimedAt: number, onStart?: (at: number) => void): Promise<Hydrated<S>> {
    await this.#gate.acquire(ctx.signal)
    onStart?.(Date.now())
    this.#reporter.hydrateCalled()
    try {
      return await this.#hydrate(event, ctx, undefined, claimedAt)
    } catch (err) {
      const pauseMs = rateLimitPauseMs(err)
      if (pauseMs === undefined) throw err
      await this.#gate.pause(pauseMs, toError(err))
      throw new Postponed('rate-limited', pauseMs, { cause: err })
    }
  }

  #cached (objectKey: string, notBefore: number): CacheEntry<S> | undefined {
    const entry = this.#cache.get(objectKey)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#cache.delete(objectKey)
      return undefined
    }
    return entry.startedAt > notBefore ? entry : undefined
  }

  #remember (objectKey: string, startedAt: number, value: Hydrated<S>): void {
    if (this.#cacheMs === 0) return
    const now = Date.now()
    // Entries go in about in expiry order: drop expired ones from the front.
    for (const [key, entry] of this.#cache) {
      if (entry.expiresAt > now) break
      this.#cache.delete(key)
    }
    const old = this.#cache.get(objectKey)
    if (old !== undefined && old.startedAt >= startedAt) return
    this.#cache.delete(objectKey)
    this.#cache.set(objectKey, { startedAt, value, expiresAt: startedAt + this.#cacheMs })
  }
}
