import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq'
import type { ClaimStore, HeldClaim } from './claim.js'
import { finalFailedReason, serializeError, type DeadLetterStage } from '../dead-letters/dead-letter-record.js'
import { decodeEvent } from '../core/decode.js'
import { WebhookErrors } from '../core/errors.js'
import { isPermanentError, PermanentError } from '../core/hook-errors.js'
import type { WebhookEvent } from '../core/event.js'
import { safeJobId } from '../core/job-id.js'
import type { Apply, ObjectVersion, WorkerContext } from './options.js'
import { WORKER_DEFAULTS, type ResolvedWorkerOptions } from './resolve-options.js'
import { decodeStored, decodeVersion, encodeTombstone, encodeVersion, objectKeyOf, storedDecision, versionOf } from './ordering.js'
import { Postponed, postponedDelayMs } from './postponed.js'
import type { AttemptReport, Reporter } from './reporter.js'
import { attemptBudget, rememberRetryDelay, retryDelayMs } from './retry.js'
import { busyDelayMs, dedupeTtlMs, delayWithoutAttempt, isTimeout, settledWithin, toError, waitWithoutAttempt, withTimeout } from './steps.js'
import type { DeadLetterSink } from '../dead-letters/sink.js'
import type { VersionWrite } from './claim.js'

/**
 * A hydrated state, and a time (µs, Redis's clock) before which its fetch
 * surely had not started: the claim time of the attempt that made the call.
 * `undefined` when unknown (the event's payload is the state).
 */
export interface Hydrated<S> {
  state: S | null
  fetchedAfter: number | undefined
}

/**
 * The hydrate step as the processor calls it (the user's `hydrate`, or the
 * payload), with the event's object key when `objectKey` named one, and the
 * attempt's claim time (µs, Redis's clock).
 */
export type HydrateStep<S, P> = (event: WebhookEvent<P>, ctx: WorkerContext, objectKey: string | undefined, claimedAt: number) => Promise<Hydrated<S>>

/** What the processor works with; built once per worker. */
export interface ProcessorDeps<S, P> {
  options: ResolvedWorkerOptions<S, P>
  /** Called once per claimed attempt, within `hydrateTimeoutMs`: the place to wrap hydration (budgets, sharing). */
  hydrate: HydrateStep<S, P>
  claims: ClaimStore
  sink: DeadLetterSink
  reporter: Reporter
  /** The running attempts, aborted by a forced close. */
  inFlight: Set<InFlightAttempt>
  /** Jobs the processor dead-lettered itself, which the `failed` listener leaves alone. */
  deadLettered: WeakSet<Job>
}

/** A running attempt, as a forced close sees it. */
export interface InFlightAttempt {
  /** Aborts the attempt's signal, and any wait for a timed-out apply, with `reason`. */
  abort: (reason: Error) => void
}

// A worker that lost its claim looks again soon: the new holder has probably committed by then.
const CLAIM_LOST_RECHECK_MS = 200
const OBJECT_BUSY_RECHECK_MS = 500
// How long a forced close lets an aborted apply settle, so its claim is released
// (the next worker starts at once) rather than left to lapse (it waits one lease).
const CLOSE_SETTLE_MS = 250
const NEVER = new AbortController().signal

/**
 * The BullMQ processor: decode → claim → hydrate → order → apply → commit.
 * Each attempt costs two script calls beyond BullMQ's own (claim and commit),
 * one more on failure (release), one more with ordering (the object's lease),
 * and one per hydrate call made under a `rateLimit`.
 */
export function createProcessor<S, P> (deps: ProcessorDeps<S, P>) {
  return async function processWebhookJob (job: Job, token?: string, signal?: AbortSignal): Promise<void> {
    const decoded = decodeEvent(job.data)
    if (!decoded.ok) return await deadLetterUndecodable(deps, job, decoded.reason)
    await new AttemptRun(deps, job, token, decoded.event as WebhookEvent<P>, signal).run()
  }
}

class AttemptRun<S, P> {
  readonly #deps: ProcessorDeps<S, P>
  readonly #job: Job
  readonly #token: string | undefined
  readonly #event: WebhookEvent<P>
  readonly #controller = new AbortController()
  // Aborted when the claim is lost or the worker closes: ends the waits that outlive ctx.signal.
  readonly #stop = new AbortController()
  readonly #handle: InFlightAttempt = { abort: (reason) => this.#interrupt(reason) }
  readonly #started = Date.now()
  readonly #report: AttemptReport
  readonly #ctx: WorkerContext
  #stage: DeadLetterStage = 'internal'
  #claim: HeldClaim | undefined
  #firstAttemptAt = Date.now()
  #objectKey: string | undefined
  #version: VersionWrite | undefined
  #fetchedAfter: number | undefined
  #skipped: 'stale' | 'unchanged' | undefined
  #applying: Promise<unknown> | undefined
  #applyState: Awaited<ReturnType<typeof settledWithin>> | undefined
  /** The event's `apply` (its handler's, or the option); `undefined` when nothing handles it. */
  readonly #apply: Apply<S, P> | undefined

  constructor (deps: ProcessorDeps<S, P>, job: Job, token: string | undefined, event: WebhookEvent<P>, bullSignal?: AbortSignal) {
    this.#deps = deps
    this.#job = job
    this.#token = token
    this.#event = event
    const attempt = job.attemptsMade + 1
    const idempotencyKey = safeJobId(event.source, event.id)
    this.#report = {
      jobId: String(job.id),
      eventId: event.id,
      source: event.source,
      type: event.type,
      origin: event.origin,
      attempt,
      claim: 'none',
      durationMs: 0,
      outcome: 'applied'
    }
    const log = deps.options.logger.child({ jobId: job.id, eventId: event.id, source: event.source, attempt })
    this.#ctx = { idempotencyKey, attempt, origin: event.origin, signal: this.#controller.signal, fence: 0, log, job }
    bullSignal?.addEventListener('abort', () => this.#controller.abort(bullSignal.reason), { once: true })
    this.#apply = deps.options.router.route(event).apply
  }

  async run (): Promise<void> {
    this.#deps.inFlight.add(this.#handle)
    try {
      if (this.#apply === undefined) return this.#unhandled()
      this.#stage = 'hydrate'
      this.#objectKey = objectKeyOf(this.#deps.options.objectKey, this.#event)
      if (!await this.#claimStep()) return
      const state = await this.#hydrateStep()
      const apply = await this.#orderStep(state)
      this.#assertClaimHeld()
      if (apply) await this.#applyStep(state)
      await this.#commitStep()
      this.#finish(this.#skipped ?? 'applied')
    } catch (err) {
      if (err instanceof DelayedError) throw err
      if (await this.#appliedLate(err)) return await this.#commitLate()
      await this.#fail(err)
    } finally {
      this.#deps.inFlight.delete(this.#handle)
    }
  }

  /**
   * No handler applies the event: under `unhandled: 'skip'` the job completes
   * (no claim, no done marker, so a redelivery after a handler is added is
   * applied); under `'dead-letter'` it is dead-lettered at once.
   */
  #unhandled (): void {
    const { options, reporter } = this.#deps
    this.#stage = 'unhandled'
    if (options.unhandled === 'skip') {
      this.#report.stage = 'unhandled'
      this.#finish('unhandled')
      reporter.unhandled(this.#event.source, this.#event.type)
      return
    }
    throw new PermanentError(`No handler for the ${this.#event.source} event of type '${this.#event.type}'`)
  }

  #interrupt (reason: Error): void {
    this.#controller.abort(reason)
    this.#stop.abort(reason)
  }

  /** True when claimed; otherwise the job completes (done, replay) or waits (busy). */
  async #claimStep (): Promise<boolean> {
    this.#stage = 'internal'
    const { claims } = this.#deps
    const keys = claims.keysFor(this.#ctx.idempotencyKey, this.#event.replayKey, this.#ordered() ? this.#objectKey : undefined)
    const lost = (): void => { this.#interrupt(new WebhookErrors.WEBHOOK_WORKER_CLAIM_LOST(this.#event.id)) }
    const result = await claims.claim(keys, this.#ctx.idempotencyKey, String(this.#job.id), lost)
    this.#report.claim = result.decision
    if (result.decision === 'claimed') {
      this.#claim = result.claim
      this.#ctx.fence = Number(result.claim.token)
      this.#firstAttemptAt = result.firstAttemptAt
      this.#ctx.lastAppliedVersion = decodeVersion(result.lastAppliedVersion)
      return true
    }
    if (result.decision !== 'busy') {
      this.#finish(result.decision === 'done' ? 'duplicate' : 'replay')
      return false
    }
    this.#finish('busy')
    return await delayWithoutAttempt(this.#job, this.#token, busyDelayMs(result.heldForMs))
  }

  async #hydrateStep (): Promise<S | null> {
    this.#stage = 'hydrate'
    const { hydrate, options } = this.#deps
    const started = Date.now()
    try {
      const claimedAt = (this.#claim as HeldClaim).claimedAt
      const hydrated = await withTimeout('hydrate', options.hydrateTimeoutMs, this.#controller, async () => await hydrate(this.#event, this.#ctx, this.#objectKey, claimedAt))
      this.#fetchedAfter = hydrated.fetchedAfter
      return hydrated.state
    } finally {
      this.#report.hydrateMs = Date.now() - started
    }
  }

  #ordered (): boolean {
    return this.#objectKey !== undefined && this.#deps.options.version !== undefined
  }

  /**
   * With `objectKey` and `version`: takes the object's lease (postponed while
   * another job applies it) and compares the state with what is committed,
   * read under the lease: a version, or a tombstone. A `null` state commits a
   * tombstone, dated by the lease script (which runs after hydrate returned
   * `null`) and carrying the last version, so that a state fetched before the
   * deletion is never applied after it. False when the state must be skipped.
   */
  async #orderStep (state: S | null): Promise<boolean> {
    const { options, claims, reporter } = this.#deps
    if (!this.#ordered() || options.version === undefined) return true
    const next = state === null ? undefined : versionOf(options.version, state)
    this.#stage = 'internal'
    const held = await claims.holdObject(this.#claim as HeldClaim)
    // The holder's lease says little about when its apply ends (applies are usually short): look again soon.
    if (held.decision === 'busy') throw new Postponed('object-busy', busyDelayMs(Math.min(held.heldForMs, OBJECT_BUSY_RECHECK_MS)))
    const stored = decodeStored(held.version)
    const last = stored.version
    this.#ctx.lastAppliedVersion = last
    const decision = storedDecision(stored, next, this.#fetchedAfter, options.skipEqualVersion)
    if (decision === 'incomparable') this.#ctx.log.warn({ version: String(next), lastAppliedVersion: String(last) }, 'versions of different types cannot be compared; the state is applied')
    if (decision === 'apply' || decision === 'incomparable') {
      const value = next === undefined ? encodeTombstone(held.heldAt, last) : encodeVersion(next)
      this.#version = { value, expected: held.version ?? '' }
      return true
    }
    this.#skipped = decision
    const deletion = stored.deletedAt === undefined ? {} : { deletedAt: Math.floor(stored.deletedAt / 1000) }
    // Only non-null states are ever skipped.
    reporter.skipped({ jobId: String(this.#job.id), eventId: this.#event.id, objectKey: this.#objectKey as string, decision, version: next as ObjectVersion, lastAppliedVersion: last, ...deletion })
    return false
  }

  /** A worker whose lease ran out (a freeze, a long hydrate) must not start apply: another may hold the event now. */
  #assertClaimHeld (): void {
    this.#stage = 'apply'
    if (this.#claim === undefined || !this.#deps.claims.holds(this.#claim)) {
      throw new WebhookErrors.WEBHOOK_WORKER_CLAIM_LOST(this.#event.id)
    }
  }

  async #applyStep (state: S | null): Promise<void> {
    this.#stage = 'apply'
    const { applyTimeoutMs } = this.#deps.options
    const apply = this.#apply as Apply<S, P>
    const started = Date.now()
    try {
      await withTimeout('apply', applyTimeoutMs, this.#controller, () => {
        this.#applying = Promise.resolve().then(() => apply(state, this.#event, this.#ctx))
        return this.#applying
      })
    } finally {
      this.#report.applyMs = Date.now() - started
    }
  }

  /**
   * After an apply timeout, waits up to `applyGraceMs` for the apply to
   * settle, its claim still renewed, so no other attempt of the event starts
   * meanwhile. True when it resolved on the last attempt: no retry is left,
   * and its effect is there, so it is committed rather than dead-lettered.
   */
  async #appliedLate (err: unknown): Promise<boolean> {
    if (this.#stage !== 'apply' || !isTimeout(err) || this.#applying === undefined) return false
    this.#applyState = await settledWithin(this.#applying, this.#deps.options.applyGraceMs, this.#stop.signal)
    return this.#applyState === 'resolved' && this.#ctx.attempt >= attemptBudget(this.#job, this.#deps.options.retry)
  }

  async #commitLate (): Promise<void> {
    this.#ctx.log.warn({ applyTimeoutMs: this.#deps.options.applyTimeoutMs }, 'apply resolved after its timeout on the last attempt: committed as applied')
    try {
      await this.#commitStep()
    } catch (err) {
      await this.#fail(err)
    }
    this.#finish('applied')
  }

  async #commitStep (): Promise<void> {
    this.#stage = 'internal'
    const { claims, options, reporter } = this.#deps
    const claim = this.#claim as HeldClaim
    const ttlMs = dedupeTtlMs(options.dedupe.ttlMs, WORKER_DEFAULTS.dedupe.ttlMs, this.#event as WebhookEvent, (value) => {
      this.#ctx.log.warn({ value: String(value) }, 'dedupe.ttlMs returned no usable TTL; the default is used')
    })
    if (await claims.commit(claim, this.#ctx.idempotencyKey, ttlMs, this.#version)) return
    reporter.commitRefused({ jobId: String(this.#job.id), eventId: this.#event.id })
    throw new WebhookErrors.WEBHOOK_WORKER_CLAIM_LOST(this.#event.id)
  }

  async #fail (thrown: unknown): Promise<never> {
    // A lost claim or a forced close is why the attempt ended, whatever its step threw then.
    const err = this.#stop.signal.aborted ? toError(this.#stop.signal.reason) : toError(thrown)
    const { options, sink } = this.#deps
    this.#report.stage = this.#stage
    this.#report.error = serializeError(err, false)
    if (err instanceof Postponed) {
      await this.#releaseClaim(err)
      this.#report.retryInMs = postponedDelayMs(err.delayMs)
      this.#finish(err.reason)
      await delayWithoutAttempt(this.#job, this.#token, this.#report.retryInMs).catch((moveErr: unknown) => {
        if (moveErr instanceof DelayedError) throw moveErr
        throw err
      })
    }
    if ((err as { code?: unknown }).code === 'WEBHOOK_WORKER_CLOSED') {
      await this.#releaseClaim(err)
      this.#finish('closed')
      // With BullMQ's lock still ours, the job goes back to wait for the next worker;
      // without it, BullMQ refuses the move and the job is another worker's already.
      await waitWithoutAttempt(this.#job, this.#token).catch((moveErr: unknown) => {
        if (moveErr instanceof WaitingError) throw moveErr
        throw err
      })
    }
    if ((err as { code?: unknown }).code === 'WEBHOOK_WORKER_CLAIM_LOST') {
      await this.#releaseClaim(err)
      this.#finish('claim-lost')
      // With BullMQ's lock still ours, wait and look again (the new holder has likely
      // committed); without it, BullMQ refuses the move and the job is the new holder's.
      await delayWithoutAttempt(this.#job, this.#token, CLAIM_LOST_RECHECK_MS).catch((moveErr: unknown) => {
        if (moveErr instanceof DelayedError) throw moveErr
        throw err
      })
    }
    await this.#releaseClaim(err)
    const final = isPermanentError(err) || this.#ctx.attempt >= attemptBudget(this.#job, options.retry)
    if (!final) {
      const delay = retryDelayMs(this.#ctx.attempt, options.retry)
      rememberRetryDelay(err, delay)
      this.#report.retryInMs = delay
      this.#finish('retry')
      throw err
    }
    try {
      await sink.fromAttempt({
        job: this.#job, event: this.#event, stage: this.#stage, err, attemptsMade: this.#ctx.attempt, firstAttemptAt: this.#firstAttemptAt
      })
      // Failed and removed in BullMQ's one script: the dead letter is the only copy,
      // and a redelivery of the event is a new job instead of an add-time duplicate.
      this.#job.opts.removeOnFail = true
      this.#deps.deadLettered.add(this.#job)
    } catch (writeErr) {
      // Left in the failed set, where the sweeper finds it.
      this.#deps.reporter.problem(writeErr, 'could not write the dead letter; the sweeper will retry')
    }
    this.#finish('dead-lettered')
    throw Object.assign(new UnrecoverableError(finalFailedReason(this.#stage, err.message)), { cause: err })
  }

  async #releaseClaim (err: Error): Promise<void> {
    const claim = this.#claim
    if (claim === undefined) return
    // An apply still running keeps its claim from the next attempt until it lapses, within one lease.
    if (await this.#applyRunning(err)) return this.#deps.claims.forget(claim)
    await this.#deps.claims.release(claim).catch((releaseErr: unknown) => {
      this.#deps.reporter.problem(releaseErr, 'could not release a claim; it lapses within one lock duration')
    })
  }

  async #applyRunning (err: Error): Promise<boolean> {
    if (this.#applying === undefined) return false
    if (this.#applyState === undefined || this.#applyState === 'running') {
      const waitMs = (err as { code?: unknown }).code === 'WEBHOOK_WORKER_CLOSED' ? CLOSE_SETTLE_MS : 0
      this.#applyState = await settledWithin(this.#applying, waitMs, NEVER)
    }
    return this.#applyState === 'running'
  }

  #finish (outcome: AttemptReport['outcome']): void {
    this.#report.outcome = outcome
    this.#report.durationMs = Date.now() - this.#started
    this.#deps.reporter.attempt(this.#report)
  }
}

/** The event's `hydrate` (its handler's, or the option), or its payload when it has none. */
export function hydrateStep<S, P> (options: ResolvedWorkerOptions<S, P>): HydrateStep<S, P> {
  const { router } = options
  return async (event, ctx, _objectKey, claimedAt) => {
    const { hydrate } = router.route(event)
    if (hydrate === undefined) return { state: event.payload as unknown as S, fetchedAfter: undefined }
    return { state: await hydrate(event, ctx), fetchedAfter: claimedAt }
  }
}

/** Job data the worker cannot read: dead-lettered at once (stage `decode`), since no retry can help. */
async function deadLetterUndecodable<S, P> (deps: ProcessorDeps<S, P>, job: Job, reason: string): Promise<never> {
  const err = new WebhookErrors.WEBHOOK_WORKER_BAD_JOB(`Job ${String(job.id)} cannot be decoded: ${reason}`)
  const attempt = job.attemptsMade + 1
  const started = Date.now()
  try {
    await deps.sink.fromAttempt({ job, event: job.data, stage: 'decode', err, attemptsMade: attempt, firstAttemptAt: job.processedOn ?? started })
    job.opts.removeOnFail = true
    deps.deadLettered.add(job)
  } catch (writeErr) {
    deps.reporter.problem(writeErr, 'could not write the dead letter; the sweeper will retry')
  }
  deps.reporter.attempt({
    jobId: String(job.id), attempt, claim: 'none', durationMs: Date.now() - started, outcome: 'dead-lettered', stage: 'decode', error: serializeError(err, false)
  })
  throw Object.assign(new UnrecoverableError(finalFailedReason('decode', err.message)), { cause: err })
}
