/**
 * HubSpot (signature v3): `X-HubSpot-Signature-v3`, the base64 HMAC-SHA256
 * of method + public URI + raw body + `X-HubSpot-Request-Timestamp` (ms),
 * keyed with the app's client secret. Webhook bodies are JSON arrays of
 * events: one job per batch.
 * https://developers.hubspot.com/docs/guides/apps/authentication/validating-requests
 */
import { WebhookErrors } from '../core/errors.js'
import { createHash } from 'node:crypto'
import { batchId, batchItems, batchType } from './batch.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import { checkPublicUrl, publicUrlOf, signedUrlOf, type PublicUrlOption } from './public-url.js'
import {
  checkWindow, contentTypeFor, decodeBase64, fail, failureOf, hmacDigest, keyCache, matchingSecret, replayKey, signingSecret, singleHeader, utf8Key
} from './util.js'

/** Options of `providers.hubspot()`. */
export interface HubSpotOptions {
  /** The app's client secret(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * The URL HubSpot calls, which it signs: the public origin (and any path
   * prefix a proxy strips) to which the path and query as received are
   * appended, or a function of the request returning the full URL. Absent:
   * built from `X-Forwarded-Proto`/`X-Forwarded-Host` under Fastify's
   * `trustProxy`; otherwise every request is refused (`no_public_url`).
   * @defaultValue `undefined`
   */
  publicUrl?: PublicUrlOption
  /** How far `X-HubSpot-Request-Timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: the URL and method HubSpot would sign. */
export interface HubSpotSignOptions extends SignOptions {
  /** The full URL the request is posted to; what is signed is the URI `verify` derives from it. Required. */
  url?: string
  /** @defaultValue `'POST'` */
  method?: string
}

/** The HubSpot provider: `sign()` needs the `url`. */
export interface HubSpotProvider extends Provider {
  sign: (body: string | Buffer, options?: HubSpotSignOptions) => Record<string, string>
}

/**
 * HubSpot waits 5 s and retries up to 10 times over the next 24 hours (a
 * 400, 401, 403, 404 or 405 is final: it does not retry those). Dedupe
 * batches for 2 days.
 */
export const HUBSPOT_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 86_400_000,
  suggestedDedupeTtlMs: 2 * 86_400_000,
  responseDeadlineMs: 5_000
})

const KNOWN = ['secret', 'publicUrl', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE = 'x-hubspot-signature-v3'
const TIMESTAMP = 'x-hubspot-request-timestamp'
const SIGNATURE_BYTES = 32
// Decimal integer milliseconds only.
const MILLISECONDS = /^[0-9]{1,15}$/
// HubSpot signs the URI with these escapes decoded (and no other).
const DECODED = /%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi

/** The URI as HubSpot signs it: the escapes of `: / ? @ ! $ ' ( ) * , ;` decoded. */
export function hubspotUri (url: string): string {
  return url.replace(DECODED, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)))
}

/** Creates the HubSpot (signature v3) provider. */
export function hubspot (options: HubSpotOptions): HubSpotProvider {
  const o = checkOptionsObject<HubSpotOptions>('hubspot', options, KNOWN)
  const secret = checkSecret('hubspot', o.secret)
  const publicUrl = checkPublicUrl('hubspot.publicUrl', o.publicUrl, 'base')
  const toleranceMs = checkTolerance('hubspot', o.toleranceMs)
  const bodyLimit = checkBodyLimit('hubspot', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): { ok: true, ts: string, timestampMs: number, received: Buffer } | VerifyFailure {
    // The v1 and v2 signatures sign no time: only v3 is trusted.
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const ts = singleHeader(headers, TIMESTAMP)
    if (!ts.ok) return ts
    if (!MILLISECONDS.test(ts.value)) return fail('malformed_header', `${TIMESTAMP} is not integer milliseconds`)
    const timestampMs = Number(ts.value)
    const outside = checkWindow(timestampMs / 1000, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const received = decodeBase64(sig.value, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte base64')
    return { ok: true, ts: ts.value, timestampMs, received }
  }

  function verify ({ headers, rawBody, target }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const url = publicUrlOf(publicUrl, target, 'base')
    if (!url.ok) return url
    // The route always passes the target: a public URL without one came from a string option, and HubSpot posts.
    const method = target?.method ?? 'POST'
    const matched = matchingSecret(secrets, keyFor, 'sha256', [method, hubspotUri(url.url), rawBody, read.ts], [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampMs }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // Every event's `eventId` is in the signed body. A retry changes the
    // batch's `attemptNumber`, so the id comes from the event ids, never the bytes.
    const items = batchItems(parsed.items, parsed.value)
    const id = batchId(items, 'eventId') ?? replayKey('hubspot', [req.rawBody])
    return { ok: true, id, type: batchType(items, 'subscriptionType'), payload: parsed.items ?? parsed.value }
  }

  function sign (body: string | Buffer, signOptions: HubSpotSignOptions = {}): Record<string, string> {
    const secretText = signingSecret('hubspot', secret, signOptions.secret)
    const key = keyFor(secretText)
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.hubspot: sign() needs a non-empty secret')
    if (signOptions.url === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.hubspot: sign() needs { url }, the full URL HubSpot would call')
    const url = signedUrlOf(publicUrl, signOptions.url, 'base')
    if (url === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.hubspot: sign() cannot derive the signed URL: `publicUrl` refused it')
    const ts = String(signOptions.timestampSec === undefined ? Date.now() : signOptions.timestampSec * 1000)
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/)',
      // The legacy v1 signature HubSpot sends beside v3: sha256 of secret + body.
      'x-hubspot-signature': createHash('sha256').update(secretText).update(bytes).digest('hex'),
      'x-hubspot-signature-version': 'v1',
      [TIMESTAMP]: ts,
      [SIGNATURE]: hmacDigest('sha256', key, [signOptions.method ?? 'POST', hubspotUri(url), bytes, ts]).toString('base64')
    }
  }

  return {
    name: 'hubspot',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    jsonArrays: true,
    eventHeaders: Object.freeze([TIMESTAMP]),
    delivery: HUBSPOT_DELIVERY,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
