/** An object as the fake stores and answers it. */
export type ShopifyObject = Record<string, unknown> & { id: number }

/** A request the fake received, and the status it answered. */
export interface FakeRequest {
  method: string
  path: string
  query: Record<string, string>
  status: number
}

/** A running fake of Shopify's REST Admin API. */
export interface ShopifyFake {
  /** The origin, `http://127.0.0.1:{port}`. */
  url: string
  /** The host as a store domain, `127.0.0.1:{port}`. */
  host: string
  token: string
  /** Every request received, in order. */
  requests: FakeRequest[]
  /** The fake's clock (the `Date` header's), in ms. */
  now: () => number
  /** Moves the fake's clock by `ms` from the real one. */
  setClockShift: (ms: number) => void
  /** A time as the fake writes it (seconds, the shop's offset). */
  format: (ms: number) => string
  /** Creates an object (a fulfillment or refund needs `order_id`), stamped now or `at`. */
  create: (resource: string, fields?: Record<string, unknown>, opts?: { at?: number }) => ShopifyObject
  /** Changes an object and stamps its `updated_at` with now, or `at`. */
  update: (resource: string, id: number, fields: Record<string, unknown>, opts?: { at?: number }) => ShopifyObject
  /** Deletes an object: then 404. */
  remove: (resource: string, id: number) => void
  /** The stored object. */
  get: (resource: string, id: number) => ShopifyObject | undefined
  /** The next `n` requests are answered 429 with `Retry-After`. */
  rateLimit: (n: number, retryAfter?: string) => void
  /** Calls `hook` after each answer is sent. */
  afterResponse: (hook: (request: FakeRequest) => void | Promise<void>) => void
  /** Requests whose path matches. */
  count: (path?: RegExp) => number
  close: () => Promise<void>
}

/** Starts the fake on a free port of 127.0.0.1. */
export function startShopifyFake (options?: { token?: string, utcOffset?: string, retryAfter?: string }): Promise<ShopifyFake>
