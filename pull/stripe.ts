/**
 * Stripe's hydrate: an Event names an object (`data.object.object` and
 * `.id`); the helper retrieves that object's current state, as the account
 * the event came from (Connect) sees it.
 */
import type { WebhookEvent } from '../core/event.js'
import type { WorkerContext } from '../worker/options.js'
import { PermanentError, pulledVersion, pullHooks, type PulledState, type PullHooks } from './common.js'
import { callStripe, clientOf, stripePolicy, type StripeAccess, type StripeClient, type StripeRetrievable } from './stripe-client.js'
import { checkAccess } from './stripe-options.js'

export { stripePoll, type StripePollOptions, type StripePoll } from './stripe-poll.js'
export type {
  StripeClient, StripeRetrievable, StripeRequestOptions, StripeEventListParams, StripeEventLike, StripeEventPage
} from './stripe-client.js'

/** A Stripe object as the API returns it. */
export type StripeObject = Record<string, unknown>

/** Options of {@link stripePull}. */
export interface StripePullOptions extends StripeAccess {
  /** The webhook route's source. @defaultValue `'stripe'` */
  source?: string
  /** The pause after a 429 (Stripe names none), in milliseconds. @defaultValue `2000` */
  rateLimitPauseMs?: number
}

// The client resource that retrieves each kind (`data.object.object`): `GET /v1/<path>/{id}`.
const STRIPE_RETRIEVERS: ReadonlyMap<string, (client: StripeClient) => StripeRetrievable> = new Map(Object.entries({
  customer: (c: StripeClient) => c.customers,
  invoice: (c: StripeClient) => c.invoices,
  invoiceitem: (c: StripeClient) => c.invoiceItems,
  subscription: (c: StripeClient) => c.subscriptions,
  subscription_schedule: (c: StripeClient) => c.subscriptionSchedules,
  payment_intent: (c: StripeClient) => c.paymentIntents,
  setup_intent: (c: StripeClient) => c.setupIntents,
  payment_method: (c: StripeClient) => c.paymentMethods,
  charge: (c: StripeClient) => c.charges,
  refund: (c: StripeClient) => c.refunds,
  dispute: (c: StripeClient) => c.disputes,
  payout: (c: StripeClient) => c.payouts,
  transfer: (c: StripeClient) => c.transfers,
  price: (c: StripeClient) => c.prices,
  product: (c: StripeClient) => c.products,
  plan: (c: StripeClient) => c.plans,
  coupon: (c: StripeClient) => c.coupons,
  promotion_code: (c: StripeClient) => c.promotionCodes,
  quote: (c: StripeClient) => c.quotes,
  credit_note: (c: StripeClient) => c.creditNotes,
  tax_rate: (c: StripeClient) => c.taxRates,
  'checkout.session': (c: StripeClient) => c.checkout.sessions
} satisfies Record<string, (client: StripeClient) => StripeRetrievable>))

/** The object kinds (`data.object.object`) `stripePull` retrieves; events of other kinds keep their snapshot. */
export const STRIPE_PULLED_KINDS: readonly string[] = Object.freeze([...STRIPE_RETRIEVERS.keys()])

// A subscription that ends is still there (status `canceled`): its
// `.deleted` event is a change like any other, fetched.
const DELETED_BUT_RETRIEVABLE = new Set(['customer.subscription.deleted'])

/** What an Event names: the object's kind and id, the account, and the event's time. */
interface Named { kind: string, id: string | undefined, account: string | undefined, object: StripeObject, createdMs: number | undefined, type: string }

function named (event: WebhookEvent): Named | undefined {
  const payload = event.payload as { data?: { object?: unknown }, account?: unknown, created?: unknown } | null
  const object = payload?.data?.object
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return undefined
  const o = object as StripeObject
  return {
    kind: typeof o.object === 'string' ? o.object : '',
    id: typeof o.id === 'string' && o.id !== '' ? o.id : undefined,
    account: typeof payload?.account === 'string' && payload.account !== '' ? payload.account : undefined,
    object: o,
    createdMs: typeof payload?.created === 'number' && Number.isFinite(payload.created) ? payload.created * 1000 : undefined,
    type: event.type
  }
}

/** `stripe:customer:cus_123`, or `stripe:acct_1:customer:cus_123` for a connected account's object. */
function keyOf (n: Named): string | undefined {
  if (STRIPE_RETRIEVERS.get(n.kind) === undefined || n.id === undefined) return undefined
  return n.account === undefined ? `stripe:${n.kind}:${n.id}` : `stripe:${n.account}:${n.kind}:${n.id}`
}

/**
 * The worker hooks for Stripe events: spread into `createWebhookWorker`.
 *
 * `hydrate` retrieves the object the event names (one of
 * {@link STRIPE_PULLED_KINDS}) with the `Stripe-Account` of a Connect event;
 * a `*.deleted` event, a retrieved `{ deleted: true }` and a 404 are a
 * deletion (`null`). An object of another kind is not fetched: its state is
 * the event's own snapshot, with no `objectKey` (neither shared nor ordered).
 * The version is the event's `created`: Stripe objects carry no update
 * time. Two changes can share a second, so equal versions are applied
 * (`skipEqualVersion: false`): each applies the state fetched at its time.
 */
export function stripePull (options: StripePullOptions): PullHooks<StripeObject> {
  const o = checkAccess('stripePull()', options, ['client', 'apiKey', 'source', 'rateLimitPauseMs'])
  const client = clientOf('stripePull()', o)
  const policy = stripePolicy(o.rateLimitPauseMs)

  async function hydrate (event: WebhookEvent, ctx: WorkerContext): Promise<PulledState<StripeObject> | null> {
    const n = named(event)
    if (n === undefined) throw new PermanentError(`stripePull(): event ${event.id} (${event.type}) has no data.object: not a Stripe event`)
    const version = n.createdMs ?? event.receivedAt
    const retriever = STRIPE_RETRIEVERS.get(n.kind)
    if (retriever === undefined || n.id === undefined) {
      ctx.log.debug({ kind: n.kind }, 'stripePull(): an object kind it does not retrieve; the event\'s snapshot is the state')
      return { kind: n.kind, id: n.id ?? '', object: n.object, version }
    }
    if (n.type.endsWith('.deleted') && !DELETED_BUT_RETRIEVABLE.has(n.type)) return null
    const id = n.id
    const resource = retriever(await client())
    const requestOptions = n.account === undefined ? undefined : { stripeAccount: n.account }
    const found = await callStripe(policy, `retrieving ${n.kind} ${id}`, () => resource.retrieve(id, undefined, requestOptions))
    if (found === 'gone') return null
    const object = found as StripeObject
    if (object.deleted === true) return null
    return { kind: n.kind, id, object, version }
  }

  return pullHooks(o.source, {
    hydrate,
    objectKey: (event) => {
      const n = named(event)
      return n === undefined ? undefined : keyOf(n)
    },
    version: pulledVersion,
    skipEqualVersion: false
  })
}
