import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Queue } from 'bullmq'
import type { Logger } from 'pino'
import { waitForReady, type RedisClient } from '../core/connection.js'
import { deadline } from '../core/deadline.js'
import { markSynced, type CursorBackend } from './cursor.js'
import { WebhookErrors } from '../core/errors.js'
import { isRateLimitedError } from '../core/hook-errors.js'
import { EVENT_VERSION, JOB_NAME, type WebhookEvent } from '../core/event.js'
import { safeJobId } from '../core/job-id.js'
import { eventJobOptions } from '../core/job-options.js'
import { acquireLease, bounded, type Lease, type PollKeys } from '../core/lease.js'
import { pageProblem, type PollPage } from './poll-page.js'
import type { PollerOptions } from './poller-options.js'

/** A run that took the lease. */
export interface PollRunResult {
  /** A random id of the run, also in `ctx.runId`. */
  runId: string
  /** Pages fetched, enqueued and saved. */
  pages: number
  /** Events enqueued (duplicates of queued or done events included). */
  events: number
  /** The saved cursor when the run ended. */
  cursor: string
  /** True when the provider had more changes than the run took. */
  hasMore: boolean
  /** Why the run stopped before `hasMore: false` or `maxPagesPerRun`, if it did. */
  stopped?: 'rate-limited' | 'lease-lost' | 'conflict' | 'closed'
  /** With `stopped: 'rate-limited'`: when polling resumes (ms since epoch). */
  resumeAt?: number
  /** When the lease was taken and when the run let it go (ms since epoch). */
  startedAt: number
  endedAt: number
}

/** What a run returns: its result, or why it did not run. */
export type PollResult = PollRunResult | { skipped: 'busy' } | { skipped: 'paused', resumeAt: number }

/** Emitted as `run` after every run this replica attempted (not after `runOnce()`'s). */
export type PollRunEvent = PollResult & { reason: 'start' | 'schedule' | 'catch-up' }

/** Everything a run needs; built once by the poller. */
export interface RunContext<P> {
  options: Required<Omit<PollerOptions<P>, 'store' | 'connection'>>
  client: RedisClient
  events: Queue
  keys: PollKeys
  cursor: CursorBackend
  log: Logger
  closing: AbortSignal
}

const DEFAULT_PAUSE_MS = 60_000
const MAX_BACKOFF_MS = 60_000

/**
 * One run: take the lease, then page by page fetch, enqueue every event, and
 * only then save the cursor by compare-and-set. A crash anywhere re-fetches the
 * page whose cursor was not saved; dedupe absorbs the repeats.
 */
export async function runPoll<P> (run: RunContext<P>): Promise<PollResult> {
  const { options: o, client, keys, log } = run
  await waitForReady(client, o.enqueueTimeoutMs)
  const pauseMs = await bounded(client.pttl(keys.pause), o.enqueueTimeoutMs, 'reading the poll pause')
  if (pauseMs > 0) return { skipped: 'paused', resumeAt: Date.now() + pauseMs }
  const lease = await acquireLease({ client, keys, leaseMs: o.leaseMs, commandTimeoutMs: o.enqueueTimeoutMs, log })
  if (lease === undefined) return { skipped: 'busy' }
  const startedAt = Date.now()
  const runId = randomUUID()
  const signal = AbortSignal.any([lease.signal, run.closing])
  const result: PollRunResult = { runId, pages: 0, events: 0, cursor: '', hasMore: true, startedAt, endedAt: startedAt }
  try {
    const start = await loadOrInit(run, lease)
    if (start === undefined) return stop(result, 'lease-lost')
    result.cursor = start
    const interrupted = (): PollRunResult => stop(result, lease.signal.aborted ? 'lease-lost' : 'closed')
    while (result.pages < o.maxPagesPerRun && result.hasMore) {
      if (signal.aborted) return interrupted()
      let page: PollPage<P> | { resumeAt: number }
      try {
        page = await fetchPage(run, result.cursor, result.pages + 1, runId, signal)
      } catch (err) {
        // An abort (lease lost, poller closing) is how the run ends, not a failure to report.
        if (signal.aborted) return interrupted()
        throw err
      }
      if ('resumeAt' in page) return stop(result, 'rate-limited', page.resumeAt)
      if (signal.aborted) return interrupted()
      await enqueue(run, page)
      const outcome = await run.cursor.save(page.cursor, result.cursor, lease)
      if (outcome !== 'saved') {
        log.warn({ runId, outcome, page: result.pages + 1 }, 'poll cursor not saved: another run moved it or took the lease')
        return stop(result, outcome)
      }
      result.pages += 1
      result.events += page.events.length
      result.cursor = page.cursor
      result.hasMore = page.hasMore
      log.debug({ runId, page: result.pages, events: page.events.length, hasMore: page.hasMore }, 'poll page enqueued')
    }
    if (!result.hasMore) await markSynced(client, keys, Date.now(), o.enqueueTimeoutMs)
    return result
  } finally {
    result.endedAt = Date.now()
    await lease.release()
  }
}

function stop (result: PollRunResult, why: NonNullable<PollRunResult['stopped']>, resumeAt?: number): PollRunResult {
  result.stopped = why
  if (resumeAt !== undefined) result.resumeAt = resumeAt
  return result
}

// The initial cursor is saved before the first page: a function of the clock
// (`now - 1 h`) must not be recomputed later, or a crash would skip changes.
async function loadOrInit<P> (run: RunContext<P>, lease: Lease): Promise<string | undefined> {
  const { options: o, client, keys } = run
  await markSynced(client, keys, Date.now(), o.enqueueTimeoutMs, true)
  const saved = await run.cursor.load()
  if (saved !== null) return saved
  const initial = typeof o.initialCursor === 'function' ? await o.initialCursor() : o.initialCursor
  if (typeof initial !== 'string') {
    throw new WebhookErrors.WEBHOOK_INVALID_OPTION(`Expected \`initialCursor\` to return a string, got ${typeof initial}`)
  }
  const outcome = await run.cursor.save(initial, null, lease)
  if (outcome === 'lease-lost') return undefined
  if (outcome === 'saved') return initial
  const raced = await run.cursor.load()
  if (raced === null) throw new WebhookErrors.WEBHOOK_POLLER_BAD_CURSOR_STORE('The cursor store refused the initial cursor but holds none')
  return raced
}

/** Calls `fetchChanges` with retries; a `RateLimitedError` pauses polling for every replica instead. */
async function fetchPage<P> (run: RunContext<P>, cursor: string, page: number, runId: string, signal: AbortSignal): Promise<PollPage<P> | { resumeAt: number }> {
  const { options: o, log } = run
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(run, cursor, { signal, log: log.child({ runId, page }), page, runId })
    } catch (err) {
      if (isRateLimitedError(err)) return await pause(run, err.retryAfterMs, err)
      if (err instanceof BadPageError || signal.aborted || attempt >= o.fetchAttempts) throw err
      const d = Math.min(MAX_BACKOFF_MS, o.fetchBackoffMs * 2 ** (attempt - 1))
      const delayMs = Math.round(d / 2 + Math.random() * d / 2)
      log.warn({ err, runId, page, attempt, delayMs }, 'fetchChanges failed; retrying')
      await sleep(delayMs, undefined, { signal })
    }
  }
}

async function fetchOnce<P> (run: RunContext<P>, cursor: string, ctx: { signal: AbortSignal, log: Logger, page: number, runId: string }): Promise<PollPage<P>> {
  const { fetchChanges, fetchTimeoutMs } = run.options
  // A fetchChanges that ignores its signal still cannot hold the run past the timeout, a lost lease or close().
  const page = await deadline(fetchTimeoutMs, ctx.signal, async (signal) => await fetchChanges(cursor, { ...ctx, signal }), {
    error: () => new WebhookErrors.WEBHOOK_WORKER_TIMEOUT('fetchChanges', fetchTimeoutMs)
  })
  const problem = pageProblem(page) ??
    // The same cursor with more to come would ask for the same page forever.
    (page.hasMore && page.cursor === cursor ? `\`hasMore\` is true but \`cursor\` did not move from \`${cursor}\`` : undefined)
  if (problem !== undefined) throw new BadPageError(`fetchChanges returned a bad page: ${problem}`)
  return page
}

/**
 * A page that breaks the contract (`WEBHOOK_POLLER_BAD_PAGE`, a `TypeError`): not
 * retried within the run, and the cursor stays where it was.
 */
export class BadPageError extends WebhookErrors.WEBHOOK_POLLER_BAD_PAGE {}

async function pause<P> (run: RunContext<P>, retryAfterMs: number, err: Error): Promise<{ resumeAt: number }> {
  const { client, keys, options: o, log } = run
  const ms = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.ceil(retryAfterMs) : DEFAULT_PAUSE_MS
  const resumeAt = Date.now() + ms
  await bounded(client.set(keys.pause, resumeAt, 'PX', ms), o.enqueueTimeoutMs, 'pausing the poller')
  log.warn({ err, pauseMs: ms }, 'fetchChanges was rate limited: polling paused, cursor kept')
  return { resumeAt }
}

async function enqueue<P> (run: RunContext<P>, page: PollPage<P>): Promise<void> {
  if (page.events.length === 0) return
  const { source, enqueueTimeoutMs } = run.options
  const receivedAt = Date.now()
  const jobs = page.events.map((change) => {
    const event: WebhookEvent<P> = {
      v: EVENT_VERSION, id: change.id, source, type: change.type ?? '', payload: change.payload, headers: {}, receivedAt, origin: 'poll'
    }
    return { name: JOB_NAME, data: event, opts: eventJobOptions(safeJobId(source, change.id)) }
  })
  await bounded(run.events.waitUntilReady(), enqueueTimeoutMs, 'waiting for the event queue')
  await bounded(run.events.addBulk(jobs), enqueueTimeoutMs, 'enqueueing polled events')
}
