/**
 * Shopify's change feed for `createPoller`: a resource's list filtered by
 * `updated_at`, one window at a time. A window is `[from − overlap, to]`,
 * `to` fixed when the window starts, paged with the `Link` header's
 * `page_info` (a cursor Shopify keeps on its side, with the window's filters:
 * a page boundary inside one `updated_at` loses nothing). An object changed
 * while the window is paged gets an `updated_at` past `to` and is found by
 * the next window; the overlap re-reads the window's last seconds, for a
 * change committed late or stamped by a clock behind ours. What the overlap
 * reads twice has the same id (`orders/450789469@2026-01-01T15:00:00Z`), so
 * it is deduped as one event.
 */
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { checkInteger, checkOneOf } from '../core/validate.js'
import type { PollChange, PollContext, PollPage } from '../poller/poll-page.js'
import { PermanentError, timeMs } from './common.js'
import { checkOptions, checkSource, FETCH_KEYS, nextPageInfo, resolveClient, shopifyGet, type ShopifyFetchConfig, type ShopifyRestClient } from './shopify-client.js'
import { payloadId, POLLABLE, SHOPIFY_RESOURCES, type ShopifyPollResource } from './shopify-topics.js'

/** Options of {@link shopifyPoll}: the resource, and the client as for `shopifyPull`. */
export interface ShopifyPollOptions extends Partial<ShopifyFetchConfig> {
  /** A `createAdminRestApiClient(…)` of `@shopify/admin-api-client`, or anything with its `get`. */
  client?: ShopifyRestClient
  /** The resource to page: `'orders'` (all statuses), `'products'`, `'customers'` or `'draft_orders'`. Required. */
  resource: ShopifyPollResource
  /** The webhook route's `source`, the poller's. @defaultValue `'shopify'` */
  source?: string
  /**
   * How far each window reaches back before the previous one's end, in
   * milliseconds: covers late commits and clock skew. An integer from 1000
   * to 86400000.
   * @defaultValue `60000`
   */
  overlapMs?: number
  /**
   * How far back the very first window starts, in milliseconds. Orders older
   * than 60 days need the `read_all_orders` scope. An integer from 0 and up.
   * @defaultValue `86400000` (one day)
   */
  lookbackMs?: number
  /** Objects per page (Shopify's `limit`). An integer from 1 to 250. @defaultValue `250` */
  pageSize?: number
}

/** What `shopifyPoll` returns: spread it into `createPoller`. */
export interface ShopifyPoll {
  source: string
  fetchChanges: (cursor: string, ctx: PollContext) => Promise<PollPage<Record<string, unknown>>>
  initialCursor: () => string
}

// Between windows `{ from }`; inside one, also its end and the next page's `page_info`.
interface Cursor { v: 1, from: number, to?: number, page?: string }

const KNOWN = ['client', 'resource', 'source', 'overlapMs', 'lookbackMs', 'pageSize', ...FETCH_KEYS] as const

/**
 * The poll of one Shopify resource: spread into `createPoller`. Each change
 * is reported as the resource's update topic (`orders/updated`,
 * `products/update`…) with the object as payload, so `shopifyPull`'s hydrate
 * reads it as it reads the webhook. Its id is `{resource}/{id}@{updated_at}`
 * (UTC, seconds): a webhook's id is a delivery id no poll can know, so a
 * webhook and a poll of one change are two events, which the worker applies
 * once through the object's version (`skipEqualVersion`). Deletions are not
 * listed by the API: they arrive by webhook only.
 */
export function shopifyPoll (options: ShopifyPollOptions): ShopifyPoll {
  const fn = 'shopifyPoll()'
  const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)
  const o = checkOptions<ShopifyPollOptions>(fn, options, KNOWN, invalid)
  const check = (problem: string | undefined): void => { if (problem !== undefined) invalid.fail(`${fn}: ${problem}`) }
  check(checkOneOf('resource', o.resource, POLLABLE))
  const source = checkSource(fn, o.source, invalid)
  const overlapMs = o.overlapMs ?? 60_000
  check(checkInteger('overlapMs', overlapMs, 1000, 86_400_000))
  const lookbackMs = o.lookbackMs ?? 86_400_000
  check(checkInteger('lookbackMs', lookbackMs, 0))
  const pageSize = o.pageSize ?? 250
  check(checkInteger('pageSize', pageSize, 1, 250))
  const { client } = resolveClient(fn, o, invalid)
  const resource = o.resource
  const topic = SHOPIFY_RESOURCES[resource]!.updateTopic!

  async function fetchChanges (cursor: string, ctx: PollContext): Promise<PollPage<Record<string, unknown>>> {
    const c = parseCursor(cursor)
    const inWindow = c.to !== undefined && c.page !== undefined
    const to = inWindow ? c.to! : Math.floor(Date.now() / 1000) * 1000
    // Once `page_info` is sent, Shopify refuses every other filter: the cursor carries them.
    const params: Record<string, string | number> = inWindow
      ? { limit: pageSize, page_info: c.page! }
      : {
          limit: pageSize,
          updated_at_min: isoSeconds(c.from - overlapMs),
          updated_at_max: isoSeconds(to),
          order: 'updated_at asc',
          ...(resource === 'orders' ? { status: 'any' } : {})
        }
    const answer = await shopifyGet(client, resource, params, ctx.signal)
    if (answer === 'gone') throw new WebhookErrors.WEBHOOK_PULL_REJECTED(`Shopify answered 404 to GET ${resource}: check the API version`)
    const list = answer.body[resource]
    if (!Array.isArray(list)) throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`Shopify answered GET ${resource} without \`${resource}\``)
    const events: Array<PollChange<Record<string, unknown>>> = []
    for (const object of list as unknown[]) {
      const id = payloadId(object)
      const updated = timeMs((object as Record<string, unknown> | null)?.updated_at)
      if (id === undefined || updated === undefined) {
        ctx.log.warn({ resource }, 'shopifyPoll(): skipped an object without a usable id or updated_at')
        continue
      }
      events.push({ id: `${resource}/${id}@${isoSeconds(updated)}`, type: topic, payload: object as Record<string, unknown> })
    }
    const page = nextPageInfo(answer.headers.get('link'))
    const next: Cursor = page === undefined ? { v: 1, from: to } : { v: 1, from: c.from, to, page }
    return { events, cursor: JSON.stringify(next), hasMore: page !== undefined }
  }

  return {
    source,
    fetchChanges,
    initialCursor: () => JSON.stringify({ v: 1, from: Date.now() - lookbackMs } satisfies Cursor)
  }
}

function parseCursor (text: string): Cursor {
  let c: Partial<Cursor> | undefined
  try { c = JSON.parse(text) } catch {}
  if (c?.v !== 1 || typeof c.from !== 'number' || (c.to !== undefined && typeof c.to !== 'number') || (c.page !== undefined && typeof c.page !== 'string')) {
    throw new PermanentError(`shopifyPoll(): the cursor ${JSON.stringify(text).slice(0, 80)} is not one of shopifyPoll's`)
  }
  return c as Cursor
}

// ISO 8601 in UTC without milliseconds, as Shopify's filters take it.
function isoSeconds (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}
