/**
 * Which REST resource a Shopify webhook topic names, and where its current
 * state is read. A topic is `{resource}/{action}` (`orders/updated`,
 * `products/delete`); the payload is the resource itself, with its `id`.
 */

/** A resource the helpers fetch: its REST path and the singular key its answer is wrapped in. */
export interface ShopifyResource {
  /** The key of `GET …/{resource}/{id}.json`'s answer: `{ order: {…} }`. */
  singular: string
  /** For resources read through their order (fulfillments, refunds): the payload field naming it. */
  parent?: 'order_id'
  /** The topic a poll reports a change of this resource as; only for resources that can be polled. */
  updateTopic?: string
}

/** The mapped resources, by the topic's first segment. */
export const SHOPIFY_RESOURCES: Readonly<Record<string, ShopifyResource>> = Object.freeze({
  orders: { singular: 'order', updateTopic: 'orders/updated' },
  products: { singular: 'product', updateTopic: 'products/update' },
  customers: { singular: 'customer', updateTopic: 'customers/update' },
  draft_orders: { singular: 'draft_order', updateTopic: 'draft_orders/update' },
  collections: { singular: 'collection' },
  inventory_items: { singular: 'inventory_item' },
  locations: { singular: 'location' },
  fulfillments: { singular: 'fulfillment', parent: 'order_id' },
  refunds: { singular: 'refund', parent: 'order_id' }
})

/** The resources `shopifyPoll` can page by `updated_at_min`. */
export const POLLABLE = ['orders', 'products', 'customers', 'draft_orders'] as const

/** A pollable resource. */
export type ShopifyPollResource = typeof POLLABLE[number]

/** What a topic names: a mapped resource and whether the topic reports its deletion; `undefined` for other topics. */
export function topicResource (topic: string): { name: string, resource: ShopifyResource, deleted: boolean } | undefined {
  const [name, action] = topic.split('/', 2)
  if (name === undefined || action === undefined || !Object.hasOwn(SHOPIFY_RESOURCES, name)) return undefined
  return { name, resource: SHOPIFY_RESOURCES[name]!, deleted: action === 'delete' }
}

/**
 * The object's id in a payload: the digits of `admin_graphql_api_id`
 * (`gid://shopify/Order/450789469`) when present, a string, which no JSON
 * parse can round; else `id` when it is a safe integer. `undefined` when
 * neither is usable (an id past 2^53 parsed as a number is rounded, and
 * fetching it would find another object or none).
 */
export function payloadId (payload: unknown, field = 'id'): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined
  const p = payload as Record<string, unknown>
  if (field === 'id' && typeof p.admin_graphql_api_id === 'string') {
    const m = /\/(\d+)$/.exec(p.admin_graphql_api_id)
    if (m !== null) return m[1]
  }
  const id = p[field]
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id)
  return typeof id === 'string' && /^\d+$/.test(id) ? id : undefined
}

/** The REST path of an object, relative to `/admin/api/{version}/`. */
export function resourcePath (name: string, resource: ShopifyResource, id: string, parentId: string | undefined): string {
  return resource.parent === undefined ? `${name}/${id}` : `orders/${parentId ?? ''}/${name}/${id}`
}
