/**
 * The provider presets. Each is a factory `({ secret, ...options }) => Provider`
 * with a static `delivery` field: how the sender delivers, for sizing the
 * dedupe TTL (e.g. `providers.stripe.delivery.suggestedDedupeTtlMs`).
 */
import type { DeliveryFacts } from '../provider.js'
import { hmac, HMAC_DELIVERY } from './hmac.js'

/** A preset factory with its sender's delivery facts. */
export type PresetFactory<O, P> = ((options: O) => P) & {
  /** How the sender delivers: retry horizon, suggested dedupe TTL, response deadline. */
  readonly delivery: DeliveryFacts
}

function preset<O, P> (factory: (options: O) => P, delivery: DeliveryFacts): PresetFactory<O, P> {
  return Object.assign(factory, { delivery })
}

/** Signature scheme presets for `webhookPlugin`'s `provider` option. */
export const providers = Object.freeze({
  /** The generic HMAC scheme (PROVIDERS.md "Generic HMAC"); its `delivery` is a conservative default for an unknown sender. */
  hmac: preset(hmac, HMAC_DELIVERY)
})

export type { HmacOptions, HmacProvider, HmacSignOptions } from './hmac.js'
