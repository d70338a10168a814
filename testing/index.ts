/**
 * `fastify-hybrid-webhooks/testing`: helpers for an app's own tests, against
 * a real Redis and a real worker: a throwaway `redis-server`, signed
 * deliveries for `app.inject()`, waiting for the route to be ready and for the
 * queue to be drained. Every export is named here; nothing else is public.
 */
export { privateRedis } from './redis-server.js'
export type { PrivateRedis, PrivateRedisOptions } from './redis-server.js'
export { signedRequest } from './signed-request.js'
export type { SignedRequest, SignedRequestOptions, SignOptionsOf } from './signed-request.js'
export { ready } from './ready.js'
export type { ReadyOptions } from './ready.js'
export { drain } from './drain.js'
export type { DrainOptions, DrainTarget, PendingCounts } from './drain.js'
export { TestingErrors } from './errors.js'
