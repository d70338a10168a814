/**
 * Shopify's hydrate: the webhook topic names a REST resource and the payload
 * its id; the helper fetches the object's current state, versioned by its
 * `updated_at`. That time has second resolution, so the helper waits until
 * the second is over on Shopify's clock before it trusts a state ("settles"):
 * a state with version V is then the last one of second V, and a webhook and
 * a poll of one change, equal versions, apply once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { WebhookErrors } from '../core/errors.js'
import type { WebhookEvent } from '../core/event.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { checkInteger } from '../core/validate.js'
import type { WorkerContext } from '../worker/options.js'
import { PermanentError, pulledVersion, pullHooks, timeMs, type PulledState, type PullHooks } from './common.js'
import { checkOptions, checkSource, FETCH_KEYS, resolveClient, shopifyGet, type ShopifyFetchConfig, type ShopifyRestClient } from './shopify-client.js'
import { payloadId, resourcePath, topicResource } from './shopify-topics.js'

export type { ShopifyFetchConfig, ShopifyResponse, ShopifyRestClient } from './shopify-client.js'
export { shopifyPoll, type ShopifyPoll, type ShopifyPollOptions } from './shopify-poll.js'
export type { ShopifyPollResource } from './shopify-topics.js'

/**
 * Options of {@link shopifyPull}: your REST `client`, or the credentials of
 * the `fetch` client (`shop`, `accessToken`, `apiVersion`, and optionally
 * `fetch` and `baseUrl`).
 */
export interface ShopifyPullOptions extends Partial<ShopifyFetchConfig> {
  /** A `createAdminRestApiClient(…)` of `@shopify/admin-api-client`, or anything with its `get`. */
  client?: ShopifyRestClient
  /** The webhook route's `source`. @defaultValue `'shopify'` */
  source?: string
  /**
   * How long after an object's `updated_at`, on Shopify's clock (the `Date`
   * header), a fetched state is trusted as that second's last; a fetch made
   * sooner waits the rest and fetches again. `0` turns settling off, and with
   * it `skipEqualVersion`. In milliseconds, an integer from 0 to 60000.
   * @defaultValue `2000`
   */
  settleMs?: number
}

/** Fetches of one object before a state that will not settle is given up (and the attempt retried). */
const SETTLE_ROUNDS = 3
const KNOWN = ['client', 'source', 'settleMs', ...FETCH_KEYS] as const
const SHOP_HEADERS = ['x-shopify-shop-domain', 'shopify-shop-domain']

/**
 * The worker hooks for Shopify webhooks: spread into `createWebhookWorker`.
 * `hydrate` fetches `GET /admin/api/{version}/{resource}/{id}.json` for the
 * topic's resource (a `…/delete` topic or a 404 is `null`, a tombstone);
 * `objectKey` is `shopify:{resource}:{id}` (`shopify:{shop}:{resource}:{id}`
 * when `shop` is given); the version is `updated_at` in ms. A topic of no
 * mapped resource hands its payload on as the state, unfetched and unordered.
 */
export function shopifyPull (options: ShopifyPullOptions): PullHooks {
  const fn = 'shopifyPull()'
  const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)
  const o = checkOptions<ShopifyPullOptions>(fn, options, KNOWN, invalid)
  const source = checkSource(fn, o.source, invalid)
  const settleMs = o.settleMs ?? 2000
  const problem = checkInteger('settleMs', settleMs, 0, 60_000)
  if (problem !== undefined) invalid.fail(`${fn}: ${problem}`)
  const { client, shop } = resolveClient(fn, o, invalid)
  const keyPrefix = shop === undefined ? 'shopify:' : `shopify:${shop}:`

  function objectKey (event: WebhookEvent): string | undefined {
    const topic = topicResource(event.type)
    const id = topic === undefined ? undefined : payloadId(event.payload)
    return topic === undefined || id === undefined ? undefined : `${keyPrefix}${topic.name}:${id}`
  }

  async function hydrate (event: WebhookEvent, ctx: WorkerContext): Promise<PulledState | null> {
    checkShop(event)
    const topic = topicResource(event.type)
    if (topic === undefined) return passThrough(event)
    const id = payloadId(event.payload)
    if (id === undefined) throw new PermanentError(`${fn}: the ${event.type} event's payload has no usable \`id\` (nor \`admin_graphql_api_id\`)`)
    if (topic.deleted) return null
    const parentId = topic.resource.parent === undefined ? undefined : payloadId(event.payload, topic.resource.parent)
    if (topic.resource.parent !== undefined && parentId === undefined) throw new PermanentError(`${fn}: the ${event.type} event's payload has no \`${topic.resource.parent}\``)
    const path = resourcePath(topic.name, topic.resource, id, parentId)
    for (let round = 1; ; round++) {
      const answer = await shopifyGet(client, path, undefined, ctx.signal)
      if (answer === 'gone') return null
      const object = answer.body[topic.resource.singular]
      if (typeof object !== 'object' || object === null) throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`Shopify answered GET ${path} without \`${topic.resource.singular}\``)
      const fields = object as Record<string, unknown>
      const updated = timeMs(fields.updated_at ?? fields.created_at)
      const state: PulledState = { kind: topic.name, id, object, version: updated ?? event.receivedAt }
      // A later change within the same second would share this version: wait the second out, then read again.
      const wait = updated === undefined || settleMs === 0 ? 0 : updated + settleMs - answer.serverNow
      if (wait <= 0) return state
      if (round === SETTLE_ROUNDS) throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`Shopify's ${path} kept changing within ${settleMs} ms of its updated_at over ${SETTLE_ROUNDS} reads`)
      await sleep(wait, undefined, { signal: ctx.signal })
    }
  }

  // An event of another shop would be fetched with this shop's token: a 404, and a false tombstone.
  function checkShop (event: WebhookEvent): void {
    if (shop === undefined) return
    const from = SHOP_HEADERS.map((h) => event.headers[h]).find((v) => v !== undefined)
    if (from !== undefined && from.toLowerCase() !== shop.toLowerCase()) {
      throw new WebhookErrors.WEBHOOK_PULL_REJECTED(`${fn}: the event comes from the shop ${from}; this helper reads ${shop}`)
    }
  }

  return pullHooks(source, { hydrate, objectKey, version: pulledVersion, skipEqualVersion: settleMs > 0 })
}

/** An unmapped topic's payload, as the state: nothing to fetch it by, so it is not ordered (no object key). */
function passThrough (event: WebhookEvent): PulledState {
  const payload = event.payload as Record<string, unknown> | null
  return {
    kind: event.type.split('/', 1)[0] ?? '',
    id: payloadId(payload) ?? event.id,
    object: payload,
    version: timeMs(payload?.updated_at) ?? event.receivedAt
  }
}
