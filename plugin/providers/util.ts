/**
 * Pieces every signature scheme shares: header lookup, strict decoding,
 * constant-time comparison, timestamp windows, key caching and option checks.
 * Nothing here throws on request input; option checks throw at construction.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { PluginErrors } from '../errors.js'
import { expected, unknownKeys } from '../../worker/validate.js'
import type { ContentKind, DeliveryFacts, IncomingHeaders, SecretOption, VerifyFailure } from '../provider.js'

/** A header value, or why there is not exactly one. */
export type HeaderResult = { ok: true, value: string } | VerifyFailure

const MISSING: VerifyFailure = Object.freeze({ ok: false, reason: 'missing_header' })
const DUPLICATE: VerifyFailure = Object.freeze({ ok: false, reason: 'duplicate_header' })

/** A failure result, with an optional detail for the log. */
export function fail (reason: VerifyFailure['reason'], detail?: string): VerifyFailure {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail }
}

/**
 * Exactly one value of header `name` (lower-case). Node lower-cases names, so
 * the direct lookup is the hot path; other callers (tests, proxies) may pass
 * mixed case, found by a scan that also notices the same name twice.
 */
export function singleHeader (headers: IncomingHeaders, name: string): HeaderResult {
  let raw: unknown = headers[name]
  if (raw === undefined) {
    let found = 0
    for (const key of Object.keys(headers)) {
      if (key.length === name.length && key.toLowerCase() === name) {
        found++
        raw = headers[key]
      }
    }
    if (found > 1) return { ...DUPLICATE, detail: name }
  }
  if (Array.isArray(raw)) {
    if (raw.length > 1) return { ...DUPLICATE, detail: name }
    raw = raw[0]
  }
  if (typeof raw !== 'string' || raw === '') return { ...MISSING, detail: name }
  return { ok: true, value: raw }
}

/**
 * One header from two equivalent families (`x-shopify-…` and `shopify-…`):
 * either may be present; both with different values is a duplicate.
 */
export function eitherHeader (headers: IncomingHeaders, names: readonly [string, string]): HeaderResult {
  const a = singleHeader(headers, names[0])
  const b = singleHeader(headers, names[1])
  if (a.ok && b.ok) return a.value === b.value ? a : { ...DUPLICATE, detail: names.join(' and ') }
  // A duplicate in either family wins over a missing one in the other.
  if (!a.ok && a.reason !== 'missing_header') return a
  if (!b.ok && b.reason !== 'missing_header') return b
  return a.ok ? a : b
}

/** A header value if present exactly once, else `undefined` (for unsigned metadata such as a type). */
export function optionalHeader (headers: IncomingHeaders, name: string): string | undefined {
  const r = singleHeader(headers, name)
  return r.ok ? r.value : undefined
}

const HEX = /^[0-9a-fA-F]*$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Strict hex of exactly `bytes` bytes, else `undefined`. */
export function decodeHex (text: string, bytes: number): Buffer | undefined {
  if (text.length !== bytes * 2 || !HEX.test(text)) return undefined
  return Buffer.from(text, 'hex')
}

/**
 * Strict, canonical, padded standard base64 of exactly `bytes` bytes, else
 * `undefined`. Node's decoder skips junk silently, so the text is checked first.
 */
export function decodeBase64 (text: string, bytes: number): Buffer | undefined {
  if (text.length !== Math.ceil(bytes / 3) * 4 || !BASE64.test(text)) return undefined
  const buf = Buffer.from(text, 'base64')
  if (buf.length !== bytes || buf.toString('base64') !== text) return undefined
  return buf
}

/**
 * Constant-time equality of two digests. `timingSafeEqual` throws on unequal
 * lengths (the seed's crash); lengths are public (the algorithm fixes them).
 */
export function digestsEqual (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

// Decimal integer seconds only: no sign, exponent, fraction or milliseconds
// (13+ digits would be milliseconds until the year 33658).
const SECONDS = /^[0-9]{1,12}$/

/** Unix seconds from a header, or `undefined` when it is not decimal integer seconds. */
export function parseTimestampSec (text: string): number | undefined {
  return SECONDS.test(text) ? Number(text) : undefined
}

/** Whether the signed timestamp is within `toleranceMs` of now, in both directions. */
export function checkWindow (timestampSec: number, nowMs: number, toleranceMs: number): VerifyFailure | undefined {
  const skewMs = nowMs - timestampSec * 1000
  if (skewMs > toleranceMs) return fail('timestamp_too_old', `${Math.round(skewMs / 1000)} s old`)
  if (-skewMs > toleranceMs) return fail('timestamp_too_new', `${Math.round(-skewMs / 1000)} s ahead`)
  return undefined
}

// Resolver secrets may vary per tenant: the cache is bounded so a stream of
// distinct secrets cannot grow memory without limit.
const MAX_CACHED_KEYS = 256

/**
 * Derived HMAC keys by secret string. `derive` returns the key bytes or
 * `undefined` when the secret is unusable (then it never matches).
 */
export function keyCache (derive: (secret: string) => Buffer | undefined): (secret: string) => KeyObject | undefined {
  const cache = new Map<string, KeyObject | undefined>()
  return function keyFor (secret) {
    if (cache.has(secret)) return cache.get(secret)
    let key: KeyObject | undefined
    try {
      const bytes = typeof secret === 'string' && secret !== '' ? derive(secret) : undefined
      key = bytes === undefined || bytes.length === 0 ? undefined : createSecretKey(bytes)
    } catch {
      key = undefined
    }
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string)
    cache.set(secret, key)
    return key
  }
}

/** The UTF-8 bytes of a secret: the key for every scheme except Standard Webhooks. */
export function utf8Key (secret: string): Buffer {
  return Buffer.from(secret, 'utf8')
}

/**
 * The replay key of an event whose id comes from an unsigned header: sha256
 * over the type and the received signature bytes. A resent capture carries the
 * same signature whatever id header it is given.
 */
export function replayKey (type: string, signature: Buffer): string {
  return createHash('sha256').update(type).update('\0').update(signature).digest('hex')
}

/** A body field usable as an id: a non-empty string, or a safe integer as its decimal string. */
export function idFromValue (value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  return undefined
}

/** A body field usable as a type: a string, else `''`. */
export function typeFromValue (value: unknown): string {
  return typeof value === 'string' ? value : ''
}

/** Throws the coded option error. */
export function invalidOption (message: string): never {
  throw new PluginErrors.FST_WEBHOOK_INVALID_OPTION(message)
}

/** Checks a preset's options object and its keys; returns it typed. */
export function checkOptionsObject<T extends object> (preset: string, options: unknown, known: readonly string[]): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalidOption(expected(`providers.${preset}() options`, 'an object with a `secret`', options))
  }
  const unknown = unknownKeys(options, known)
  if (unknown.length > 0) {
    invalidOption(`Unknown option \`${unknown[0]}\` for providers.${preset}(); expected one of ${known.map((k) => `\`${k}\``).join(', ')}`)
  }
  return options as T
}

/**
 * A secret option: a non-empty string, a non-empty array of them, or a
 * resolver function. `check` refuses strings the scheme cannot use (returns a hint).
 */
export function checkSecret (preset: string, secret: unknown, check?: (s: string) => string | undefined): SecretOption {
  const name = `${preset}.secret`
  const what = 'a non-empty string, a non-empty array of them, or a function'
  if (typeof secret === 'function') return secret as SecretOption
  const list = Array.isArray(secret) ? secret : [secret]
  if (list.length === 0) invalidOption(expected(name, what, secret))
  for (const s of list) {
    // Only a non-string or an empty string reaches the message: never a usable secret.
    if (typeof s !== 'string' || s === '') invalidOption(expected(name, what, s))
    const hint = check?.(s)
    // The value is a secret: the message names the problem, never the value.
    if (hint !== undefined) invalidOption(`Expected \`${name}\` to be usable: ${hint}`)
  }
  return secret as SecretOption
}

/** Default and maximum signed-timestamp tolerance. */
export const DEFAULT_TOLERANCE_MS = 300_000
const MAX_TOLERANCE_MS = 86_400_000

/** A tolerance in ms, from 1 s to 24 h. */
export function checkTolerance (preset: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TOLERANCE_MS
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1000 && value <= MAX_TOLERANCE_MS) return value
  return invalidOption(expected(`${preset}.toleranceMs`, `an integer from 1000 to ${MAX_TOLERANCE_MS} (ms)`, value))
}

/** The first secret of a string or array secret, for `sign()`. */
export function signingSecret (preset: string, own: SecretOption, given: string | undefined): string {
  if (given !== undefined) return given
  if (typeof own === 'string') return own
  if (Array.isArray(own) && own.length > 0) return own[0]
  throw new TypeError(`providers.${preset}: sign() needs { secret } when the provider's secret is a resolver function`)
}

/** Seconds since epoch for `sign()`. */
export function nowSec (): number {
  return Math.floor(Date.now() / 1000)
}

/** The content-type header for `sign()`: a kind (`json`, `form`) or a full header value. */
export function contentTypeFor (given: string | undefined, fallback: ContentKind): string {
  const kind = given ?? fallback
  if (kind === 'json') return 'application/json'
  if (kind === 'form') return 'application/x-www-form-urlencoded'
  return kind
}

/** An HMAC of the parts, in order: strings as UTF-8, buffers as they are. */
export function hmacDigest (algorithm: string, key: KeyObject, parts: ReadonlyArray<string | Buffer>): Buffer {
  const mac = createHmac(algorithm, key)
  for (const part of parts) mac.update(part)
  return mac.digest()
}

/** A non-empty list of distinct content kinds. */
export function checkContentTypes (preset: string, value: unknown): readonly ContentKind[] {
  if (Array.isArray(value) && value.length > 0 && value.length <= 2 && new Set(value).size === value.length &&
    value.every((k) => k === 'json' || k === 'form')) return Object.freeze([...value])
  return invalidOption(expected(`${preset}.contentTypes`, "a non-empty array of 'json' and/or 'form'", value))
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/

/** Lower-case header names to copy into events; never one of the signature headers. */
export function checkEventHeaders (preset: string, value: unknown, signatureHeaders: readonly string[]): readonly string[] {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    return invalidOption(expected(`${preset}.eventHeaders`, 'an array of lower-case header names', value))
  }
  const leak = value.find((h) => signatureHeaders.includes(h))
  if (leak !== undefined) invalidOption(expected(`${preset}.eventHeaders`, 'free of signature headers', leak))
  return Object.freeze([...new Set(value as string[])])
}

/** A body limit in bytes, or `undefined`. */
export function checkBodyLimit (preset: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value
  return invalidOption(expected(`${preset}.bodyLimit`, 'an integer from 1 and up (bytes)', value))
}

/** Delivery facts given by the user: three non-negative integer durations. */
export function checkDelivery (preset: string, value: unknown): DeliveryFacts {
  const v = value as Record<string, unknown> | null
  const ok = typeof v === 'object' && v !== null &&
    ['retriesForMs', 'suggestedDedupeTtlMs', 'responseDeadlineMs'].every((k) => typeof v[k] === 'number' && Number.isSafeInteger(v[k]) && (v[k] as number) >= 0)
  if (!ok) invalidOption(expected(`${preset}.delivery`, 'an object with integer `retriesForMs`, `suggestedDedupeTtlMs` and `responseDeadlineMs` (ms)', value))
  return value as DeliveryFacts
}

/** A lower-case header name option. */
export function checkHeaderName (name: string, value: unknown): string {
  if (typeof value === 'string' && HEADER_NAME.test(value)) return value
  return invalidOption(expected(name, 'a lower-case header name', value))
}
