/**
 * `fastify-hybrid-webhooks`: the plugin (default export) and everything from
 * `./plugin` and `./worker`, named one by one.
 */
export { safeJobId, EVENT_VERSION, SOURCE_PATTERN, JOB_NAME, PermanentError, RateLimitedError, WorkerErrors, checkPersistence } from './worker/index.js'
export type { WebhookEvent, PersistenceReport, RedisConnection, RedisClient } from './worker/index.js'
