import { EventEmitter } from 'node:events'
import { Queue, Worker, type Job } from 'bullmq'
import { createProducerClient, createWorkerClient, waitForReady } from '../core/connection.js'
import { WebhookErrors } from '../core/errors.js'
import { readSyncedAt, redisCursor, storeCursor, type CursorBackend } from './cursor.js'
import { bounded, pollKeys } from '../core/lease.js'
import { attachPollerMetrics } from './poller-metrics.js'
import { runPoll, type PollResult, type PollRunEvent, type PollRunResult, type RunContext } from './poller-run.js'
import type { PollerOptions } from './poller-options.js'
import { validatePollerOptions } from './resolve-poller-options.js'

export type { PollRunEvent }

/** Emitted as `lag` when the cursor lags past `lagThresholdMs`. */
export interface PollLagEvent {
  lagMs: number
  lagThresholdMs: number
}

/** Where the poller stands, from Redis (and the user's store). */
export interface PollerStatus {
  /** The saved cursor, `null` before the first run. */
  cursor: string | null
  /** When a run last reached `hasMore: false` (ms since epoch), `null` before the first run. */
  syncedAt: number | null
  /** Now minus `syncedAt`; `null` before the first run. */
  lagMs: number | null
  /** While a rate limit pauses polling: when it resumes (ms since epoch). */
  pausedUntil: number | null
}

/** What {@link createPoller} returns. Events: `run` ({@link PollRunEvent}), `lag` ({@link PollLagEvent}). */
export interface Poller extends EventEmitter {
  /** BullMQ's worker of the poll queue, for its events. */
  readonly worker: Worker
  /** Resolves once the schedule is in Redis and the worker runs; rejects if that failed. */
  ready: () => Promise<void>
  /** Runs now, under the same lease as scheduled runs. Rejects when `fetchChanges` keeps failing or returns a bad page. */
  runOnce: () => Promise<PollResult>
  /** The cursor, lag and pause, read from Redis (and the store). */
  status: () => Promise<PollerStatus>
  /** Stops this replica: aborts its run (the page in flight is fetched again later), closes what it opened. The schedule stays for other replicas. */
  close: () => Promise<void>
}

const POLL_JOB = 'poll'

/**
 * Creates a polling reconciler: a BullMQ job scheduler on its own queue runs
 * `fetchChanges` every `every` ms on one replica at a time, and feeds the
 * changes into the webhook queue as `WebhookEvent`s with `origin: 'poll'`.
 */
export function createPoller<P = unknown> (options: PollerOptions<P>): Poller {
  const o = validatePollerOptions(options)
  const log = o.logger.child({ source: o.source, pollQueue: o.pollQueueName })
  const keys = pollKeys(o.prefix, o.queueName, o.source)
  const onError = (err: Error): void => { log.debug({ err }, 'poller Redis connection error') }
  const producer = createProducerClient(o.connection, { onError })
  const consumer = createWorkerClient(o.connection, { onError })
  const events = new Queue(o.queueName, { connection: producer.client, prefix: o.prefix })
  const pollQueue = new Queue(o.pollQueueName, { connection: consumer.client, prefix: o.prefix })
  const cursor: CursorBackend = o.store === undefined ? redisCursor(producer.client, keys, o.enqueueTimeoutMs) : storeCursor(o.store, o.source)
  const closing = new AbortController()
  const run: RunContext<P> = { options: o, client: producer.client, events, keys, cursor, log, closing: closing.signal }
  const local = new Set<Promise<void>>()
  const emitter = new EventEmitter()
  let closed: Promise<void> | undefined
  let detachMetrics = async (): Promise<void> => {}
  // BullMQ's scheduler can stop firing (seen on a Redis Cluster after a master
  // restart), and a poller that only looked at its lag after a run would never
  // notice: the lag is also checked on a timer of its own.
  let lagTimer: NodeJS.Timeout | undefined

  const worker = new Worker(o.pollQueueName, processPollJob, {
    connection: consumer.client,
    prefix: o.prefix,
    concurrency: 1,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    maxStalledCount: 1
  })
  worker.on('error', (err) => { log.warn({ err }, 'poll worker error') })
  const started = start()
  started.catch((err) => {
    if (closing.signal.aborted) log.debug({ err }, 'poller closed before it started')
    else log.error({ err }, 'poller failed to start')
  })

  async function start (): Promise<void> {
    detachMetrics = await attachPollerMetrics(o, emitter, producer.client, log)
    if (closing.signal.aborted) await detachMetrics()
    // A fresh schedule with `every` fires at once; runOnStart decides that instead, so the first tick waits a period.
    await pollQueue.upsertJobScheduler(`poll.${o.source}`, { every: o.every, startDate: Date.now() + o.every }, {
      name: POLL_JOB, data: { source: o.source }, opts: { removeOnComplete: true, removeOnFail: 50 }
    })
    await worker.waitUntilReady()
    if (o.runOnStart) inBackground(() => runScheduled('start'))
    else inBackground(catchUpIfLagging)
    if (closing.signal.aborted) return
    lagTimer = setInterval(() => { inBackground(catchUpIfLagging) }, o.lagThresholdMs)
    lagTimer.unref()
  }

  async function processPollJob (job: Job<{ source?: string }>): Promise<void> {
    if (job.data.source !== o.source) {
      log.error({ jobSource: job.data.source }, 'the poll queue is shared with the poller of another source: give each source its own pollQueueName')
      return
    }
    await runScheduled('schedule')
  }

  async function runScheduled (reason: PollRunEvent['reason']): Promise<void> {
    if (closing.signal.aborted) return
    let result: PollResult | undefined
    try {
      result = await runPoll(run)
      emitter.emit('run', { ...result, reason })
      log.debug({ reason, ...result }, 'poll run ended')
    } catch (err) {
      log.error({ err, reason }, 'poll run failed; the cursor stays where it was')
    }
    // A skipped run leaves the lag to the run that holds the lease; a run stopped by a
    // rate limit, a lost lease or close() must not be chased by a catch-up.
    if (closing.signal.aborted || (result !== undefined && 'skipped' in result)) return
    const more = result !== undefined && result.hasMore && result.stopped === undefined
    if (await lagging(more)) inBackground(() => runScheduled('catch-up'))
  }

  async function catchUpIfLagging (): Promise<void> {
    if (await lagging(true)) await runScheduled('catch-up')
  }

  /** Warns and emits `lag` when the lag is past the threshold; true when a catch-up should follow. */
  async function lagging (catchUp: boolean): Promise<boolean> {
    let syncedAt: number | null
    try {
      await waitForReady(producer.client, o.enqueueTimeoutMs)
      syncedAt = await readSyncedAt(producer.client, keys, o.enqueueTimeoutMs)
    } catch (err) {
      log.debug({ err }, 'poll lag unknown')
      return false
    }
    const lagMs = syncedAt === null ? 0 : Date.now() - syncedAt
    if (lagMs <= o.lagThresholdMs) return false
    log.warn({ lagMs, lagThresholdMs: o.lagThresholdMs, catchUp }, catchUp ? 'poll cursor lags behind the provider: catching up' : 'poll cursor lags behind the provider')
    emitter.emit('lag', { lagMs, lagThresholdMs: o.lagThresholdMs } satisfies PollLagEvent)
    return catchUp
  }

  // Catch-up runs start outside the poll job, so the job ends and the schedule keeps its pace.
  function inBackground (task: () => Promise<void>): void {
    if (closing.signal.aborted) return
    const p = new Promise<void>((resolve) => setImmediate(resolve)).then(task).catch((err) => {
      log.error({ err }, 'poll run failed')
    })
    local.add(p)
    p.finally(() => local.delete(p)).catch(() => {})
  }

  async function runOnce (): Promise<PollResult> {
    if (closing.signal.aborted) throw new WebhookErrors.WEBHOOK_POLLER_CLOSED('The poller is closed')
    const result = await runPoll(run)
    await lagging(false)
    return result
  }

  async function status (): Promise<PollerStatus> {
    await waitForReady(producer.client, o.enqueueTimeoutMs)
    const [saved, syncedAt, pauseMs] = await Promise.all([
      cursor.load(),
      readSyncedAt(producer.client, keys, o.enqueueTimeoutMs),
      bounded(producer.client.pttl(keys.pause), o.enqueueTimeoutMs, 'reading the poll pause')
    ])
    const now = Date.now()
    return { cursor: saved, syncedAt, lagMs: syncedAt === null ? null : now - syncedAt, pausedUntil: pauseMs > 0 ? now + pauseMs : null }
  }

  async function close (): Promise<void> {
    closed ??= (async () => {
      closing.abort(new WebhookErrors.WEBHOOK_POLLER_CLOSED('The poller is closing'))
      clearInterval(lagTimer)
      await worker.close()
      await Promise.allSettled([...local])
      await detachMetrics()
      await Promise.allSettled([events.close(), pollQueue.close()])
      await Promise.allSettled([producer.close(), consumer.close()])
    })()
    await closed
  }

  return Object.assign(emitter, { worker, ready: async () => { await started }, runOnce, status, close })
}

export type { PollResult, PollRunResult }
