// @ts-check
// A local Stripe API for tests and the demo: the retrieve paths the pull
// helpers use, `GET /v1/events` (newest first; limit, starting_after,
// ending_before, created[...], types[]), Stripe's error JSON, the
// `{ id, object, deleted: true }` of a deleted customer or product, the
// secret key as Bearer or Basic auth, the Stripe-Account header, injected
// 429s and 403s, and a request log. Changes go through create/update/remove,
// which append the event Stripe would (`customer.updated`, with the object's
// snapshot), so a poller finds them.
import { createServer } from 'node:http'

/** @typedef {Record<string, unknown> & { id: string, object: string }} StripeObject */
/**
 * @typedef {object} StripeEvent
 * @property {string} id
 * @property {'event'} object
 * @property {string} api_version
 * @property {number} created
 * @property {{ object: StripeObject, previous_attributes?: Record<string, unknown> }} data
 * @property {boolean} livemode
 * @property {number} pending_webhooks
 * @property {{ id: string | null, idempotency_key: string | null }} request
 * @property {string} type
 * @property {string} [account]
 */
/** @typedef {{ method: string, path: string, status: number, account: string | undefined }} LoggedRequest */

/** `GET /v1/<path>/{id}` → the object kind it returns. */
export const STRIPE_PATHS = Object.freeze({
  customers: 'customer',
  invoices: 'invoice',
  invoiceitems: 'invoiceitem',
  subscriptions: 'subscription',
  subscription_schedules: 'subscription_schedule',
  payment_intents: 'payment_intent',
  setup_intents: 'setup_intent',
  payment_methods: 'payment_method',
  charges: 'charge',
  refunds: 'refund',
  disputes: 'dispute',
  payouts: 'payout',
  transfers: 'transfer',
  prices: 'price',
  products: 'product',
  plans: 'plan',
  coupons: 'coupon',
  promotion_codes: 'promotion_code',
  quotes: 'quote',
  credit_notes: 'credit_note',
  tax_rates: 'tax_rate',
  'checkout/sessions': 'checkout.session'
})

/** @type {Record<string, string>} */
const ID_PREFIX = {
  customer: 'cus',
  invoice: 'in',
  invoiceitem: 'ii',
  subscription: 'sub',
  subscription_schedule: 'sub_sched',
  payment_intent: 'pi',
  setup_intent: 'seti',
  payment_method: 'pm',
  charge: 'ch',
  refund: 're',
  dispute: 'dp',
  payout: 'po',
  transfer: 'tr',
  price: 'price',
  product: 'prod',
  plan: 'plan',
  coupon: 'co',
  promotion_code: 'promo',
  quote: 'qt',
  credit_note: 'cn',
  tax_rate: 'txr',
  'checkout.session': 'cs_test'
}

/** Event type prefixes where Stripe's differ from the object's name. @type {Record<string, string>} */
const EVENT_PREFIX = { subscription: 'customer.subscription', dispute: 'charge.dispute' }

// Stripe keeps these as `{ id, object, deleted: true }` after a delete; others answer 404.
const KEPT_WHEN_DELETED = new Set(['customer', 'product'])
const MAX_LIMIT = 100

/** The event type prefix of an object kind (`customer.subscription` for a subscription). @param {string} kind */
export function eventPrefix (kind) {
  return EVENT_PREFIX[kind] ?? kind
}

/**
 * @param {object} [opts]
 * @param {string} [opts.apiKey] the only key accepted (`sk_test_fake` by default)
 * @param {string} [opts.apiVersion] the events' `api_version`
 */
export function createFakeStripe (opts = {}) {
  const apiKey = opts.apiKey ?? 'sk_test_fake'
  const apiVersion = opts.apiVersion ?? '2025-01-27.acacia'
  /** @type {Map<string, StripeObject>} by `${account}|${kind}|${id}` */
  const objects = new Map()
  /** @type {Array<StripeEvent & { seq: number }>} oldest first */
  const events = []
  /** @type {LoggedRequest[]} */
  const requests = []
  let seq = 0
  let ids = 0
  /** @type {number | undefined} */
  let clockSec
  let limited = 0
  let limitOptions = { shouldRetry: /** @type {boolean | undefined} */ (undefined), retryAfterSec: /** @type {number | undefined} */ (undefined) }
  /** @type {string[]} */
  const denied = []
  /** @type {import('node:http').Server | undefined} */
  let server

  const nowSec = () => clockSec ?? Math.floor(Date.now() / 1000)
  /** @param {string} prefix */
  const newId = (prefix) => `${prefix}_${(++ids).toString(36).padStart(6, '0')}${Math.random().toString(36).slice(2, 8)}`
  /** @param {string | undefined} account @param {string} kind @param {string} id */
  const keyOf = (account, kind, id) => `${account ?? ''}|${kind}|${id}`

  /**
   * Appends an event, as Stripe does when an object changes.
   * @param {string} type
   * @param {StripeObject} object its snapshot
   * @param {{ account?: string, created?: number, previous?: Record<string, unknown> }} [o]
   */
  function emit (type, object, o = {}) {
    /** @type {StripeEvent & { seq: number }} */
    const event = {
      id: newId('evt'),
      object: 'event',
      api_version: apiVersion,
      created: o.created ?? nowSec(),
      data: { object: structuredClone(object), ...(o.previous === undefined ? {} : { previous_attributes: o.previous }) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      ...(o.account === undefined ? {} : { account: o.account }),
      seq: ++seq
    }
    events.push(event)
    return publicEvent(event)
  }

  /** @param {StripeEvent & { seq: number }} event @returns {StripeEvent} */
  function publicEvent (event) {
    const { seq: _seq, ...rest } = event
    return structuredClone(rest)
  }

  /**
   * Creates an object and its `<kind>.created` event.
   * @param {string} kind
   * @param {Record<string, unknown>} [fields]
   * @param {{ account?: string, id?: string, type?: string }} [o]
   */
  function create (kind, fields = {}, o = {}) {
    const object = /** @type {StripeObject} */ ({ id: o.id ?? newId(ID_PREFIX[kind] ?? kind), object: kind, created: nowSec(), livemode: false, ...fields })
    objects.set(keyOf(o.account, kind, object.id), object)
    const event = emit(o.type ?? `${eventPrefix(kind)}.created`, object, { account: o.account })
    return { object: structuredClone(object), event }
  }

  /**
   * Changes an object and appends its `<kind>.updated` event.
   * @param {string} kind
   * @param {string} id
   * @param {Record<string, unknown>} changes
   * @param {{ account?: string, type?: string }} [o]
   */
  function update (kind, id, changes, o = {}) {
    const object = objects.get(keyOf(o.account, kind, id))
    if (object === undefined || object.deleted === true) throw new Error(`fake stripe: no ${kind} ${id}`)
    /** @type {Record<string, unknown>} */
    const previous = {}
    for (const key of Object.keys(changes)) previous[key] = object[key] ?? null
    Object.assign(object, changes)
    const event = emit(o.type ?? `${eventPrefix(kind)}.updated`, object, { account: o.account, previous })
    return { object: structuredClone(object), event }
  }

  /**
   * Deletes an object and appends its `<kind>.deleted` event.
   * @param {string} kind
   * @param {string} id
   * @param {{ account?: string }} [o]
   */
  function remove (kind, id, o = {}) {
    const key = keyOf(o.account, kind, id)
    const object = objects.get(key)
    if (object === undefined) throw new Error(`fake stripe: no ${kind} ${id}`)
    if (KEPT_WHEN_DELETED.has(kind)) objects.set(key, { id, object: kind, deleted: true })
    else objects.delete(key)
    return { event: emit(`${eventPrefix(kind)}.deleted`, object, { account: o.account }) }
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {number} status
   * @param {unknown} body
   * @param {Record<string, string>} [headers]
   */
  function send (res, status, body, headers = {}) {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'request-id': `req_${++ids}`, ...headers })
    res.end(text)
  }

  /**
   * Stripe's error body.
   * @param {string} type @param {string} message @param {string} [code] @param {string} [param]
   */
  const error = (type, message, code, param) => ({ error: { type, message, ...(code === undefined ? {} : { code }), ...(param === undefined ? {} : { param }) } })

  /** @param {string | undefined} header */
  function keyFrom (header) {
    if (header === undefined) return undefined
    const [scheme, value = ''] = header.split(' ')
    if (scheme.toLowerCase() === 'bearer') return value
    if (scheme.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8').replace(/:$/, '')
    return undefined
  }

  /**
   * Newest first: by `created`, then by creation order.
   * @param {StripeEvent & { seq: number }} a @param {StripeEvent & { seq: number }} b
   */
  const newer = (a, b) => b.created - a.created || b.seq - a.seq

  /**
   * @param {URLSearchParams} q
   * @param {string | undefined} account
   * @returns {[number, unknown]}
   */
  function listEvents (q, account) {
    const limitText = q.get('limit')
    const limit = limitText === null ? 10 : Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return [400, error('invalid_request_error', 'Invalid integer: limit must be between 1 and 100', 'parameter_invalid_integer', 'limit')]
    const types = [...q.keys()].filter((k) => /^types(\[\d*\])?$/.test(k)).map((k) => q.getAll(k)).flat()
    const type = q.get('type')
    if (type !== null) types.push(type)
    /** @type {Array<[string, (a: number, b: number) => boolean]>} */
    const ranges = [['gte', (a, b) => a >= b], ['gt', (a, b) => a > b], ['lte', (a, b) => a <= b], ['lt', (a, b) => a < b]]
    const mine = events.filter((e) => e.account === account)
    const matching = mine.filter((e) => {
      if (types.length > 0 && !types.some((t) => t === e.type || (t.endsWith('*') && e.type.startsWith(t.slice(0, -1))))) return false
      for (const [op, test] of ranges) {
        const bound = q.get(`created[${op}]`)
        if (bound !== null && !test(e.created, Number(bound))) return false
      }
      const exact = q.get('created')
      return exact === null || e.created === Number(exact)
    }).sort(newer)
    const after = q.get('starting_after')
    const before = q.get('ending_before')
    const anchorId = after ?? before
    let data
    let hasMore
    if (anchorId === null) {
      data = matching.slice(0, limit)
      hasMore = matching.length > limit
    } else {
      const anchor = mine.find((e) => e.id === anchorId)
      if (anchor === undefined) return [400, error('invalid_request_error', `No such event: '${anchorId}'`, 'resource_missing', after === null ? 'ending_before' : 'starting_after')]
      if (after !== null) {
        const older = matching.filter((e) => newer(anchor, e) < 0)
        data = older.slice(0, limit)
        hasMore = older.length > limit
      } else {
        const newerOnes = matching.filter((e) => newer(e, anchor) < 0)
        data = newerOnes.slice(Math.max(0, newerOnes.length - limit))
        hasMore = newerOnes.length > limit
      }
    }
    return [200, { object: 'list', data: data.map(publicEvent), has_more: hasMore, url: '/v1/events' }]
  }

  /**
   * @param {string} pathname
   * @param {URLSearchParams} q
   * @param {string | undefined} account
   * @returns {[number, unknown]}
   */
  function route (pathname, q, account) {
    if (pathname === '/v1/events') return listEvents(q, account)
    const match = /^\/v1\/(.+)\/([^/]+)$/.exec(pathname)
    const kind = match === null ? undefined : /** @type {Record<string, string>} */ (STRIPE_PATHS)[match[1]]
    if (match === null || kind === undefined) return [404, error('invalid_request_error', `Unrecognized request URL (GET: ${pathname}).`)]
    const id = decodeURIComponent(match[2])
    const object = objects.get(keyOf(account, kind, id))
    if (object === undefined) return [404, error('invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', 'id')]
    return [200, object]
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  function onRequest (req, res) {
    const url = new URL(/** @type {string} */ (req.url), 'http://stripe.local')
    const header = req.headers['stripe-account']
    const account = typeof header === 'string' && header !== '' ? header : undefined
    /** @param {number} status @param {unknown} body @param {Record<string, string>} [headers] */
    const answer = (status, body, headers) => {
      requests.push({ method: req.method ?? 'GET', path: url.pathname, status, account })
      send(res, status, body, headers)
    }
    // The body of a GET is ignored, but drained so the socket can be reused.
    req.resume()
    const key = keyFrom(req.headers.authorization)
    if (key !== apiKey) {
      return answer(401, error('invalid_request_error', key === undefined
        ? 'You did not provide an API key.'
        : `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`))
    }
    if (limited > 0) {
      limited--
      /** @type {Record<string, string>} */
      const headers = {}
      if (limitOptions.shouldRetry !== undefined) headers['stripe-should-retry'] = String(limitOptions.shouldRetry)
      if (limitOptions.retryAfterSec !== undefined) headers['retry-after'] = String(limitOptions.retryAfterSec)
      return answer(429, error('invalid_request_error', 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.', 'rate_limit'), headers)
    }
    if (denied.some((prefix) => url.pathname.startsWith(prefix))) {
      return answer(403, error('invalid_request_error', `The provided key '${key.slice(0, 8)}***' does not have the required permissions for this endpoint on account '${account ?? 'acct_platform'}'.`))
    }
    if (req.method !== 'GET') return answer(405, error('invalid_request_error', 'The fake answers GET only.'))
    const [status, body] = route(url.pathname, url.searchParams, account)
    answer(status, body)
  }

  return {
    apiKey,
    create,
    update,
    remove,
    emit,
    /** Events as Stripe lists them for `account` (the platform by default), oldest first. @param {string} [account] */
    events (account) {
      return events.filter((e) => e.account === account).map(publicEvent)
    },
    /** An event by id. @param {string} id */
    event (id) {
      const found = events.find((e) => e.id === id)
      return found === undefined ? undefined : publicEvent(found)
    },
    /** The object as the API would return it, or `undefined`. @param {string} kind @param {string} id @param {string} [account] */
    object (kind, id, account) {
      const found = objects.get(keyOf(account, kind, id))
      return found === undefined ? undefined : structuredClone(found)
    },
    /** Forgets the events created before `beforeSec`, as Stripe does after 30 days. @param {number} beforeSec */
    expireEvents (beforeSec) {
      for (let i = events.length - 1; i >= 0; i--) if (events[i].created < beforeSec) events.splice(i, 1)
    },
    /** Fixes the clock events and objects are created with (Unix seconds), or `undefined` for the real one. @param {number | undefined} sec */
    setClock (sec) {
      clockSec = sec
    },
    /**
     * The next `count` API requests answer 429.
     * @param {number} count
     * @param {{ shouldRetry?: boolean, retryAfterSec?: number }} [o] the `Stripe-Should-Retry` and `Retry-After` to send
     */
    rateLimit (count, o = {}) {
      limited = count
      limitOptions = { shouldRetry: o.shouldRetry, retryAfterSec: o.retryAfterSec }
    },
    /** Paths starting with `prefix` answer 403, as for a restricted key without that permission. @param {string} prefix */
    deny (prefix) {
      denied.push(prefix)
    },
    /** Every request answered, in order. */
    requests,
    /** How many requests matched. @param {(r: LoggedRequest) => boolean} [which] */
    count (which = () => true) {
      return requests.filter(which).length
    },
    get port () {
      return /** @type {import('node:net').AddressInfo} */ (server?.address()).port
    },
    get url () {
      return `http://127.0.0.1:${this.port}`
    },
    async listen () {
      const listening = createServer(onRequest)
      server = listening
      await /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
        listening.once('error', reject)
        listening.listen(0, '127.0.0.1', resolve)
      }))
    },
    async close () {
      const listening = server
      if (listening === undefined) return
      listening.closeAllConnections()
      await new Promise((resolve) => listening.close(resolve))
    }
  }
}

/** @typedef {ReturnType<typeof createFakeStripe>} FakeStripe */
