/**
 * Per-type routing: which `hydrate` and `apply` an event gets, from the
 * `handlers` option and the top-level `hydrate` and `apply`.
 */
import type { WebhookEvent } from '../core/event.js'
import type { Apply, Handler, Hydrate } from './options.js'

/** The steps an event gets; `apply` is `undefined` when nothing handles it. */
export interface Route<S, P> {
  hydrate: Hydrate<S, P> | undefined
  apply: Apply<S, P> | undefined
}

/**
 * Handlers by source, then by route key, as validated: each step bound to its
 * handler once, so a step is the same function for every event it serves
 * (hydrate calls are shared per step and object).
 */
export type HandlerTable = ReadonlyMap<string, ReadonlyMap<string, Route<any, any>>>

/**
 * Returns the handler as it is: the state type it infers from `hydrate`
 * flows to `apply`'s `state`, and inside `handlers` the payload type is
 * taken from the route key the handler is given for.
 *
 * @example
 * handlers: { stripe: { 'invoice.paid': defineHandler({
 *   hydrate: async (event) => stripe.invoices.retrieve(event.payload.data.object.id),
 *   apply: async (invoice) => saveInvoice(invoice)  // invoice: Stripe.Invoice | null
 * }) } }
 */
export function defineHandler<S, P = unknown> (handler: Handler<S, P>): Handler<S, P> {
  return handler
}

/**
 * The route keys of an event, most specific first: `${type}.${action}` when
 * the payload has a string `action`, then `type`, then `'*'`.
 */
export function routeKeys (event: WebhookEvent): string[] {
  const action = (event.payload as { action?: unknown } | null)?.action
  return typeof action === 'string' ? [`${event.type}.${action}`, event.type, '*'] : [event.type, '*']
}

/**
 * Resolves routes. Without handlers, every event gets the top-level steps.
 * With them, each step is the first one found along the event's route keys,
 * then the top-level one.
 */
export class Router<S, P> {
  readonly #handlers: HandlerTable | undefined
  readonly #fallback: Route<S, P>
  /** True when some event may get a `hydrate`: without one, the payload is always the state. */
  readonly hydrates: boolean

  constructor (handlers: HandlerTable | undefined, fallback: Route<S, P>) {
    this.#handlers = handlers
    this.#fallback = fallback
    this.hydrates = fallback.hydrate !== undefined ||
      [...handlers?.values() ?? []].some((routes) => [...routes.values()].some((route) => route.hydrate !== undefined))
  }

  route (event: WebhookEvent<P>): Route<S, P> {
    const bySource = this.#handlers?.get(event.source)
    if (bySource === undefined) return this.#fallback
    let hydrate: Hydrate<S, P> | undefined
    let apply: Apply<S, P> | undefined
    for (const key of routeKeys(event as WebhookEvent)) {
      const handler = bySource.get(key)
      if (handler === undefined) continue
      hydrate ??= handler.hydrate
      apply ??= handler.apply
      if (hydrate !== undefined && apply !== undefined) break
    }
    return { hydrate: hydrate ?? this.#fallback.hydrate, apply: apply ?? this.#fallback.apply }
  }
}
