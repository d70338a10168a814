/**
 * Zoom: `x-zm-signature: v0=<hex>`, the HMAC-SHA256 of
 * `v0:${x-zm-request-timestamp}:${body}` keyed with the app's secret token.
 * The `endpoint.url_validation` event is answered inline with the
 * `plainToken` and its HMAC, and not enqueued.
 * https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
 */
import { WebhookErrors } from '../core/errors.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, InlineResponse, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  contentTypeFor, failureOf, hmacDigest, nowSec, replayKey, signingSecret, typeFromValue
} from './util.js'
import { v0Signature } from './v0-signature.js'

/** Options of `providers.zoom()`. */
export interface ZoomOptions {
  /** The app's secret token(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /** How far `x-zm-request-timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Zoom waits 3 s and retries 3 times: 5 minutes, then 20, then 60 minutes
 * after the attempt before. Dedupe for 24 h.
 */
export const ZOOM_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 85 * 60_000,
  suggestedDedupeTtlMs: 86_400_000,
  responseDeadlineMs: 3_000
})

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE = 'x-zm-signature'
const TIMESTAMP = 'x-zm-request-timestamp'
const VALIDATION = 'endpoint.url_validation'
const NOT_ENQUEUED_200: InlineResponse = Object.freeze({ statusCode: 200, body: undefined, enqueue: false })

/** Creates the Zoom provider. */
export function zoom (options: ZoomOptions): Provider {
  const o = checkOptionsObject<ZoomOptions>('zoom', options, KNOWN)
  const secret = checkSecret('zoom', o.secret)
  const toleranceMs = checkTolerance('zoom', o.toleranceMs)
  const bodyLimit = checkBodyLimit('zoom', o.bodyLimit)
  const { keyFor, readHeaders, verify } = v0Signature({ signature: SIGNATURE, timestamp: TIMESTAMP }, toleranceMs)

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // Zoom's body has no event id, and its tracking header is unsigned: the id
    // is a digest of the signed body (its `event_ts` makes it unique), which
    // a retry repeats and a re-signed capture cannot change.
    return { ok: true, id: replayKey('zoom', [req.rawBody]), type: typeFromValue(parsed.value.event) }
  }

  function respond (parsed: ParsedBody, _req: ProviderRequest, matched?: string): InlineResponse | undefined {
    if (parsed.value.event !== VALIDATION) return undefined
    const payload = parsed.value.payload
    const plainToken = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>).plainToken : undefined
    const key = typeof matched === 'string' ? keyFor(matched) : undefined
    if (typeof plainToken !== 'string' || key === undefined) return NOT_ENQUEUED_200
    return { statusCode: 200, body: { plainToken, encryptedToken: hmacDigest('sha256', key, [plainToken]).toString('hex') }, enqueue: false }
  }

  function sign (body: string | Buffer, signOptions: SignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('zoom', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.zoom: sign() needs a non-empty secret')
    const ts = String(signOptions.timestampSec ?? nowSec())
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'Zoom Marketplace/1.0a',
      [TIMESTAMP]: ts,
      [SIGNATURE]: `v0=${hmacDigest('sha256', key, [`v0:${ts}:`, bytes]).toString('hex')}`
    }
  }

  return {
    name: 'zoom',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([TIMESTAMP, 'x-zm-trackingid']),
    delivery: ZOOM_DELIVERY,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    respond,
    sign
  }
}
