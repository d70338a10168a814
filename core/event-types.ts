/**
 * A provider's event types, described for the compiler only: which event
 * types exist and the payload of each, so the worker's `handlers` and the
 * plugin's `acceptTypes` can be checked against them. Everything here is a
 * type; nothing here exists at run time, and no provider SDK is loaded.
 */

// Brands an `EventTypes`: a plain object type cannot pass for one by accident.
declare const EVENT_TYPES: unique symbol

/**
 * The events of one source: for each route key, the payload of the events it
 * matches (`M`), and the event types the provider sends (`T`). A type only:
 * make one with {@link ByType} or {@link ByName}.
 */
export interface EventTypes<M extends object = Record<string, unknown>, T extends string = string> {
  /** Never present at run time. */
  readonly [EVENT_TYPES]: { payloads: M, types: T }
}

/** The route keys of a source's events and the payload of each; `{}` for anything but an `EventTypes`. */
export type PayloadsOf<E> = E extends EventTypes<infer M, string> ? M : {}

// For a payload with a string literal `action`, its route key `${type}.${action}`.
type ActionEntry<K extends string, P> = P extends { action: infer A extends string } ? { key: `${K}.${A}`, payload: P } : never
type ActionEntries<M> = { [K in keyof M & string]: ActionEntry<K, M[K]> }[keyof M & string]

/**
 * Events named by type in a map from type to payload, such as
 * `WebhookEventMap` of `@octokit/webhooks-types`. Payloads with a string
 * `action` also get the route key `${type}.${action}`, narrowed to that
 * action (e.g. `'pull_request.closed'`), as the worker routes them.
 */
export type ByName<M extends object> = EventTypes<
{ [K in keyof M & string]: M[K] } & { [X in ActionEntries<M> as X['key']]: X['payload'] },
keyof M & string
>

/**
 * Events given as a union discriminated on `type`, such as `Stripe.Event`:
 * each type's payload is its member of the union (e.g. `'invoice.paid'` has
 * `Stripe.InvoicePaidEvent`).
 */
export type ByType<U extends { type: string }> = ByName<{ [T in U['type']]: Extract<U, { type: T }> }>

/**
 * The event type names of `Events`: an {@link EventTypes} (from
 * {@link ByType} or {@link ByName}), a union of event objects with a string
 * `type` (such as `Stripe.Event`), or a union of type names.
 */
export type EventTypeName<Events> =
  Events extends EventTypes<object, infer T> ? T
    : Events extends { type: infer T extends string } ? T
      : Events extends string ? Events
        : never
