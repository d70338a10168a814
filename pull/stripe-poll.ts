/**
 * Stripe's change feed: `GET /v1/events`, newest first, kept 30 days. The
 * cursor is the newest event delivered (`evt_…@<created>`); `ending_before`
 * it lists the events just newer, which come back oldest first. Before the
 * first event, and when the cursor's event has expired, the cursor is a time
 * (`since:<unix seconds>`): the helper walks back to the oldest event at or
 * after it.
 */
import { WebhookErrors } from '../core/errors.js'
import type { FetchChanges, PollChange, PollContext, PollPage } from '../poller/poll-page.js'
import { callStripe, clientOf, stripeErrorCode, stripePolicy, type StripeAccess, type StripeClient, type StripeEventLike, type StripeEventListParams, type StripeEventPage } from './stripe-client.js'
import { checkAccess, fail } from './stripe-options.js'
import { expected, checkInteger } from '../core/validate.js'
import type { FailurePolicy } from './common.js'

/** How long Stripe lists events. */
const RETENTION_MS = 30 * 86_400_000
const MAX_PAGE = 100
const MAX_TYPES = 20

/** Options of {@link stripePoll}. */
export interface StripePollOptions extends StripeAccess {
  /** The webhook route's source. @defaultValue `'stripe'` */
  source?: string
  /** Only these event types (Stripe's `types[]`, up to 20; `*` wildcards as Stripe allows). @defaultValue every type */
  types?: string[]
  /** How far back the very first run starts, in milliseconds; at most 30 days (what Stripe keeps). @defaultValue `3600000` (1 hour) */
  lookbackMs?: number
  /** Events per request, 1 to 100. @defaultValue `100` */
  pageSize?: number
  /** The pause after a 429 (Stripe names none), in milliseconds. @defaultValue `2000` */
  rateLimitPauseMs?: number
}

/** What {@link stripePoll} returns: spread it into `createPoller`. */
export interface StripePoll {
  source: string
  fetchChanges: FetchChanges<StripeEventLike>
  initialCursor: () => string
}

/** A cursor: after an event (`evt_…@<created>`, or a bare id), or from a time. */
type Cursor = { after: string, createdSec: number | undefined } | { sinceSec: number }

function parseCursor (cursor: string): Cursor {
  const since = /^since:(\d+)$/.exec(cursor)
  if (since !== null) return { sinceSec: Number(since[1]) }
  const at = cursor.lastIndexOf('@')
  if (at > 0 && /^\d+$/.test(cursor.slice(at + 1))) return { after: cursor.slice(0, at), createdSec: Number(cursor.slice(at + 1)) }
  if (/^evt_\w+$/.test(cursor)) return { after: cursor, createdSec: undefined }
  throw new WebhookErrors.WEBHOOK_PULL_REJECTED(`stripePoll(): the cursor ${JSON.stringify(cursor)} is neither evt_…@<seconds>, evt_… nor since:<seconds>`)
}

const cursorAfter = (event: StripeEventLike): string => `${event.id}@${event.created}`

/** The page's events, oldest first, as the poller's changes: the same id, type and payload as the webhook. */
function changesOf (newestFirst: StripeEventLike[]): Array<PollChange<StripeEventLike>> {
  return [...newestFirst].reverse().map((event) => ({ id: event.id, type: event.type, payload: event }))
}

/** True for Stripe's answer to an `ending_before` id it no longer has. */
function isStaleCursor (err: unknown): boolean {
  const { status, code, param } = stripeErrorCode(err)
  return status === 400 && code === 'resource_missing' && (param === undefined || param === 'ending_before')
}

/**
 * The poller hooks for Stripe: spread into `createPoller`. Each page is the
 * events just newer than the cursor, oldest first, with Stripe's event ids
 * (so a webhook and a poll of one event are one job). Events created while
 * a run pages are newer than its cursor: the next page lists them. The
 * first run starts `lookbackMs` back. A cursor whose event Stripe no longer
 * lists (over 30 days old) restarts from the cursor's time, with a warning:
 * every event still listed is delivered, the repeats are deduplicated.
 */
export function stripePoll (options: StripePollOptions): StripePoll {
  const helper = 'stripePoll()'
  const o = checkAccess(helper, options, ['client', 'apiKey', 'source', 'types', 'lookbackMs', 'pageSize', 'rateLimitPauseMs'])
  fail(helper, checkInteger('lookbackMs', o.lookbackMs ?? 0, 0, RETENTION_MS))
  fail(helper, checkInteger('pageSize', o.pageSize ?? 1, 1, MAX_PAGE))
  const lookbackMs = (o.lookbackMs ?? 3_600_000) as number
  const pageSize = (o.pageSize ?? MAX_PAGE) as number
  const types = o.types
  if (types !== undefined && (!Array.isArray(types) || types.length === 0 || types.length > MAX_TYPES || !types.every((t) => typeof t === 'string' && t !== ''))) {
    fail(helper, expected('types', `an array of 1 to ${MAX_TYPES} event types`, types))
  }
  const client = clientOf(helper, o)
  const policy = stripePolicy(o.rateLimitPauseMs)
  const filter: StripeEventListParams = types === undefined ? {} : { types: [...types as string[]] }

  async function fetchChanges (cursor: string, ctx: PollContext): Promise<PollPage<StripeEventLike>> {
    const c = parseCursor(cursor)
    const stripe = await client()
    if ('sinceSec' in c) return await walkBack(stripe, policy, c.sinceSec, cursor, ctx)
    let page: StripeEventPage | 'gone'
    try {
      page = await listEvents(stripe, policy, { ...filter, ending_before: c.after, limit: pageSize })
    } catch (err) {
      // Stripe answers an `ending_before` id it does not have with a 400 `resource_missing`.
      if (!isStaleCursor((err as { cause?: unknown }).cause)) throw err
      page = 'gone'
    }
    if (page === 'gone') {
      const sinceSec = c.createdSec ?? Math.floor((Date.now() - RETENTION_MS) / 1000)
      ctx.log.warn({ cursor, sinceSec }, 'stripePoll(): Stripe no longer lists the cursor\'s event (over 30 days old?): restarting from its time; repeats are deduplicated')
      return await walkBack(stripe, policy, sinceSec, cursor, ctx)
    }
    if (page.data.length === 0) return { events: [], cursor, hasMore: false }
    return { events: changesOf(page.data), cursor: cursorAfter(page.data[0]), hasMore: page.has_more }
  }

  // The oldest page of the events created at or after `sinceSec`: listing is
  // newest first, so the walk pages back with `starting_after` to the end.
  // Events created meanwhile are newer than anything it returns.
  async function walkBack (stripe: StripeClient, policy: FailurePolicy, sinceSec: number, cursor: string, ctx: PollContext): Promise<PollPage<StripeEventLike>> {
    const params: StripeEventListParams = { ...filter, created: { gte: sinceSec }, limit: pageSize }
    let page = await list(stripe, policy, params)
    let oldest = page.data
    let pages = 1
    while (page.has_more && page.data.length > 0) {
      ctx.signal.throwIfAborted()
      page = await list(stripe, policy, { ...params, starting_after: page.data[page.data.length - 1].id })
      if (page.data.length > 0) oldest = page.data
      pages++
    }
    if (oldest.length === 0) return { events: [], cursor, hasMore: false }
    if (pages > 1) ctx.log.debug({ pages, sinceSec }, 'stripePoll(): walked back to the oldest events after the cursor\'s time')
    return { events: changesOf(oldest), cursor: cursorAfter(oldest[0]), hasMore: pages > 1 }
  }

  return {
    source: o.source,
    fetchChanges,
    initialCursor: () => `since:${Math.floor((Date.now() - lookbackMs) / 1000)}`
  }
}

/** One `GET /v1/events`: `'gone'` for a 404 (a stale `ending_before`), mapped errors otherwise. */
async function listEvents (stripe: StripeClient, policy: FailurePolicy, params: StripeEventListParams): Promise<StripeEventPage | 'gone'> {
  return await callStripe(policy, 'listing events', () => stripe.events.list(params))
}

/** One `GET /v1/events` where no id is named, so a 404 is not a stale cursor but a refusal. */
async function list (stripe: StripeClient, policy: FailurePolicy, params: StripeEventListParams): Promise<StripeEventPage> {
  const page = await listEvents(stripe, policy, params)
  if (page === 'gone') throw new WebhookErrors.WEBHOOK_PULL_REJECTED('stripePoll(): Stripe answered 404 to GET /v1/events')
  return page
}
