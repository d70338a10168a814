// @ts-check
/**
 * A local fake of Shopify's REST Admin API, for the pull helpers' tests:
 * `GET /admin/api/{version}/{resource}/{id}.json` answering `{ order: {…} }`,
 * the lists `{ orders: [...] }` filtered by `updated_at_min`/`updated_at_max`
 * (orders by `status`, `open` by default) and paged by `Link` headers whose
 * `page_info` carries the first request's filters (any other filter next to it
 * is a 400), `X-Shopify-Access-Token` auth (401), 404 `{ errors: 'Not Found' }`,
 * 429 storms with `Retry-After`, a `Date` header on every answer, and the
 * shop's UTC offset in every time. Objects are created, updated and deleted
 * by the test, their `updated_at` from a clock it controls.
 */
import { createServer } from 'node:http'

/** @typedef {Record<string, unknown> & { id: number }} ShopifyObject */
/** @typedef {{ method: string, path: string, query: Record<string, string>, status: number }} FakeRequest */

const RESOURCES = /** @type {Record<string, { singular: string, gid: string }>} */ ({
  orders: { singular: 'order', gid: 'Order' },
  products: { singular: 'product', gid: 'Product' },
  customers: { singular: 'customer', gid: 'Customer' },
  draft_orders: { singular: 'draft_order', gid: 'DraftOrder' },
  collections: { singular: 'collection', gid: 'Collection' },
  inventory_items: { singular: 'inventory_item', gid: 'InventoryItem' },
  locations: { singular: 'location', gid: 'Location' },
  fulfillments: { singular: 'fulfillment', gid: 'Fulfillment' },
  refunds: { singular: 'refund', gid: 'Refund' }
})
const CHILDREN = ['fulfillments', 'refunds']
const LISTS = ['orders', 'products', 'customers', 'draft_orders']
const PAGE_INFO_ALLOWED = ['limit', 'fields', 'page_info']

/**
 * Starts the fake on a free port of 127.0.0.1.
 * @param {{ token?: string, utcOffset?: string, retryAfter?: string }} [options]
 */
export async function startShopifyFake (options = {}) {
  const token = options.token ?? 'shpat_fake_token'
  const offset = options.utcOffset ?? '-05:00'
  const offsetMs = (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000
  /** @type {Map<string, Map<number, ShopifyObject>>} */
  const store = new Map(Object.keys(RESOURCES).map((r) => [r, new Map()]))
  /** @type {FakeRequest[]} */
  const requests = []
  /** @type {Array<(request: FakeRequest) => void | Promise<void>>} */
  const afterResponse = []
  let nextId = 450789469
  let clockShift = 0
  let storm = 0
  let stormRetryAfter = options.retryAfter ?? '1.0'

  const now = () => Date.now() + clockShift
  /** Shopify's time format: seconds, in the shop's offset (`2026-01-01T10:00:00-05:00`). @param {number} ms */
  const format = (ms) => new Date(Math.floor(ms / 1000) * 1000 + offsetMs).toISOString().replace('.000Z', offset)
  /** @param {unknown} v */
  const seconds = (v) => Math.floor(Date.parse(String(v)) / 1000)

  /** @param {string} resource @param {number} id */
  function table (resource, id) {
    const t = store.get(resource)
    if (t === undefined) throw new Error(`unknown resource ${resource}`)
    return { t, obj: t.get(id) }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    const query = Object.fromEntries(url.searchParams)
    /** @type {FakeRequest} */
    const record = { method: req.method ?? 'GET', path: url.pathname, query, status: 0 }
    requests.push(record)
    /** @param {number} status @param {unknown} body @param {Record<string, string>} [headers] */
    const send = (status, body, headers = {}) => {
      record.status = status
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        date: new Date(now()).toUTCString(),
        'x-shopify-shop-api-call-limit': `${Math.min(40, requests.length % 40 + 1)}/40`,
        ...headers
      })
      res.end(JSON.stringify(body))
      for (const hook of afterResponse) Promise.resolve(hook(record)).catch(() => {})
    }
    if (req.headers['x-shopify-access-token'] !== token) return send(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' })
    if (storm > 0) {
      storm--
      return send(429, { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' }, { 'retry-after': stormRetryAfter })
    }
    const one = /^\/admin\/api\/[\w-]+\/(?:orders\/(\d+)\/)?(\w+)\/(\d+)\.json$/.exec(url.pathname)
    if (one !== null && req.method === 'GET') {
      const [, orderId, resource = '', id] = one
      const meta = RESOURCES[resource]
      if (meta === undefined || (orderId !== undefined) !== CHILDREN.includes(resource)) return send(404, { errors: 'Not Found' })
      const obj = table(resource, Number(id)).obj
      if (obj === undefined || (orderId !== undefined && String(obj.order_id) !== orderId)) return send(404, { errors: 'Not Found' })
      return send(200, { [meta.singular]: obj })
    }
    const list = /^\/admin\/api\/([\w-]+)\/(\w+)\.json$/.exec(url.pathname)
    if (list !== null && req.method === 'GET' && LISTS.includes(list[2] ?? '')) return sendList(list[1] ?? '', list[2] ?? '', query, send, url.origin)
    return send(404, { errors: 'Not Found' })
  })

  /**
   * A list page. The page_info is the first request's filters and sort, and
   * the sort key of the page's last object: the next page starts after it
   * (keyset), so objects changed between pages shift nothing.
   * @param {string} version @param {string} resource @param {Record<string, string>} query
   * @param {(status: number, body: unknown, headers?: Record<string, string>) => void} send @param {string} origin
   */
  function sendList (version, resource, query, send, origin) {
    const limit = Number(query.limit ?? 50)
    if (!Number.isInteger(limit) || limit < 1 || limit > 250) return send(400, { errors: { limit: 'limit must be between 1 and 250' } })
    /** @type {{ filters: Record<string, string>, after?: [number, number], before?: [number, number] }} */
    let state
    if (query.page_info !== undefined) {
      const extra = Object.keys(query).find((k) => !PAGE_INFO_ALLOWED.includes(k))
      if (extra !== undefined) return send(400, { errors: { [extra]: `${extra} cannot be passed when page_info is present.` } })
      try {
        state = JSON.parse(Buffer.from(query.page_info, 'base64url').toString('utf8'))
      } catch {
        return send(400, { errors: { page_info: 'Invalid value.' } })
      }
    } else {
      const { limit: _l, ...filters } = query
      state = { filters }
    }
    const f = state.filters
    const byUpdated = f.order === 'updated_at asc'
    /** @param {ShopifyObject} o @returns {[number, number]} */
    const key = (o) => [byUpdated ? seconds(o.updated_at) : 0, o.id]
    /** @param {[number, number]} a @param {[number, number]} b */
    const cmp = (a, b) => a[0] - b[0] || a[1] - b[1]
    let all = [...(store.get(resource)?.values() ?? [])].filter((o) =>
      (f.updated_at_min === undefined || seconds(o.updated_at) >= seconds(f.updated_at_min)) &&
      (f.updated_at_max === undefined || seconds(o.updated_at) <= seconds(f.updated_at_max)) &&
      (resource !== 'orders' || f.status === 'any' || (o.closed_at == null && o.cancelled_at == null)))
    all.sort((a, b) => cmp(key(a), key(b)))
    let page
    if (state.before !== undefined) {
      const before = state.before
      all = all.filter((o) => cmp(key(o), before) < 0)
      page = all.slice(-limit)
    } else {
      const after = state.after
      if (after !== undefined) all = all.filter((o) => cmp(key(o), after) > 0)
      page = all.slice(0, limit)
    }
    const links = []
    /** @param {object} s @param {string} rel */
    const link = (s, rel) => `<${origin}/admin/api/${version}/${resource}.json?limit=${limit}&page_info=${Buffer.from(JSON.stringify(s)).toString('base64url')}>; rel="${rel}"`
    const first = page[0]
    const last = page[page.length - 1]
    if (query.page_info !== undefined && first !== undefined) links.push(link({ filters: f, before: key(first) }, 'previous'))
    const more = state.before !== undefined || page.length < all.length
    if (more && last !== undefined) links.push(link({ filters: f, after: key(last) }, 'next'))
    return send(200, { [resource]: page }, links.length > 0 ? { link: links.join(', ') } : {})
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    /** The origin, `http://127.0.0.1:{port}`. */
    url: `http://127.0.0.1:${port}`,
    /** The host as a store domain, `127.0.0.1:{port}`. */
    host: `127.0.0.1:${port}`,
    token,
    /** Every request received, in order. */
    requests,
    /** The fake's clock (the `Date` header's), in ms. */
    now,
    /** Moves the fake's clock by `ms` from the real one. @param {number} ms */
    setClockShift (ms) { clockShift = ms },
    /** A time as the fake writes it. @param {number} ms */
    format,
    /**
     * Creates an object (a fulfillment or refund needs `order_id`), stamped now or `at`.
     * @param {string} resource @param {Record<string, unknown>} [fields] @param {{ at?: number }} [opts]
     */
    create (resource, fields = {}, opts = {}) {
      const meta = RESOURCES[resource]
      if (meta === undefined) throw new Error(`unknown resource ${resource}`)
      const id = nextId++
      const time = format(opts.at ?? now())
      /** @type {ShopifyObject} */
      const obj = { id, admin_graphql_api_id: `gid://shopify/${meta.gid}/${id}`, created_at: time, ...(resource === 'refunds' ? {} : { updated_at: time }), ...fields }
      table(resource, id).t.set(id, obj)
      return obj
    },
    /**
     * Changes an object and stamps its `updated_at` with now, or `at`.
     * @param {string} resource @param {number} id @param {Record<string, unknown>} fields @param {{ at?: number }} [opts]
     */
    update (resource, id, fields, opts = {}) {
      const { t, obj } = table(resource, id)
      if (obj === undefined) throw new Error(`no ${resource} ${id}`)
      const next = { ...obj, ...fields, updated_at: format(opts.at ?? now()) }
      t.set(id, next)
      return next
    },
    /** Deletes an object: then 404. @param {string} resource @param {number} id */
    remove (resource, id) { table(resource, id).t.delete(id) },
    /** The stored object. @param {string} resource @param {number} id */
    get (resource, id) { return table(resource, id).obj },
    /** The next `n` requests are answered 429 with `Retry-After`. @param {number} n @param {string} [retryAfter] */
    rateLimit (n, retryAfter) {
      storm = n
      if (retryAfter !== undefined) stormRetryAfter = retryAfter
    },
    /** Calls `hook` after each answer is sent. @param {(request: FakeRequest) => void | Promise<void>} hook */
    afterResponse (hook) { afterResponse.push(hook) },
    /** Requests whose path matches. @param {RegExp} [path] */
    count (path) { return path === undefined ? requests.length : requests.filter((r) => path.test(r.path)).length },
    async close () {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve(undefined)))
    }
  }
}

/** @typedef {Awaited<ReturnType<typeof startShopifyFake>>} ShopifyFake */
