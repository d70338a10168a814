export type StripeObject = Record<string, unknown> & { id: string, object: string }

export interface StripeEvent {
  id: string
  object: 'event'
  api_version: string
  created: number
  data: { object: StripeObject, previous_attributes?: Record<string, unknown> }
  livemode: boolean
  pending_webhooks: number
  request: { id: string | null, idempotency_key: string | null }
  type: string
  account?: string
}

export interface LoggedRequest { method: string, path: string, status: number, account: string | undefined }

/** `GET /v1/<path>/{id}` → the object kind it returns. */
export const STRIPE_PATHS: Readonly<Record<string, string>>

/** The event type prefix of an object kind (`customer.subscription` for a subscription). */
export function eventPrefix (kind: string): string

export interface FakeStripe {
  readonly apiKey: string
  create (kind: string, fields?: Record<string, unknown>, o?: { account?: string, id?: string, type?: string }): { object: StripeObject, event: StripeEvent }
  update (kind: string, id: string, changes: Record<string, unknown>, o?: { account?: string, type?: string }): { object: StripeObject, event: StripeEvent }
  remove (kind: string, id: string, o?: { account?: string }): { event: StripeEvent }
  emit (type: string, object: StripeObject, o?: { account?: string, created?: number, previous?: Record<string, unknown> }): StripeEvent
  /** Events as Stripe lists them for `account` (the platform by default), oldest first. */
  events (account?: string): StripeEvent[]
  event (id: string): StripeEvent | undefined
  object (kind: string, id: string, account?: string): StripeObject | undefined
  /** Forgets the events created before `beforeSec`, as Stripe does after 30 days. */
  expireEvents (beforeSec: number): void
  /** Fixes the clock events and objects are created with (Unix seconds), or `undefined` for the real one. */
  setClock (sec: number | undefined): void
  /** The next `count` API requests answer 429. */
  rateLimit (count: number, o?: { shouldRetry?: boolean, retryAfterSec?: number }): void
  /** Paths starting with `prefix` answer 403, as for a restricted key without that permission. */
  deny (prefix: string): void
  readonly requests: LoggedRequest[]
  count (which?: (r: LoggedRequest) => boolean): number
  readonly port: number
  readonly url: string
  listen (): Promise<void>
  close (): Promise<void>
}

export function createFakeStripe (opts?: { apiKey?: string, apiVersion?: string }): FakeStripe
