/**
 * Pieces every signature scheme shares at request time: header lookup, strict
 * decoding, constant-time comparison, timestamp windows, key caching, replay
 * keys. Nothing here throws on request input.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import type { ContentKind, IncomingHeaders, SecretOption, VerifyFailure } from './provider.js'

/** A header value, or why there is not exactly one. */
export type HeaderResult = { ok: true, value: string } | VerifyFailure

const MISSING: VerifyFailure = Object.freeze({ ok: false, reason: 'missing_header' })
const DUPLICATE: VerifyFailure = Object.freeze({ ok: false, reason: 'duplicate_header' })

/** The failure of a header reading, or `undefined` when it succeeded: a preset's `checkHeaders` from the reading its `verify` starts with. */
export function failureOf (read: { ok: true } | VerifyFailure): VerifyFailure | undefined {
  return read.ok ? undefined : read
}

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
 * Strict, canonical, padded standard base64 of 1 to `maxBytes` bytes, for
 * signatures whose length varies (DER-encoded ECDSA), else `undefined`.
 */
export function decodeBase64Upto (text: string, maxBytes: number): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || text.length > Math.ceil(maxBytes / 3) * 4 || !BASE64.test(text)) return undefined
  const buf = Buffer.from(text, 'base64')
  if (buf.length === 0 || buf.length > maxBytes || buf.toString('base64') !== text) return undefined
  return buf
}

/**
 * Constant-time equality of two digests. `timingSafeEqual` throws on unequal
 * lengths (a short signature header would crash the receiver); lengths are public (the algorithm fixes them).
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
 * over the preset's name and the signed bytes, i.e. the parts the HMAC covers,
 * in order (the exact raw body, after the signed timestamp when the scheme
 * signs one).
 *
 * Only signed material enters it, so no unsigned header (id, type, topic, hook
 * id, shop domain) can give a resent capture a new key. It is a digest of the
 * signed bytes rather than of the received signature because those bytes are
 * what every valid signature authenticates: a second secret during a rotation,
 * or extra, dropped or reordered signature candidates in one header, change
 * the signatures but not the bytes, so they cannot turn one capture into two
 * keys. The name namespaces it, so two senders that send identical bytes to
 * one queue do not share keys; its length prefix keeps name and bytes apart.
 * The price: two deliveries with byte-identical signed content are one event
 * for the dedupe TTL, as a sender that signs nothing unique per event cannot
 * be told from a replay anyway.
 */
export function replayKey (preset: string, signed: ReadonlyArray<string | Buffer>): string {
  const hash = createHash('sha256').update(`${Buffer.byteLength(preset)}:${preset}:`)
  for (const part of signed) hash.update(part)
  return hash.digest('hex')
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

/** The first secret of a string or array secret, for `sign()`. */
export function signingSecret (preset: string, own: SecretOption, given: string | undefined): string {
  if (given !== undefined) return given
  if (typeof own === 'string') return own
  if (Array.isArray(own) && own.length > 0) return own[0]
  throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET(`providers.${preset}: sign() needs { secret } when the provider's secret is a resolver function`)
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

/**
 * The index of the first secret whose HMAC of `signed` equals one of the
 * received candidates, or -1. Every secret is tried against every candidate,
 * without early exit, so timing does not reveal which one matched; candidates
 * that failed to decode are `undefined` and never match.
 */
export function matchingSecret (
  secrets: readonly string[],
  keyFor: (secret: string) => KeyObject | undefined,
  algorithm: string,
  signed: ReadonlyArray<string | Buffer>,
  candidates: ReadonlyArray<Buffer | undefined>
): number {
  let matched = -1
  for (let i = 0; i < secrets.length; i++) {
    const key = keyFor(secrets[i])
    if (key === undefined) continue
    const expected = hmacDigest(algorithm, key, signed)
    for (const candidate of candidates) {
      if (candidate !== undefined && digestsEqual(expected, candidate) && matched === -1) matched = i
    }
  }
  return matched
}
