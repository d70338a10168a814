import { EventEmitter } from 'node:events'
import type { Job, Worker } from 'bullmq'
import { ClaimStore } from './claim.js'
import { CLAIM_SCRIPTS } from './claim-scripts.js'
import { createWorkerClient, within, type ManagedClient } from '../core/connection.js'
import { DeadLetterStore } from '../dead-letters/dead-letter-store.js'
import { DecodingWorker } from '../core/decode.js'
import { deadLettersApi, type DeadLetters } from '../dead-letters/dead-letters.js'
import { WebhookErrors } from '../core/errors.js'
import { LockRegistry, REGISTRY_SCRIPTS } from './lock-registry.js'
import type { WebhookWorkerOptions, WorkerOptionsFor } from './options.js'
import { validateWorkerOptions, type ResolvedWorkerOptions } from './resolve-options.js'
import { createHydration } from './hydration.js'
import { HydrationGate, hydrationKeys, HYDRATION_SCRIPTS } from './hydration-gate.js'
import { queueKeyBase } from '../core/keys.js'
import { checkPersistence } from '../core/persistence.js'
import { createProcessor, type InFlightAttempt } from './processor.js'
import { Reporter, type WebhookWorkerEvents, type WorkerStats } from './reporter.js'
import { createBackoffStrategy } from './retry.js'
import { loadScripts } from '../core/scripts.js'
import { DeadLetterSink } from '../dead-letters/sink.js'
import { checkWorkerHealth, trackStart, type StartState, type WorkerHealth } from './worker-health.js'
import { openWorkerMetrics } from './worker-metrics.js'

/** Options of `close`. */
export interface CloseOptions {
  /** How long in-flight attempts may run before their signals abort and the worker closes anyway. @defaultValue `30000` */
  timeoutMs?: number
}

/**
 * A running worker. `worker` is BullMQ's, for its events; `deadLetters` is the
 * dead-letter API of the queue; the handle's own events are in {@link WebhookWorkerEvents}.
 */
export class WebhookWorkerHandle extends EventEmitter<WebhookWorkerEvents> {
  /** BullMQ's worker. Its `close` is not enough on its own: call the handle's. */
  readonly worker: Worker
  /** The dead-letter API of this queue (closed by the handle's `close`). */
  readonly deadLetters: DeadLetters
  readonly #o: ResolvedWorkerOptions<any, any>
  readonly #managed: ManagedClient
  readonly #reporter: Reporter
  readonly #claims: ClaimStore
  readonly #store: DeadLetterStore
  readonly #sink: DeadLetterSink
  readonly #registry: LockRegistry
  readonly #inFlight = new Set<InFlightAttempt>()
  readonly #ready: Promise<void>
  readonly #startState: StartState
  #readyObserved = false
  #sweepTimer: NodeJS.Timeout | undefined
  #closing: Promise<void> | undefined

  constructor (options: ResolvedWorkerOptions<any, any>) {
    super()
    const o = this.#o = options
    const log = o.logger.child({ queue: o.queueName })
    this.#reporter = new Reporter(log, this)
    this.#managed = createWorkerClient(o.connection, { onError: (err) => this.#reporter.problem(err, 'Redis connection error') })
    const client = this.#managed.client
    const gate = new HydrationGate(client, hydrationKeys(queueKeyBase(o.prefix, o.queueName)), o.rateLimit, this.#reporter, o.hydrateTimeoutMs)
    this.#claims = new ClaimStore(client, { prefix: o.prefix, queueName: o.queueName, leaseMs: o.lockDuration, onHydrationPause: (ms) => gate.notePause(ms) })
    this.#store = new DeadLetterStore(client, { queueName: o.queueName, prefix: o.prefix })
    this.deadLetters = deadLettersApi(this.#store, async () => {})
    this.#sink = new DeadLetterSink({
      store: this.#store,
      client,
      reporter: this.#reporter,
      includeStack: o.deadLetters.includeStack,
      alertThreshold: o.deadLetters.alertThreshold,
      queueName: o.queueName
    })
    this.#registry = new LockRegistry(client, { ...o, prefix: o.prefix, queueName: o.queueName })
    const deadLettered = new WeakSet<Job>()
    const processor = createProcessor({ options: o, hydrate: createHydration(o, gate, this.#reporter), claims: this.#claims, sink: this.#sink, reporter: this.#reporter, inFlight: this.#inFlight, deadLettered })
    this.worker = new DecodingWorker(o.queueName, processor, {
      connection: client,
      prefix: o.prefix,
      concurrency: o.concurrency,
      lockDuration: o.lockDuration,
      stalledInterval: o.stalledInterval,
      maxStalledCount: o.maxStalledCount,
      autorun: false,
      settings: { backoffStrategy: createBackoffStrategy(o.retry) }
    })
    this.worker.on('failed', (job, err) => this.#onFailed(job, err, deadLettered))
    this.worker.on('stalled', (jobId) => this.#reporter.stalled(jobId))
    this.worker.on('error', (err) => this.#reporter.problem(err, 'BullMQ worker error'))
    this.#ready = this.#start()
    this.#startState = trackStart(this.#ready)
    this.#ready.catch((err: Error) => this.#onStartFailure(err))
  }

  /** Resolves once the worker runs; rejects with the reason it refused to start (e.g. `WEBHOOK_WORKER_LOCK_MISMATCH`). */
  async waitUntilReady (): Promise<void> {
    this.#readyObserved = true
    await this.#ready
  }

  /** Running totals since start: applied, duplicates, replays, busy waits, retries, dead letters, stalls, stale states, hydrate calls made and saved. */
  stats (): WorkerStats {
    return { ...this.#reporter.stats }
  }

  /**
   * Liveness: `fail` when the worker is closed, stopped or refused to start
   * (restart it); `warn` while it starts or while Redis is unreachable (it
   * waits the outage out on its own).
   */
  async health (): Promise<WorkerHealth> {
    return await checkWorkerHealth({
      worker: this.worker,
      client: this.#managed.client,
      start: this.#startState,
      closing: this.#closing !== undefined,
      stats: this.stats(),
      timeoutMs: 1000
    })
  }

  /**
   * Stops taking jobs, waits for in-flight attempts up to `timeoutMs`, then
   * aborts their signals and closes anyway. Closes only what it opened: a
   * connection instance you passed stays open.
   */
  async close (options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.timeoutMs ?? 30_000)
    await this.#closing
  }

  async #start (): Promise<void> {
    const o = this.#o
    const client = this.#managed.client
    this.#reporter.metrics = await openWorkerMetrics(o, client, o.logger)
    await loadScripts(client, [...CLAIM_SCRIPTS, ...HYDRATION_SCRIPTS, ...REGISTRY_SCRIPTS])
    if (o.persistenceCheck !== 'off') await this.#checkPersistence(true)
    this.#throwIfClosing()
    await this.#registry.register()
    this.#throwIfClosing()
    this.#registry.startHeartbeat((err) => this.#reporter.problem(err, 'lock settings heartbeat failed'))
    this.#claims.start()
    this.worker.run().catch((err: unknown) => this.#reporter.problem(err, 'BullMQ worker stopped'))
    client.on('ready', this.#onReconnect)
    this.#sweepTimer = setInterval(() => { this.#sweep().catch(() => {}) }, Math.max(1000, 4 * o.stalledInterval))
    this.#sweepTimer.unref()
    this.#sweep().catch(() => {})
  }

  async #checkPersistence (atStart: boolean): Promise<void> {
    const report = await checkPersistence(this.#managed.client)
    if (report.ok) return
    const message = `Redis is not set up for the delivery contract: ${report.problems.join('; ')}`
    if (atStart && this.#o.persistenceCheck === 'refuse') throw new WebhookErrors.WEBHOOK_PERSISTENCE(message)
    this.#reporter.problem(new WebhookErrors.WEBHOOK_PERSISTENCE(message), 'Redis persistence check')
  }

  readonly #onReconnect = (): void => {
    if (this.#o.persistenceCheck === 'off') return
    this.#checkPersistence(false).catch((err: unknown) => this.#reporter.problem(err, 'Redis persistence check failed'))
  }

  async #sweep (): Promise<void> {
    try {
      await this.#sink.sweep()
      await this.#sink.checkAlert()
    } catch (err) {
      this.#reporter.problem(err, 'dead-letter sweep failed')
    }
  }

  // BullMQ fails some jobs without the processor: one that stalled past
  // maxStalledCount, or one whose dead letter could not be written. They go to
  // the dead-letter queue now rather than at the next sweep.
  #onFailed (job: Job | undefined, err: Error, deadLettered: WeakSet<Job>): void {
    if (job === undefined || deadLettered.has(job) || typeof job.finishedOn !== 'number') return
    this.#sink.fromFailedJob(job, err).catch((sweepErr: unknown) => this.#reporter.problem(sweepErr, 'could not dead-letter a failed job'))
  }

  #onStartFailure (err: Error): void {
    if (this.#closing !== undefined && err === CLOSING) return
    this.#o.logger.error({ err: { name: err.name, message: err.message, code: (err as { code?: unknown }).code } }, 'webhook worker refused to start')
    this.close({ timeoutMs: 5000 }).catch(() => {})
    // Surfaces like any EventEmitter error unless someone is waiting on `waitUntilReady`.
    if (!this.#readyObserved || this.listenerCount('error') > 0) this.emit('error', err)
  }

  #throwIfClosing (): void {
    if (this.#closing !== undefined) throw CLOSING
  }

  async #shutdown (timeoutMs: number): Promise<void> {
    const closing = this.worker.close()
    const drained = await within(closing, timeoutMs)
    if (!drained) {
      this.#o.logger.warn({ queue: this.#o.queueName, timeoutMs }, 'close timed out: aborting in-flight attempts')
      for (const attempt of this.#inFlight) attempt.abort(new WebhookErrors.WEBHOOK_WORKER_CLOSED())
      // Aborted attempts give their jobs back to the queue, over the connection closed below.
      await within(closing, ABORTED_SETTLE_MS)
    }
    clearInterval(this.#sweepTimer)
    this.#claims.stop()
    this.#managed.client.off('ready', this.#onReconnect)
    await within(this.#registry.unregister(), 1000)
    await within(this.#store.close(), 1000)
    await within(this.#reporter.metrics?.close() ?? Promise.resolve(), 1000)
    await this.#managed.close()
  }
}

const CLOSING = new Error('closing')
const ABORTED_SETTLE_MS = 1000

/**
 * Validates the options, builds BullMQ's worker on a worker connection, and
 * starts it once the lock settings are registered. Throws
 * `WEBHOOK_INVALID_OPTION` at once for bad options; a refusal to start
 * comes through `waitUntilReady()` (or an `error` event).
 *
 * `createWebhookWorker<S, P>()`: `S` is the state type, `P` the payload type.
 * `createWebhookWorker<Events, S>()`, with `Events` a catalog of typed events
 * such as `{ stripe: ByType<Stripe.Event>, github: ByName<WebhookEventMap> }`:
 * `handlers` is checked against it and each handler's payload narrowed, and
 * `S` is the state type.
 */
export function createWebhookWorker<S = unknown, P = unknown> (options: WorkerOptionsFor<S, P>): WebhookWorkerHandle
/** The same, for a state type that is itself a type parameter (a function wrapping `createWebhookWorker<S>()`). */
export function createWebhookWorker<S = unknown, P = unknown> (options: WebhookWorkerOptions<S, P>): WebhookWorkerHandle
export function createWebhookWorker (options: WebhookWorkerOptions<any, any, any>): WebhookWorkerHandle {
  return new WebhookWorkerHandle(validateWorkerOptions(options))
}
