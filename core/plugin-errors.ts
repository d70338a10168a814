import createError from '@fastify/error'

/**
 * The plugin's coded errors. Rejections carry their code and a generic message
 * into the HTTP body (never a secret, a signature or a stack); the precise
 * reason goes to the log. Option errors are `TypeError`s thrown at
 * registration. Every code is listed in the README's errors table.
 */
export const PluginErrors = {
  /** An option has the wrong type or value (thrown by `register`). */
  FST_WEBHOOK_INVALID_OPTION: createError('FST_WEBHOOK_INVALID_OPTION', '%s', 500, TypeError),
  /** Two registrations in one app share a name. */
  FST_WEBHOOK_DUPLICATE_NAME: createError('FST_WEBHOOK_DUPLICATE_NAME', '%s', 500, TypeError),
  /** `persistenceCheck: 'refuse'` and Redis lacks AOF or `noeviction`. */
  FST_WEBHOOK_PERSISTENCE: createError('FST_WEBHOOK_PERSISTENCE', '%s'),
  /** `requireRedisAtBoot: true` and Redis was not ready in time. */
  FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT: createError('FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT', '%s'),
  /** `metrics: true` without prom-client installed. */
  FST_WEBHOOK_MISSING_DEPENDENCY: createError('FST_WEBHOOK_MISSING_DEPENDENCY', '%s', 500, TypeError),

  /** 415: a content type the provider does not accept, or any `Content-Encoding`. */
  FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE: createError('FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type', 415),
  /** 413: the body is over `bodyLimit`. */
  FST_WEBHOOK_BODY_TOO_LARGE: createError('FST_WEBHOOK_BODY_TOO_LARGE', 'Request body is too large', 413),
  /** 401: any verification failure; one body for all reasons. */
  FST_WEBHOOK_UNAUTHORIZED: createError('FST_WEBHOOK_UNAUTHORIZED', 'Webhook verification failed', 401),
  /** 400: a verified but empty body. */
  FST_WEBHOOK_EMPTY_BODY: createError('FST_WEBHOOK_EMPTY_BODY', 'Webhook body is empty', 400),
  /** 400: a verified body that is not valid UTF-8. */
  FST_WEBHOOK_INVALID_UTF8: createError('FST_WEBHOOK_INVALID_UTF8', 'Webhook body is not valid UTF-8', 400),
  /** 400: a verified body that is not valid JSON (or not a valid form encoding of it). */
  FST_WEBHOOK_INVALID_JSON: createError('FST_WEBHOOK_INVALID_JSON', 'Webhook body is not valid JSON', 400),
  /** 400: a verified body whose JSON is not an object. */
  FST_WEBHOOK_NOT_AN_OBJECT: createError('FST_WEBHOOK_NOT_AN_OBJECT', 'Webhook body is not a JSON object', 400),
  /** 400: a verified body with prototype-poisoning keys. */
  FST_WEBHOOK_FORBIDDEN_KEY: createError('FST_WEBHOOK_FORBIDDEN_KEY', 'Webhook body contains a forbidden key', 400),
  /** 400: a verified body without an event id. */
  FST_WEBHOOK_MISSING_ID: createError('FST_WEBHOOK_MISSING_ID', 'Webhook event has no id', 400),
  /** 400: a verified event that cannot be serialized into a job (nesting too deep for `JSON.stringify`). */
  FST_WEBHOOK_UNSERIALIZABLE: createError('FST_WEBHOOK_UNSERIALIZABLE', 'Webhook event cannot be stored', 400),
  /** 503: the event could not be enqueued in time, or Redis is not ready; sent with `Retry-After`. */
  FST_WEBHOOK_UNAVAILABLE: createError('FST_WEBHOOK_UNAVAILABLE', 'Webhook intake is temporarily unavailable', 503)
} as const

/** The 400 error for each body failure reason a provider or the parser reports. */
export const BODY_FAILURE_ERRORS = {
  empty_body: PluginErrors.FST_WEBHOOK_EMPTY_BODY,
  invalid_utf8: PluginErrors.FST_WEBHOOK_INVALID_UTF8,
  invalid_json: PluginErrors.FST_WEBHOOK_INVALID_JSON,
  not_an_object: PluginErrors.FST_WEBHOOK_NOT_AN_OBJECT,
  forbidden_key: PluginErrors.FST_WEBHOOK_FORBIDDEN_KEY,
  missing_id: PluginErrors.FST_WEBHOOK_MISSING_ID
} as const
