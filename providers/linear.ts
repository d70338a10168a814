/**
 * Linear: `Linear-Signature`, the hex HMAC-SHA256 of the raw body. The send
 * time is signed inside the body (`webhookTimestamp`, in ms), so the window
 * is checked once the signature matches.
 * https://linear.app/developers/webhooks#securing-webhooks
 */
import { WebhookErrors } from '../core/errors.js'
import { randomUUID } from 'node:crypto'
import { decodeUtf8, parseJsonObject } from './body.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeHex, fail, failureOf, hmacDigest, keyCache, matchingSecret, optionalHeader, replayKey, signingSecret, singleHeader,
  typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.linear()`. */
export interface LinearOptions {
  /** The webhook's signing secret(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /** How far the body's `webhookTimestamp` may be from now, either way. Linear's SDK allows 60 s. @defaultValue `60000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: the `Linear-Event` header. */
export interface LinearSignOptions extends SignOptions {
  /** `Linear-Event`. @defaultValue the body's `type`, else `'Issue'` */
  event?: string
}

/** The Linear provider: `sign()` also takes the `event`. The body must carry its own `webhookTimestamp`. */
export interface LinearProvider extends Provider {
  sign: (body: string | Buffer, options?: LinearSignOptions) => Record<string, string>
}

/**
 * Linear waits 5 s and retries 3 times, after 1 minute, 1 hour and 6 hours.
 * Dedupe on `Linear-Delivery` for 24 h.
 */
export const LINEAR_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: (7 * 60 + 1) * 60_000,
  suggestedDedupeTtlMs: 86_400_000,
  responseDeadlineMs: 5_000
})

/** The default window: Linear's own SDK allows 60 s. */
export const LINEAR_TOLERANCE_MS = 60_000

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE = 'linear-signature'
const SIGNATURE_BYTES = 32

/** Creates the Linear provider. */
export function linear (options: LinearOptions): LinearProvider {
  const o = checkOptionsObject<LinearOptions>('linear', options, KNOWN)
  const secret = checkSecret('linear', o.secret)
  const toleranceMs = o.toleranceMs === undefined ? LINEAR_TOLERANCE_MS : checkTolerance('linear', o.toleranceMs)
  const bodyLimit = checkBodyLimit('linear', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): { ok: true, received: Buffer } | VerifyFailure {
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const received = decodeHex(sig.value, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    return { ok: true, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers)
    if (!read.ok) return read
    const matched = matchingSecret(secrets, keyFor, 'sha256', [rawBody], [read.received])
    if (matched === -1) return fail('no_match')
    // Only a signed body is parsed here: its timestamp is the replay window.
    const timestampMs = signedTimestampMs(rawBody)
    if (timestampMs === undefined) return fail('malformed_body', 'no numeric webhookTimestamp (ms) in the signed body')
    const outside = checkWindow(timestampMs / 1000, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    return { ok: true, secretIndex: matched, timestampMs }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // `Linear-Delivery` is per delivery and kept by retries, but unsigned:
    // the replay key, of the signed body (with its timestamp), catches a
    // capture resent with a fresh one inside the window.
    const key = replayKey('linear', [req.rawBody])
    const id = optionalHeader(req.headers, 'linear-delivery') ?? key
    return { ok: true, id, type: typeFromValue(parsed.value.type), replayKey: key }
  }

  function sign (body: string | Buffer, signOptions: LinearSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('linear', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.linear: sign() needs a non-empty secret')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'Linear-Webhook',
      'linear-delivery': signOptions.id ?? randomUUID(),
      'linear-event': signOptions.event ?? bodyType(bytes) ?? 'Issue',
      [SIGNATURE]: hmacDigest('sha256', key, [bytes]).toString('hex')
    }
  }

  return {
    name: 'linear',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['linear-delivery', 'linear-event']),
    delivery: LINEAR_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    sign
  }
}

/** The body's `webhookTimestamp` in ms: a finite number, as Linear's SDK requires. */
function signedTimestampMs (rawBody: Buffer): number | undefined {
  const text = decodeUtf8(rawBody)
  const body = text.ok ? parseJsonObject(text.value) : text
  if (!body.ok) return undefined
  const ts = body.value.webhookTimestamp
  return typeof ts === 'number' && Number.isFinite(ts) ? ts : undefined
}

function bodyType (bytes: Buffer): string | undefined {
  const text = decodeUtf8(bytes)
  const body = text.ok ? parseJsonObject(text.value) : text
  return body.ok && typeof body.value.type === 'string' ? body.value.type : undefined
}
