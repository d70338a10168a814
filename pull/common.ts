/**
 * What the pull helpers share: the state they hand to `apply`, the mapping of
 * a provider API's failures onto the worker's and the poller's error contract,
 * and the lazy loading of an optional SDK.
 */
import { WebhookErrors } from '../core/errors.js'
import { PermanentError, RateLimitedError } from '../core/hook-errors.js'
import type { WebhookEvent } from '../core/event.js'
import type { WorkerContext } from '../worker/options.js'

/** The state a pull helper's `hydrate` returns: the object an event names, as the provider's API has it now. */
export interface PulledState<T = unknown> {
  /** The object's kind, in the provider's words: `'customer'`, `'issue'`, `'orders'`… */
  kind: string
  /** The object's id within its kind (for GitHub, `owner/repo#number` and the like). */
  id: string
  /** The object, as the API returned it. */
  object: T
  /** Milliseconds since epoch: the object's update time, or the event's time where the object has none. */
  version: number
}

/**
 * What a pull helper returns: spread it into `createWebhookWorker`. `hydrate`
 * fetches the object an event names and returns `null` for one that is gone
 * (a tombstone); `objectKey` and `version` order the applies of one object.
 * `skipEqualVersion` is set where a version names one state of the object
 * (an update time the helper waited out, so no later change can share it):
 * then a webhook and a poll of the same change apply once.
 */
export interface PullHooks<T = unknown> {
  /**
   * The source whose events these hooks read (the plugin's `source`), for
   * `combinePulls`. Not enumerable, so a spread into `createWebhookWorker`
   * (which refuses options it does not know) leaves it out.
   */
  readonly source: string
  hydrate: (event: WebhookEvent, ctx: WorkerContext) => Promise<PulledState<T> | null>
  objectKey: (event: WebhookEvent) => string | undefined
  version: (state: PulledState<T>) => number
  skipEqualVersion: boolean
}

/** Hooks with their `source` attached as a non-enumerable property (see {@link PullHooks.source}). */
export function pullHooks<T> (source: string, hooks: Omit<PullHooks<T>, 'source'>): PullHooks<T> {
  return Object.defineProperty({ ...hooks }, 'source', { value: source, enumerable: false }) as PullHooks<T>
}

/** The version of any pulled state. */
export function pulledVersion (state: PulledState): number {
  return state.version
}

/**
 * One set of worker hooks over several sources (Stripe and GitHub on one
 * queue): each event goes to the helper of its `source`. An event of a source
 * no helper reads is a `PermanentError` (dead-lettered), since no retry can
 * find it a helper.
 */
export function combinePulls (...pulls: Array<PullHooks<any>>): PullHooks {
  const bySource = new Map<string, PullHooks<any>>()
  for (const pull of pulls) {
    if (bySource.has(pull.source)) throw new WebhookErrors.WEBHOOK_INVALID_OPTION(`combinePulls(): two helpers read the source '${pull.source}'; give one of them another \`source\``)
    bySource.set(pull.source, pull)
  }
  const helperOf = (event: WebhookEvent): PullHooks<any> | undefined => bySource.get(event.source)
  return pullHooks(pulls.map((p) => p.source).join(','), {
    async hydrate (event, ctx) {
      const pull = helperOf(event)
      if (pull === undefined) throw new WebhookErrors.WEBHOOK_PULL_UNKNOWN_SOURCE(`No pull helper reads the source '${event.source}' (helpers: ${[...bySource.keys()].join(', ')})`)
      return await pull.hydrate(event, ctx)
    },
    objectKey: (event) => helperOf(event)?.objectKey(event),
    version: pulledVersion,
    // One flag for all: equal versions are skipped only if every helper's versions allow it.
    skipEqualVersion: pulls.every((p) => p.skipEqualVersion)
  })
}

/** An API answer that did not succeed, as the helpers see it whatever the SDK. */
export interface ApiFailure {
  /** The HTTP status; `undefined` when no answer came (network error, timeout). */
  status: number | undefined
  /** Reads a response header, case-insensitively. */
  header: (name: string) => string | undefined
  /** The thrown error or the response, kept as the `cause`. */
  cause: unknown
}

/** How a provider's failures map: its name for messages and, where it has them, its own rate-limit signals. */
export interface FailurePolicy {
  /** `'Stripe'`, `'GitHub'`, `'Shopify'`. */
  provider: string
  /** The pause when a 429 names none. */
  defaultPauseMs: number
  /** A rate-limit pause read from provider-specific signals (GitHub's 403 with `x-ratelimit-remaining: 0`), or `undefined`. */
  rateLimitMs?: (failure: ApiFailure, now: number) => number | undefined
}

/**
 * Maps a failed API call: `'gone'` for 404 and 410 (the caller returns a
 * `null` state); a `RateLimitedError` for 429 or the provider's own signal (no
 * attempt spent); a permanent `WEBHOOK_PULL_UNAUTHORIZED` for 401 and 403 (a
 * wrong key or a missing scope: no retry helps); a permanent
 * `WEBHOOK_PULL_REJECTED` for any other 4xx; and `WEBHOOK_PULL_UNAVAILABLE`,
 * retried, for a 5xx or no answer.
 */
export function mapApiFailure (policy: FailurePolicy, what: string, failure: ApiFailure, now = Date.now()): 'gone' | Error {
  const { status, cause } = failure
  const pause = policy.rateLimitMs?.(failure, now) ??
    (status === 429 ? retryAfterMs(failure.header('retry-after'), now) ?? policy.defaultPauseMs : undefined)
  if (pause !== undefined) return new RateLimitedError(pause, `${policy.provider} rate limit on ${what}: paused ${pause} ms`, { cause })
  if (status === 404 || status === 410) return 'gone'
  if (status === 401 || status === 403) {
    return new WebhookErrors.WEBHOOK_PULL_UNAUTHORIZED(`${policy.provider} answered ${status} to ${what}: the key is wrong, revoked, or lacks the scope this call needs`, { cause })
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new WebhookErrors.WEBHOOK_PULL_REJECTED(`${policy.provider} answered ${status} to ${what}`, { cause })
  }
  return new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`${policy.provider} did not answer ${what}${status === undefined ? '' : ` (status ${status})`}`, { cause })
}

/**
 * A `Retry-After` value in milliseconds: delay-seconds (decimals allowed, as
 * Shopify sends them) or an HTTP date; `undefined` when absent or unreadable.
 */
export function retryAfterMs (value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** An ISO 8601 time (or Unix seconds) as milliseconds, for versions; `undefined` when unreadable. */
export function timeMs (value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000
  if (typeof value !== 'string') return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

/**
 * Checks now that an optional SDK is installed, and loads it on first use: the
 * helper fails at creation with `WEBHOOK_MISSING_DEPENDENCY` naming the
 * package, not on its first event; and nothing loads the SDK until a call
 * needs it.
 */
export function optionalSdk<M> (pkg: string, helper: string): () => Promise<M> {
  try {
    import.meta.resolve(pkg)
  } catch {
    throw new WebhookErrors.WEBHOOK_MISSING_DEPENDENCY(`${helper} needs the '${pkg}' package when no client is given: npm install ${pkg} (or pass your own client)`)
  }
  let loading: Promise<M> | undefined
  return async () => (loading ??= import(pkg) as Promise<M>)
}

/** The `PermanentError` base, re-exported so a helper's own refusals are permanent by class and by name. */
export { PermanentError }
