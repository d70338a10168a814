/**
 * `webhookOptions<Events>()`: the plugin's options, with `acceptTypes`
 * checked against the provider's event types. `app.register` cannot carry a
 * type parameter; this identity helper can, at no run-time cost.
 */
import type { WebhookEvent } from '../core/event.js'
import type { EventTypeName } from '../core/event-types.js'
import type { WebhookPluginOptions } from './options.js'

/**
 * The plugin's options with a typed `acceptTypes`: a list of the types
 * `Events` names (a typo is a compile error), or a predicate, which sees
 * every verified type, so its `type` stays a `string`.
 */
export type TypedWebhookPluginOptions<Events = string> = Omit<WebhookPluginOptions, 'acceptTypes'> & {
  /** As `acceptTypes` of {@link WebhookPluginOptions}, its list checked against `Events`. */
  acceptTypes?: ReadonlyArray<EventTypeName<Events>> | ((type: string, event: WebhookEvent) => boolean)
}

/**
 * Returns `options` as they are, typed for `app.register(webhookPlugin, …)`.
 * `Events` is the provider's events: a union with a string `type` (such as
 * `Stripe.Event`), `ByType<…>` or `ByName<…>` (such as
 * `ByName<WebhookEventMap>` for GitHub), or a union of type names.
 *
 * @example
 * await app.register(webhookPlugin, webhookOptions<Stripe.Event>({
 *   provider: providers.stripe({ secret }),
 *   connection,
 *   acceptTypes: ['invoice.paid', 'invoice.voided']   // 'invoice.piad' does not compile
 * }))
 */
export function webhookOptions<Events = string> (options: TypedWebhookPluginOptions<Events>): WebhookPluginOptions {
  return options
}
