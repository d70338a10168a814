/**
 * What the Stripe helpers need of a Stripe client, described structurally so
 * the emitted types never name the `stripe` package; how an SDK error maps
 * onto the shared failure contract; and the client of an `apiKey`, built on
 * first use.
 */
import { WebhookErrors } from '../core/errors.js'
import { optionalSdk, mapApiFailure, retryAfterMs, type ApiFailure, type FailurePolicy } from './common.js'

/** Per-request options the helpers pass: the connected account of a Connect event. */
export interface StripeRequestOptions {
  stripeAccount?: string
}

/** A resource the hydrate retrieves by id, as the SDK has it (`client.customers`…). */
export interface StripeRetrievable {
  retrieve (id: string, params?: { expand?: string[] }, options?: StripeRequestOptions): PromiseLike<unknown>
}

/** The query of `GET /v1/events` the poll sends. */
export interface StripeEventListParams {
  limit?: number
  starting_after?: string
  ending_before?: string
  created?: { gte?: number, lt?: number }
  types?: string[]
}

/** A Stripe Event, as far as the helpers read it. */
export interface StripeEventLike {
  id: string
  type: string
  /** Unix seconds. */
  created: number
  /** The connected account, for a Connect event. */
  account?: string | null
  data: { object: unknown }
}

/** One page of `GET /v1/events`: newest first. */
export interface StripeEventPage {
  data: StripeEventLike[]
  has_more: boolean
}

/**
 * The part of a `new Stripe(key)` instance the helpers call. Pass your own
 * instance: it is assignable to this interface.
 */
export interface StripeClient {
  events: { list (params?: StripeEventListParams, options?: StripeRequestOptions): PromiseLike<StripeEventPage> }
  customers: StripeRetrievable
  invoices: StripeRetrievable
  invoiceItems: StripeRetrievable
  subscriptions: StripeRetrievable
  subscriptionSchedules: StripeRetrievable
  paymentIntents: StripeRetrievable
  setupIntents: StripeRetrievable
  paymentMethods: StripeRetrievable
  charges: StripeRetrievable
  refunds: StripeRetrievable
  disputes: StripeRetrievable
  payouts: StripeRetrievable
  transfers: StripeRetrievable
  prices: StripeRetrievable
  products: StripeRetrievable
  plans: StripeRetrievable
  coupons: StripeRetrievable
  promotionCodes: StripeRetrievable
  quotes: StripeRetrievable
  creditNotes: StripeRetrievable
  taxRates: StripeRetrievable
  checkout: { sessions: StripeRetrievable }
}

/**
 * Stripe's limits are per second (100 read requests in live mode, 25 in test
 * mode) and its 429 usually names no wait: a couple of seconds clears a burst.
 */
export const STRIPE_DEFAULT_PAUSE_MS = 2000

/**
 * The failure policy of the Stripe helpers: besides a 429, a 400 with the
 * code `rate_limit` is a rate limit too (the SDK's `StripeRateLimitError`).
 */
export function stripePolicy (pauseMs: number): FailurePolicy {
  return {
    provider: 'Stripe',
    defaultPauseMs: pauseMs,
    rateLimitMs: (failure, now) => {
      const cause = failure.cause as { type?: unknown, code?: unknown }
      const limited = failure.status === 429 || cause.type === 'StripeRateLimitError' || cause.code === 'rate_limit'
      return limited ? retryAfterMs(failure.header('retry-after'), now) ?? pauseMs : undefined
    }
  }
}

/** True for an error the SDK threw about a request (`StripeError` and its kinds, by their `type`). */
function isSdkError (err: unknown): err is { statusCode?: unknown, headers?: unknown, code?: unknown, param?: unknown } {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string' &&
    (err as { type: string }).type.startsWith('Stripe')
}

/** A thrown SDK error as the shared failure shape: its status and headers. */
export function stripeFailure (err: unknown): ApiFailure | undefined {
  if (!isSdkError(err)) return undefined
  const headers = typeof err.headers === 'object' && err.headers !== null ? err.headers as Record<string, unknown> : {}
  return {
    status: typeof err.statusCode === 'number' ? err.statusCode : undefined,
    header: (name) => {
      const value = headers[name.toLowerCase()]
      return typeof value === 'string' ? value : undefined
    },
    cause: err
  }
}

/**
 * Runs one API call and maps its failure: `'gone'` for a 404 (the caller
 * decides what that means), the shared errors otherwise. An error that did
 * not come from the SDK (a bug in a hand-made client) is thrown as it is.
 */
export async function callStripe<T> (policy: FailurePolicy, what: string, call: () => PromiseLike<T>): Promise<T | 'gone'> {
  try {
    return await call()
  } catch (err) {
    const failure = stripeFailure(err)
    if (failure === undefined) throw err
    const mapped = mapApiFailure(policy, what, failure)
    if (mapped === 'gone') return 'gone'
    throw mapped
  }
}

/** The SDK's code and parameter of a failed call, for telling a stale list cursor apart. */
export function stripeErrorCode (err: unknown): { status: number | undefined, code: unknown, param: unknown } {
  if (!isSdkError(err)) return { status: undefined, code: undefined, param: undefined }
  return { status: typeof err.statusCode === 'number' ? err.statusCode : undefined, code: err.code, param: err.param }
}

/** The options shared by `stripePull` and `stripePoll` for reaching Stripe. */
export interface StripeAccess {
  /** Your Stripe client (`new Stripe(key)`). Give this or `apiKey`. */
  client?: StripeClient
  /** A secret or restricted key; the `stripe` package is then loaded on first use. Give this or `client`. */
  apiKey?: string
}

/**
 * The client to call: the user's, or one made from `apiKey` with the
 * optional SDK, checked now and loaded on first use.
 */
export function clientOf (helper: string, access: StripeAccess): () => Promise<StripeClient> {
  if (access.client !== undefined) {
    const client = access.client
    return async () => client
  }
  if (access.apiKey === undefined) throw new WebhookErrors.WEBHOOK_INVALID_OPTION(`${helper}: give \`client\` (your Stripe instance) or \`apiKey\``)
  const apiKey = access.apiKey
  const load = optionalSdk<{ default: new (key: string) => StripeClient }>('stripe', helper)
  let made: Promise<StripeClient> | undefined
  return async () => (made ??= load().then(({ default: Stripe }) => new Stripe(apiKey)))
}
