/**
 * `fastify-hybrid-webhooks/pull`: a webhook is a trigger, the provider's API
 * is the truth. Ready-made `hydrate` (object per event type, version, object
 * key, tombstones) and `fetchChanges` (a cursor over the provider's change
 * feed) for Stripe, GitHub and Shopify. Each takes your SDK client (or loads
 * the optional SDK on first use); nothing here is loaded by the main entry or
 * `./worker`.
 */
export { combinePulls, mapApiFailure, retryAfterMs } from './common.js'
export type { PulledState, PullHooks, ApiFailure, FailurePolicy } from './common.js'
export * from './stripe.js'
export * from './github.js'
export * from './shopify.js'
