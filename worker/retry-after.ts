import { isRateLimitedError } from '../core/hook-errors.js'

/** The pause when a rate-limit answer does not say how long to wait. */
export const DEFAULT_PAUSE_MS = 60_000

// `Retry-After: 0`, or a date already past, must not turn into a tight loop against the API.
const MIN_PAUSE_MS = 1000

interface HttpLikeError {
  status?: unknown
  statusCode?: unknown
  retryAfterMs?: unknown
  headers?: unknown
  response?: { status?: unknown, headers?: unknown } | null
}

/**
 * How long hydration must pause after `err`, or `undefined` when `err` is not
 * a rate limit: a `RateLimitedError` (its `retryAfterMs`), or an error carrying
 * HTTP 429 in `status`, `statusCode` or `response.status` (fetch, got, axios,
 * Octokit and Stripe errors all use one of them). The pause comes from
 * `err.retryAfterMs`, else a `Retry-After` header in `err.headers` or
 * `err.response.headers` (a plain object or a `Headers`), else 60 s.
 */
export function rateLimitPauseMs (err: unknown, now = Date.now()): number | undefined {
  if (isRateLimitedError(err)) return usableMs(err.retryAfterMs) ?? DEFAULT_PAUSE_MS
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as HttpLikeError
  const status = e.status ?? e.statusCode ?? e.response?.status
  if (Number(status) !== 429) return undefined
  const own = usableMs(e.retryAfterMs)
  if (own !== undefined) return own
  const header = headerValue(e.headers, 'retry-after') ?? headerValue(e.response?.headers, 'retry-after')
  return parseRetryAfter(header, now) ?? DEFAULT_PAUSE_MS
}

/**
 * A `Retry-After` value in milliseconds: delay-seconds or an HTTP date
 * (RFC 9110 §10.2.3), at least one second; `undefined` when absent or unreadable.
 */
export function parseRetryAfter (value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.max(MIN_PAUSE_MS, Number(text) * 1000)
  if (!/[a-z]/i.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(MIN_PAUSE_MS, at - now)
}

/** A header from a `Headers`-like object (`get`) or a plain object with any-case names. */
function headerValue (headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const h = headers as { get?: unknown } & Record<string, unknown>
  let value: unknown
  if (typeof h.get === 'function') value = (h.get as (n: string) => unknown)(name)
  else {
    const key = Object.keys(h).find((k) => k.toLowerCase() === name)
    value = key === undefined ? undefined : h[key]
  }
  if (Array.isArray(value)) value = value[0]
  if (typeof value === 'number') return String(value)
  return typeof value === 'string' ? value : undefined
}

function usableMs (value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.ceil(value) : undefined
}
