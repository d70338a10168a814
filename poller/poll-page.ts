import type { Logger } from 'pino'
import { expected } from '../core/validate.js'

/** One change as `fetchChanges` reports it; the poller turns it into a `WebhookEvent` with `origin: 'poll'`. */
export interface PollChange<P = unknown> {
  /**
   * The event id, in the same namespace as the webhook route's ids for this
   * source (so both map to one job id): the provider's event id where the API
   * lists events (Stripe), or `objectId@updatedAt` for `updated_since` APIs.
   */
  id: string
  /** The event type; `''` when omitted. */
  type?: string
  /** The event's payload: a JSON object, as a webhook of the source would carry. */
  payload: P
}

/** What one call of `fetchChanges` returns. */
export interface PollPage<P = unknown> {
  /** The changes of this page, enqueued before `cursor` is saved. */
  events: Array<PollChange<P>>
  /** The cursor to ask from next time: an opaque string. */
  cursor: string
  /** True when the provider has more changes after `cursor`. */
  hasMore: boolean
}

/** The second argument of `fetchChanges`. */
export interface PollContext {
  /** Aborted when the fetch times out, the run loses its lease, or the poller closes. */
  signal: AbortSignal
  /** A child of the poller's logger bound to the source, run id and page. */
  log: Logger
  /** The page number within the run, from 1. */
  page: number
  /** A random id of the run, the same for all its pages. */
  runId: string
}

/** Asks the provider for the changes after `cursor`. */
export type FetchChanges<P = unknown> = (cursor: string, ctx: PollContext) => Promise<PollPage<P>>

/**
 * Checks what `fetchChanges` returned. Returns `undefined` when the page is
 * usable, or a sentence naming the first problem, in the house shape.
 */
export function pageProblem (page: unknown): string | undefined {
  if (!isPlainObject(page)) return expected('fetchChanges()', 'to resolve to { events, cursor, hasMore }', page)
  if (typeof page.cursor !== 'string') return expected('cursor', 'a string', page.cursor)
  if (typeof page.hasMore !== 'boolean') return expected('hasMore', 'a boolean', page.hasMore)
  if (!Array.isArray(page.events)) return expected('events', 'an array', page.events)
  for (const [i, change] of page.events.entries()) {
    const problem = changeProblem(change, `events[${i}]`)
    if (problem !== undefined) return problem
  }
  return undefined
}

function changeProblem (change: unknown, name: string): string | undefined {
  if (!isPlainObject(change)) return expected(name, 'an object { id, type, payload }', change)
  if (typeof change.id !== 'string' || change.id === '') return expected(`${name}.id`, 'a non-empty string', change.id)
  if (change.type !== undefined && typeof change.type !== 'string') return expected(`${name}.type`, 'a string', change.type)
  if (!isPlainObject(change.payload)) return expected(`${name}.payload`, 'an object', change.payload)
  return undefined
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
