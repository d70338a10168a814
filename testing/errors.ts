import createError from '@fastify/error'

/**
 * The test kit's coded errors, for checks on `err.code`. They are thrown by
 * test helpers only, never by the plugin or the worker.
 */
export const TestingErrors = {
  /** No `redis-server` binary on `PATH`: install one. */
  WEBHOOK_TESTING_REDIS_NOT_FOUND: createError('WEBHOOK_TESTING_REDIS_NOT_FOUND', '%s'),
  /** `redis-server` started but exited, or did not answer `PING` in time. */
  WEBHOOK_TESTING_REDIS_START: createError('WEBHOOK_TESTING_REDIS_START', '%s'),
  /** `ready()` or `drain()` gave up after its `timeoutMs`. */
  WEBHOOK_TESTING_TIMEOUT: createError('WEBHOOK_TESTING_TIMEOUT', '%s'),
  /** `ready()` was given an app without `webhookPlugin` registered. */
  WEBHOOK_TESTING_NO_PLUGIN: createError('WEBHOOK_TESTING_NO_PLUGIN', '%s', 500, TypeError)
} as const
