import { WebhookErrors } from '../core/errors.js'

/**
 * The test kit's coded errors (a view of `WebhookErrors`), for checks on
 * `err.code`. They are thrown by test helpers only, never by the plugin or the worker.
 */
export const TestingErrors = {
  WEBHOOK_TESTING_REDIS_NOT_FOUND: WebhookErrors.WEBHOOK_TESTING_REDIS_NOT_FOUND,
  WEBHOOK_TESTING_REDIS_START: WebhookErrors.WEBHOOK_TESTING_REDIS_START,
  WEBHOOK_TESTING_TIMEOUT: WebhookErrors.WEBHOOK_TESTING_TIMEOUT,
  WEBHOOK_TESTING_NO_PLUGIN: WebhookErrors.WEBHOOK_TESTING_NO_PLUGIN
} as const
