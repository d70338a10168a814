import createError, { type FastifyErrorConstructor } from '@fastify/error'
import { PermanentError } from './hook-errors.js'

/**
 * A code for a throw that had none before: its errors keep the name of their
 * base (`TypeError`, `Error`), as Node's coded errors do, so the code is the
 * only thing that changed about them.
 */
function coded<C extends string> (code: C, message: string, Base: ErrorConstructor = Error): FastifyErrorConstructor<{ code: C }> {
  const Coded = createError(code, message, 500, Base)
  const name = Base.name
  return class extends Coded {
    override name = name
  } as unknown as FastifyErrorConstructor<{ code: C }>
}

// Declared apart so that a narrower code can take it as its base.
const InvalidOption = createError('WEBHOOK_INVALID_OPTION', '%s', 500, TypeError)

/**
 * Every coded error of the package, in one table. Codes the Fastify plugin
 * raises start with `FST_WEBHOOK_` (Fastify's convention); all the others with
 * `WEBHOOK_`. A code names one condition, whoever meets it: the plugin, the
 * worker, the poller and the dead-letter API share `WEBHOOK_INVALID_OPTION`.
 * Rejections carry their code and a generic message into the HTTP body (never
 * a secret, a signature or a stack); the precise reason goes to the log.
 * Bad options, and values of the wrong shape from the caller's callbacks, are
 * `TypeError`s. Codes that were already Fastify errors are named
 * `FastifyError`; the ones given to throws that had no code keep the name they
 * had. Every code is listed in the README's errors table (a test checks both
 * ways).
 */
export const WebhookErrors = {
  /**
   * An option has the wrong type or value: thrown by `register`,
   * `createWebhookWorker`, `createPoller`, `createDeadLetters` and the
   * dead-letter calls, and by a poll run whose `initialCursor` returns no string.
   */
  WEBHOOK_INVALID_OPTION: InvalidOption,
  /**
   * `persistenceCheck: 'refuse'` and Redis lacks AOF or `noeviction`: `register`
   * fails, or the worker refuses to start. With `'warn'`, the worker logs it.
   */
  WEBHOOK_PERSISTENCE: createError('WEBHOOK_PERSISTENCE', '%s'),
  /**
   * `metrics` asked for without prom-client installed: `register` fails, the
   * worker refuses to start, the poller's `ready()` rejects.
   */
  WEBHOOK_MISSING_DEPENDENCY: createError('WEBHOOK_MISSING_DEPENDENCY', '%s', 500, TypeError),
  /** `safeJobId(source, id)` got a source that does not match `SOURCE_PATTERN`, or an id that is not a string. */
  WEBHOOK_INVALID_JOB_ID: coded('WEBHOOK_INVALID_JOB_ID', '%s', TypeError),
  /** The poller's Redis connection was not ready within `enqueueTimeoutMs` (`runOnce`, `status`). */
  WEBHOOK_REDIS_NOT_READY: coded('WEBHOOK_REDIS_NOT_READY', 'Redis was not ready within %d ms (status: %s)'),
  /** A poller command got no answer from Redis within `enqueueTimeoutMs` (`runOnce`, `status`). */
  WEBHOOK_REDIS_TIMEOUT: coded('WEBHOOK_REDIS_TIMEOUT', 'Redis did not answer within %d ms while %s'),

  /**
   * A preset factory (`providers.stripe(…)` and the others) got a bad option,
   * or a secret its scheme cannot use. A kind of `WEBHOOK_INVALID_OPTION`:
   * `instanceof` that code holds too.
   */
  WEBHOOK_PROVIDER_INVALID_OPTION: createError('WEBHOOK_PROVIDER_INVALID_OPTION', '%s', 500,
    // Only the base's prototype is used: @fastify/error never calls it.
    InvalidOption as unknown as ErrorConstructor),
  /**
   * A preset's `sign()` has no secret it can sign with: its secret is a
   * resolver and no `{ secret }` was given, or the given one is unusable.
   */
  WEBHOOK_PROVIDER_BAD_SIGNING_SECRET: coded('WEBHOOK_PROVIDER_BAD_SIGNING_SECRET', '%s', TypeError),
  /** A preset's `sign()` lacks what it needs besides the secret: the URL a URL-signed scheme signs, a private key, or a body of the right shape. */
  WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS: coded('WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS', '%s', TypeError),

  /** Another live worker of the queue registered other lock settings: this one refuses to start. */
  WEBHOOK_WORKER_LOCK_MISMATCH: createError('WEBHOOK_WORKER_LOCK_MISMATCH', '%s'),
  /** Job data the worker cannot decode (unknown schema version or shape); dead-lettered at stage `decode`. */
  WEBHOOK_WORKER_BAD_JOB: createError('WEBHOOK_WORKER_BAD_JOB', '%s'),
  /** hydrate, apply or `fetchChanges` exceeded its timeout (the reason of `ctx.signal`). */
  WEBHOOK_WORKER_TIMEOUT: createError('WEBHOOK_WORKER_TIMEOUT', '%s exceeded its timeout of %d ms'),
  /** The worker lost its claim on an event (a stall let another worker take it over, or it could not renew it). */
  WEBHOOK_WORKER_CLAIM_LOST: createError('WEBHOOK_WORKER_CLAIM_LOST', 'The claim on event %s was lost'),
  /** The worker was closed (and its timeout ran out) while the attempt was running (the reason of `ctx.signal`). */
  WEBHOOK_WORKER_CLOSED: createError('WEBHOOK_WORKER_CLOSED', 'The worker closed before the attempt finished'),
  /** `objectKey` or `version` returned a value the worker cannot use (retried like any failure, stage `hydrate`). */
  WEBHOOK_WORKER_BAD_CALLBACK_VALUE: createError('WEBHOOK_WORKER_BAD_CALLBACK_VALUE', '%s'),

  /** `fetchChanges` returned a page that breaks the contract: the run fails at once, the cursor stays. */
  WEBHOOK_POLLER_BAD_PAGE: coded('WEBHOOK_POLLER_BAD_PAGE', '%s', TypeError),
  /** A cursor `store` broke its contract: `load` or `save` resolved to the wrong type, or `save` refused the first cursor while `load` finds none. */
  WEBHOOK_POLLER_BAD_CURSOR_STORE: coded('WEBHOOK_POLLER_BAD_CURSOR_STORE', '%s', TypeError),
  /** `runOnce` after `close`; also the reason of `ctx.signal` when `close` stops a run. */
  WEBHOOK_POLLER_CLOSED: coded('WEBHOOK_POLLER_CLOSED', '%s'),
  /** The run lost its poll lease to another replica (the reason of `ctx.signal`); it stops without saving its cursor. */
  WEBHOOK_POLLER_LEASE_LOST: coded('WEBHOOK_POLLER_LEASE_LOST', 'The poll lease %s was lost'),

  /** Other writers kept changing a dead letter while the worker wrote a failure to it: logged, and the job stays in BullMQ's failed set for the sweeper. */
  WEBHOOK_DEAD_LETTER_CONTENDED: coded('WEBHOOK_DEAD_LETTER_CONTENDED', 'The dead letter %s kept changing while a failure was written to it'),

  /** The test kit's `privateRedis()`: no `redis-server` binary on `PATH`. */
  WEBHOOK_TESTING_REDIS_NOT_FOUND: createError('WEBHOOK_TESTING_REDIS_NOT_FOUND', '%s'),
  /** The test kit's `privateRedis()`: `redis-server` exited, or did not answer `PING` in time. */
  WEBHOOK_TESTING_REDIS_START: createError('WEBHOOK_TESTING_REDIS_START', '%s'),
  /** The test kit's `ready()` or `drain()` gave up after its `timeoutMs`. */
  WEBHOOK_TESTING_TIMEOUT: createError('WEBHOOK_TESTING_TIMEOUT', '%s'),
  /** The test kit's `ready()` was given an app without `webhookPlugin` registered (or without the named registration). */
  WEBHOOK_TESTING_NO_PLUGIN: createError('WEBHOOK_TESTING_NO_PLUGIN', '%s', 500, TypeError),

  /**
   * A pull helper's API call was refused with 401 or 403: the key is wrong,
   * revoked, or lacks the call's scope. A `PermanentError` (the event is
   * dead-lettered at once; a poll run logs it and keeps its cursor).
   */
  WEBHOOK_PULL_UNAUTHORIZED: coded('WEBHOOK_PULL_UNAUTHORIZED', '%s', PermanentError as ErrorConstructor),
  /** A pull helper's API call was refused with a 4xx other than 401, 403, 404, 410 or 429. A `PermanentError`. */
  WEBHOOK_PULL_REJECTED: coded('WEBHOOK_PULL_REJECTED', '%s', PermanentError as ErrorConstructor),
  /** A pull helper's API call got a 5xx or no answer: retried like any hydrate failure. */
  WEBHOOK_PULL_UNAVAILABLE: coded('WEBHOOK_PULL_UNAVAILABLE', '%s'),
  /** `combinePulls()` got an event of a source none of its helpers reads. A `PermanentError`. */
  WEBHOOK_PULL_UNKNOWN_SOURCE: coded('WEBHOOK_PULL_UNKNOWN_SOURCE', '%s', PermanentError as ErrorConstructor),

  /** Two registrations in one app share a `name`: `register` fails. */
  FST_WEBHOOK_DUPLICATE_NAME: createError('FST_WEBHOOK_DUPLICATE_NAME', '%s', 500, TypeError),
  /** `app.webhooks` is already decorated by something other than this plugin: `register` fails. */
  FST_WEBHOOK_DECORATOR_CONFLICT: createError('FST_WEBHOOK_DECORATOR_CONFLICT', '%s', 500, TypeError),
  /** `requireRedisAtBoot: true` and Redis was not ready within `readyTimeoutMs`: `register` fails. */
  FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT: createError('FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT', '%s'),
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

/** A code of the table. */
export type WebhookErrorCode = keyof typeof WebhookErrors

/** True when `code` is one of this package's codes (its errors' `statusCode` is then no HTTP status of a provider). */
export function isOwnCode (code: unknown): code is WebhookErrorCode {
  return typeof code === 'string' && Object.hasOwn(WebhookErrors, code)
}

/**
 * The plugin's codes, as they were exported before the table; the three codes
 * the worker shared now have one name each, and their old names stay as
 * deprecated aliases of the very same constructors.
 */
export const PluginErrors = {
  /** @deprecated use WebhookErrors.WEBHOOK_INVALID_OPTION; removed in the next minor */
  FST_WEBHOOK_INVALID_OPTION: WebhookErrors.WEBHOOK_INVALID_OPTION,
  FST_WEBHOOK_DUPLICATE_NAME: WebhookErrors.FST_WEBHOOK_DUPLICATE_NAME,
  FST_WEBHOOK_DECORATOR_CONFLICT: WebhookErrors.FST_WEBHOOK_DECORATOR_CONFLICT,
  /** @deprecated use WebhookErrors.WEBHOOK_PERSISTENCE; removed in the next minor */
  FST_WEBHOOK_PERSISTENCE: WebhookErrors.WEBHOOK_PERSISTENCE,
  FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT: WebhookErrors.FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT,
  /** @deprecated use WebhookErrors.WEBHOOK_MISSING_DEPENDENCY; removed in the next minor */
  FST_WEBHOOK_MISSING_DEPENDENCY: WebhookErrors.WEBHOOK_MISSING_DEPENDENCY,
  FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE: WebhookErrors.FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE,
  FST_WEBHOOK_BODY_TOO_LARGE: WebhookErrors.FST_WEBHOOK_BODY_TOO_LARGE,
  FST_WEBHOOK_UNAUTHORIZED: WebhookErrors.FST_WEBHOOK_UNAUTHORIZED,
  FST_WEBHOOK_EMPTY_BODY: WebhookErrors.FST_WEBHOOK_EMPTY_BODY,
  FST_WEBHOOK_INVALID_UTF8: WebhookErrors.FST_WEBHOOK_INVALID_UTF8,
  FST_WEBHOOK_INVALID_JSON: WebhookErrors.FST_WEBHOOK_INVALID_JSON,
  FST_WEBHOOK_NOT_AN_OBJECT: WebhookErrors.FST_WEBHOOK_NOT_AN_OBJECT,
  FST_WEBHOOK_FORBIDDEN_KEY: WebhookErrors.FST_WEBHOOK_FORBIDDEN_KEY,
  FST_WEBHOOK_MISSING_ID: WebhookErrors.FST_WEBHOOK_MISSING_ID,
  FST_WEBHOOK_UNSERIALIZABLE: WebhookErrors.FST_WEBHOOK_UNSERIALIZABLE,
  FST_WEBHOOK_UNAVAILABLE: WebhookErrors.FST_WEBHOOK_UNAVAILABLE
} as const

/**
 * The worker's codes, as they were exported before the table; the codes it
 * shared with the plugin keep their old names as deprecated aliases.
 */
export const WorkerErrors = {
  /** @deprecated use WebhookErrors.WEBHOOK_INVALID_OPTION; removed in the next minor */
  WEBHOOK_WORKER_INVALID_OPTION: WebhookErrors.WEBHOOK_INVALID_OPTION,
  WEBHOOK_WORKER_LOCK_MISMATCH: WebhookErrors.WEBHOOK_WORKER_LOCK_MISMATCH,
  WEBHOOK_WORKER_BAD_JOB: WebhookErrors.WEBHOOK_WORKER_BAD_JOB,
  WEBHOOK_WORKER_TIMEOUT: WebhookErrors.WEBHOOK_WORKER_TIMEOUT,
  WEBHOOK_WORKER_CLAIM_LOST: WebhookErrors.WEBHOOK_WORKER_CLAIM_LOST,
  /** @deprecated use WebhookErrors.WEBHOOK_PERSISTENCE; removed in the next minor */
  WEBHOOK_WORKER_PERSISTENCE: WebhookErrors.WEBHOOK_PERSISTENCE,
  WEBHOOK_WORKER_CLOSED: WebhookErrors.WEBHOOK_WORKER_CLOSED,
  WEBHOOK_WORKER_BAD_CALLBACK_VALUE: WebhookErrors.WEBHOOK_WORKER_BAD_CALLBACK_VALUE,
  /** @deprecated use WebhookErrors.WEBHOOK_MISSING_DEPENDENCY; removed in the next minor */
  WEBHOOK_WORKER_MISSING_DEPENDENCY: WebhookErrors.WEBHOOK_MISSING_DEPENDENCY
} as const

/** The 400 error for each body failure reason a provider or the parser reports. */
export const BODY_FAILURE_ERRORS = {
  empty_body: WebhookErrors.FST_WEBHOOK_EMPTY_BODY,
  invalid_utf8: WebhookErrors.FST_WEBHOOK_INVALID_UTF8,
  invalid_json: WebhookErrors.FST_WEBHOOK_INVALID_JSON,
  not_an_object: WebhookErrors.FST_WEBHOOK_NOT_AN_OBJECT,
  forbidden_key: WebhookErrors.FST_WEBHOOK_FORBIDDEN_KEY,
  missing_id: WebhookErrors.FST_WEBHOOK_MISSING_ID
} as const
