// @ts-check
// The fake provider: orders whose state changes over time, behind a small REST
// API that behaves like a real, unfriendly one: latency, a token-bucket rate
// limit answered with 429 + Retry-After, forced 429 bursts, and random 500s.
// The /_admin routes are the demo's own back door for the final check and are
// never throttled.
import { createServer } from 'node:http'

const STATUSES = ['pending', 'paid', 'packed', 'shipped', 'delivered']
const PAGE_LIMIT_MAX = 100

/** @typedef {import('./db.mjs').Order} Order */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {ReturnType<typeof createFakeProvider>} FakeProvider */

/**
 * @param {object} opts
 * @param {number} opts.orders how many orders exist
 * @param {ReturnType<import('./random.mjs').createRandom>} opts.random
 * @param {number} [opts.errorRate] share of API requests answered 500
 * @param {number} [opts.ratePerSec] token-bucket refill rate
 * @param {number} [opts.burstCapacity] token-bucket size
 * @param {[number, number]} [opts.latencyMs] per-request latency range
 */
export function createFakeProvider (opts) {
  const { random } = opts
  const errorRate = opts.errorRate ?? 0.05
  const ratePerSec = opts.ratePerSec ?? 200
  const capacity = opts.burstCapacity ?? 60
  const [latencyMin, latencyMax] = opts.latencyMs ?? [1, 6]

  /** @type {Map<string, Order & { seq: number }>} */
  const orders = new Map()
  let seq = 0
  let eventSeq = 0
  let tokens = capacity
  let refilledAt = Date.now()
  let throttledUntil = 0
  let throttleRetryAfterSec = 1
  /** @type {import('node:http').Server | undefined} */
  let server
  const stats = { requests: 0, served: 0, rateLimited: 0, burstRateLimited: 0, serverErrors: 0, orderReads: 0, listReads: 0, bursts: 0 }

  for (let i = 1; i <= opts.orders; i++) {
    const id = `ord_${String(i).padStart(4, '0')}`
    orders.set(id, {
      id,
      status: 'pending',
      amount_cents: random.int(500, 50_000),
      currency: random.pick(['usd', 'eur', 'gbp']),
      customer: `customer${random.int(1, 999)}@example.com`,
      note: '',
      version: 1,
      updated_at: new Date().toISOString(),
      seq: ++seq
    })
  }

  /** Changes one random order and returns the webhook event the provider would send for it. */
  function changeRandomOrder (nowMs = Date.now()) {
    const ids = [...orders.keys()]
    const order = /** @type {Order & { seq: number }} */ (orders.get(random.pick(ids)))
    const at = Math.max(nowMs, Date.parse(order.updated_at) + 1)
    const stage = STATUSES.indexOf(order.status)
    let type
    if (stage < STATUSES.length - 1 && random.chance(0.6)) {
      order.status = STATUSES[stage + 1]
      type = `order.${order.status}`
    } else if (random.chance(0.5)) {
      order.amount_cents = Math.max(100, order.amount_cents + random.int(-2000, 2000))
      type = 'order.amount_changed'
    } else {
      order.note = `note ${random.int(1, 1_000_000)}`
      type = 'order.updated'
    }
    order.version += 1
    order.updated_at = new Date(at).toISOString()
    order.seq = ++seq
    eventSeq += 1
    // Thin events, as many providers send: an id and a type. The state comes from the API.
    return { event_id: `evt_${String(eventSeq).padStart(6, '0')}`, type, created_at: order.updated_at, order_id: order.id }
  }

  /**
   * Every request to the public API answers 429 for the next `ms`.
   * @param {number} ms
   */
  function throttle (ms, retryAfterSec = 1) {
    throttledUntil = Date.now() + ms
    throttleRetryAfterSec = retryAfterSec
    stats.bursts += 1
  }

  function takeToken () {
    const now = Date.now()
    tokens = Math.min(capacity, tokens + (now - refilledAt) * ratePerSec / 1000)
    refilledAt = now
    if (tokens < 1) return false
    tokens -= 1
    return true
  }

  /**
   * @param {Order & { seq: number }} order
   * @returns {Order}
   */
  function publicOrder (order) {
    const { seq: _seq, ...rest } = order
    return rest
  }

  /**
   * Orders changed after `cursor` (a change sequence, opaque to clients), oldest change first.
   * @param {string} cursor
   * @param {number} limit
   */
  function listChanged (cursor, limit) {
    const after = Number.parseInt(cursor, 10) || 0
    const changed = [...orders.values()].filter((o) => o.seq > after).sort((a, b) => a.seq - b.seq)
    const page = changed.slice(0, limit)
    return {
      data: page.map(publicOrder),
      next_cursor: String(page.length > 0 ? page[page.length - 1].seq : after),
      has_more: changed.length > limit
    }
  }

  /**
   * @param {ServerResponse} res
   * @param {number} status
   * @param {unknown} body
   * @param {Record<string, string>} [headers]
   */
  function send (res, status, body, headers = {}) {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  /**
   * @param {URL} url
   * @param {ServerResponse} res
   */
  function handleAdmin (url, res) {
    if (url.pathname === '/_admin/orders') return send(res, 200, { data: [...orders.values()].map(publicOrder), cursor: String(seq) })
    if (url.pathname === '/_admin/stats') return send(res, 200, stats)
    send(res, 404, { error: 'not_found' })
  }

  /**
   * @param {URL} url
   * @param {ServerResponse} res
   */
  function handleApi (url, res) {
    const match = /^\/orders\/([^/]+)$/.exec(url.pathname)
    if (match) {
      stats.orderReads += 1
      const order = orders.get(decodeURIComponent(match[1]))
      if (!order) return send(res, 404, { error: 'not_found' })
      return send(res, 200, publicOrder(order))
    }
    if (url.pathname === '/orders') {
      stats.listReads += 1
      const limit = Math.min(PAGE_LIMIT_MAX, Math.max(1, Number.parseInt(url.searchParams.get('limit') ?? '50', 10) || 50))
      return send(res, 200, listChanged(url.searchParams.get('updated_since') ?? '0', limit))
    }
    send(res, 404, { error: 'not_found' })
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {ServerResponse} res
   */
  function onRequest (req, res) {
    const url = new URL(/** @type {string} */ (req.url), 'http://provider.local')
    if (url.pathname.startsWith('/_admin/')) return handleAdmin(url, res)
    stats.requests += 1
    setTimeout(function respond () {
      if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed' })
      if (Date.now() < throttledUntil) {
        stats.rateLimited += 1
        stats.burstRateLimited += 1
        return send(res, 429, { error: 'rate_limited' }, { 'retry-after': String(throttleRetryAfterSec) })
      }
      if (!takeToken()) {
        stats.rateLimited += 1
        return send(res, 429, { error: 'rate_limited' }, { 'retry-after': '1' })
      }
      if (random.chance(errorRate)) {
        stats.serverErrors += 1
        return send(res, 500, { error: 'internal_error' })
      }
      stats.served += 1
      handleApi(url, res)
    }, random.int(latencyMin, latencyMax))
  }

  return {
    stats,
    changeRandomOrder,
    throttle,
    /** The provider's current state, for the final check. */
    snapshot () {
      return [...orders.values()].map(publicOrder)
    },
    /** The change sequence now: a cursor that lists nothing older. */
    cursor () {
      return String(seq)
    },
    get url () {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server?.address())
      return `http://127.0.0.1:${port}`
    },
    async listen () {
      const listening = createServer(onRequest)
      server = listening
      listening.keepAliveTimeout = 5000
      await /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
        listening.once('error', reject)
        listening.listen(0, '127.0.0.1', resolve)
      }))
    },
    async close () {
      const listening = server
      if (!listening) return
      listening.closeAllConnections()
      await new Promise((resolve) => listening.close(resolve))
    }
  }
}
