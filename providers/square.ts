/**
 * Square: `X-Square-HmacSha256-Signature`, the base64 HMAC-SHA256 of the
 * subscription's notification URL followed by the raw body, keyed with the
 * subscription's signature key.
 * https://developer.squareup.com/docs/webhooks/step3validate
 */
import { WebhookErrors } from '../core/errors.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret } from './checks.js'
import { checkPublicUrl, publicUrlOf, signedUrlOf, type PublicUrlOption } from './public-url.js'
import {
  contentTypeFor, decodeBase64, fail, failureOf, hmacDigest, idFromValue, keyCache, matchingSecret, signingSecret, singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.square()`. */
export interface SquareOptions {
  /** The subscription's signature key(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * The notification URL, exactly as the subscription has it (Square signs
   * that string), or a function of the request returning it. Absent: built
   * from `X-Forwarded-Proto` and `X-Forwarded-Host` and the path as received
   * when Fastify's `trustProxy` is set; otherwise every request is refused
   * (`no_public_url`). @defaultValue `undefined`
   */
  notificationUrl?: PublicUrlOption
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: the notification URL Square would sign. */
export interface SquareSignOptions extends SignOptions {
  /**
   * The URL the request is posted to. What is signed is the notification URL
   * `verify` derives: a string `notificationUrl` itself, else this URL.
   */
  url?: string
}

/** The Square provider: `sign()` also takes the notification `url`. */
export interface SquareProvider extends Provider {
  sign: (body: string | Buffer, options?: SquareSignOptions) => Record<string, string>
}

/**
 * Square waits 10 s and retries for up to 72 hours after the event (1, 2,
 * 4, 8, 16 and 32 minutes apart, then hourly). Dedupe on `event_id` for 4 days.
 */
export const SQUARE_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 72 * 3_600_000,
  suggestedDedupeTtlMs: 4 * 86_400_000,
  responseDeadlineMs: 10_000
})

const KNOWN = ['secret', 'notificationUrl', 'bodyLimit'] as const
const SIGNATURE = 'x-square-hmacsha256-signature'
const SIGNATURE_BYTES = 32

/** Creates the Square provider. */
export function square (options: SquareOptions): SquareProvider {
  const o = checkOptionsObject<SquareOptions>('square', options, KNOWN)
  const secret = checkSecret('square', o.secret)
  const notificationUrl = checkPublicUrl('square.notificationUrl', o.notificationUrl, 'exact')
  const bodyLimit = checkBodyLimit('square', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): { ok: true, received: Buffer } | VerifyFailure {
    // The legacy SHA-1 `X-Square-Signature` alone is not trusted.
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const received = decodeBase64(sig.value, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte base64')
    return { ok: true, received }
  }

  function verify ({ headers, rawBody, target }: VerifyInput, secrets: readonly string[]): VerifyResult {
    const read = readHeaders(headers)
    if (!read.ok) return read
    const url = publicUrlOf(notificationUrl, target, 'exact')
    if (!url.ok) return url
    const matched = matchingSecret(secrets, keyFor, 'sha256', [url.url, rawBody], [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched }
  }

  function toEvent (parsed: ParsedBody): EventFields | BodyFailure {
    // `event_id` is in the signed body, Square's own idempotency value, kept by its retries.
    const id = idFromValue(parsed.value.event_id)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: 'event_id' }
    return { ok: true, id, type: typeFromValue(parsed.value.type) }
  }

  function sign (body: string | Buffer, signOptions: SquareSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('square', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.square: sign() needs a non-empty secret')
    const url = signedUrlOf(notificationUrl, signOptions.url, 'exact')
    if (url === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.square: sign() needs { url }, the notification URL, when `notificationUrl` is not a string')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'Square Connect v2',
      [SIGNATURE]: hmacDigest('sha256', key, [url, bytes]).toString('base64')
    }
  }

  return {
    name: 'square',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['user-agent', 'square-version', 'square-environment', 'square-retry-number', 'square-retry-reason', 'square-initial-delivery-timestamp']),
    delivery: SQUARE_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    sign
  }
}
