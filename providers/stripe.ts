/**
 * Stripe: `Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>…]` over
 * `${t}.${body}`, keyed with the UTF-8 bytes of the whole `whsec_…` string.
 * https://docs.stripe.com/webhooks#verify-manually
 */
import { WebhookErrors } from '../core/errors.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeHex, matchingSecret, fail, failureOf, hmacDigest, idFromValue, keyCache, nowSec, parseTimestampSec, signingSecret,
  singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.stripe()`. */
export interface StripeOptions {
  /** The endpoint's signing secret(s) (`whsec_…`), a list (rotation: Stripe signs with both for a while), or a resolver. */
  secret: SecretOption
  /** How far `t` may be from now, either way (Stripe's SDK checks only the past). @defaultValue `300000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Stripe retries for up to 3 days in live mode (`GET /v1/events` lists 30
 * days for catch-up); dedupe on the event id for 4 days. Stripe does not
 * publish its response timeout: 10 s is a conservative bound.
 */
export const STRIPE_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 3 * 86_400_000,
  suggestedDedupeTtlMs: 4 * 86_400_000,
  responseDeadlineMs: 10_000
})

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
interface StripeHeaders { ok: true, t: string, timestampSec: number, candidates: Array<Buffer | undefined> }
const HEADER = 'stripe-signature'
const SIGNATURE_BYTES = 32
// Stripe's own user agent, so `sign()` sends what Stripe sends.
const USER_AGENT = 'Stripe/1.0 (+https://stripe.com/docs/webhooks)'

/** Creates the Stripe provider. */
export function stripe (options: StripeOptions): Provider {
  const o = checkOptionsObject<StripeOptions>('stripe', options, KNOWN)
  const secret = checkSecret('stripe', o.secret)
  const toleranceMs = checkTolerance('stripe', o.toleranceMs)
  const bodyLimit = checkBodyLimit('stripe', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): StripeHeaders | VerifyFailure {
    const header = singleHeader(headers, HEADER)
    if (!header.ok) return header
    let t: string | undefined
    const candidates: Array<Buffer | undefined> = []
    let versions = 0
    for (const item of header.value.split(',')) {
      const eq = item.indexOf('=')
      if (eq === -1) continue
      const key = item.slice(0, eq)
      const value = item.slice(eq + 1)
      if (key === 't') {
        if (t !== undefined) return fail('malformed_header', 'stripe-signature has two t=')
        t = value
      } else if (key === 'v1') {
        candidates.push(decodeHex(value, SIGNATURE_BYTES))
      } else if (/^v\d+$/.test(key)) {
        versions++
      }
    }
    if (t === undefined) return fail('malformed_header', 'stripe-signature has no t=')
    const timestampSec = parseTimestampSec(t)
    if (timestampSec === undefined) return fail('malformed_header', 'stripe-signature t= is not integer seconds')
    if (candidates.length === 0) return fail(versions > 0 ? 'unsupported_version' : 'malformed_header', 'stripe-signature has no v1=')
    if (candidates.every((c) => c === undefined)) return fail('no_match', 'no v1= is 32-byte hex')
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    return { ok: true, t, timestampSec, candidates }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const signed = [`${read.t}.`, rawBody]
    const matched = matchingSecret(secrets, keyFor, 'sha256', signed, read.candidates)
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody): EventFields | BodyFailure {
    // `id` (`evt_…`) is in the signed body and stable across retries.
    const id = idFromValue(parsed.value.id)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: 'id' }
    return { ok: true, id, type: typeFromValue(parsed.value.type) }
  }

  function sign (body: string | Buffer, options: SignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('stripe', secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.stripe: sign() needs a non-empty secret')
    const t = String(options.timestampSec ?? nowSec())
    const v1 = hmacDigest('sha256', key, [`${t}.`, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]).toString('hex')
    return {
      'content-type': options.contentType === undefined ? 'application/json; charset=utf-8' : contentTypeFor(options.contentType, 'json'),
      'user-agent': USER_AGENT,
      [HEADER]: `t=${t},v1=${v1}`
    }
  }

  return {
    name: 'stripe',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['user-agent']),
    delivery: STRIPE_DELIVERY,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
