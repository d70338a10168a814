/**
 * SendGrid Event Webhook: `X-Twilio-Email-Event-Webhook-Signature`, a base64
 * DER ECDSA P-256 (SHA-256) signature of
 * `X-Twilio-Email-Event-Webhook-Timestamp` followed by the raw body, made
 * with SendGrid's private key; the receiver holds the verification key. The
 * body is a JSON array of events: one job per batch.
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
 */
import type { KeyObject } from 'node:crypto'
import { batchId, batchItems, batchType } from './batch.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import { matchingKey, parsePrivateKey, parsePublicKey, publicKeyCache, PUBLIC_KEY_FORMS, signData } from './keys.js'
import { checkWindow, contentTypeFor, decodeBase64Upto, fail, failureOf, nowSec, parseTimestampSec, singleHeader } from './util.js'

/** Options of `providers.sendgrid()`. */
export interface SendGridOptions {
  /**
   * The Event Webhook's verification key (base64 DER, as Mail Settings shows
   * it; an SPKI PEM or a JWK also work), a list, or a resolver.
   */
  publicKey: SecretOption
  /** How far the signed timestamp may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: SendGrid signs with its private key, so a test needs one. */
export interface SendGridSignOptions extends SignOptions {
  /** An ECDSA P-256 private key: a `KeyObject`, PEM, JWK, or base64 DER PKCS#8. Required. */
  privateKey?: string | KeyObject
}

/** The SendGrid provider: `sign()` takes the `privateKey` to sign with. */
export interface SendGridProvider extends Provider {
  sign: (body: string | Buffer, options?: SendGridSignOptions) => Record<string, string>
}

/**
 * SendGrid retries at increasing intervals for up to 24 hours after the
 * event; it does not publish its response timeout (10 s is a conservative
 * bound). Dedupe batches for 2 days; dedupe events by `sg_event_id` in `apply`.
 */
export const SENDGRID_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 86_400_000,
  suggestedDedupeTtlMs: 2 * 86_400_000,
  responseDeadlineMs: 10_000
})

const KNOWN = ['publicKey', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE = 'x-twilio-email-event-webhook-signature'
const TIMESTAMP = 'x-twilio-email-event-webhook-timestamp'
// A DER ECDSA P-256 signature is at most 72 bytes.
const MAX_SIGNATURE_BYTES = 72

/** Why a verification key cannot be used; `undefined` when it can. Never echoes the key. */
function keyProblem (text: string): string | undefined {
  return parsePublicKey(text, 'p256') === undefined ? PUBLIC_KEY_FORMS.p256 : undefined
}

/** Creates the SendGrid Event Webhook provider. */
export function sendgrid (options: SendGridOptions): SendGridProvider {
  const o = checkOptionsObject<SendGridOptions>('sendgrid', options, KNOWN)
  const publicKey = checkSecret('sendgrid', o.publicKey, keyProblem, 'publicKey')
  const toleranceMs = checkTolerance('sendgrid', o.toleranceMs)
  const bodyLimit = checkBodyLimit('sendgrid', o.bodyLimit)
  const keyFor = publicKeyCache('p256')

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): { ok: true, ts: string, timestampSec: number, received: Buffer } | VerifyFailure {
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const ts = singleHeader(headers, TIMESTAMP)
    if (!ts.ok) return ts
    const timestampSec = parseTimestampSec(ts.value)
    if (timestampSec === undefined) return fail('malformed_header', `${TIMESTAMP} is not integer seconds`)
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const received = decodeBase64Upto(sig.value, MAX_SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not base64 of at most 72 bytes')
    return { ok: true, ts: ts.value, timestampSec, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, keys: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const matched = matchingKey(keys, keyFor, 'p256', Buffer.concat([Buffer.from(read.ts, 'utf8'), rawBody]), [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody): EventFields | BodyFailure {
    // Every event's `sg_event_id` is in the signed body: a batch resent
    // (re-signed or not) has the same id. ECDSA signatures are malleable, so
    // nothing is derived from the signature itself.
    const items = batchItems(parsed.items, parsed.value)
    const id = batchId(items, 'sg_event_id')
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: 'sg_event_id' }
    return { ok: true, id, type: batchType(items, 'event'), payload: items }
  }

  function sign (body: string | Buffer, signOptions: SendGridSignOptions = {}): Record<string, string> {
    const key = parsePrivateKey(signOptions.privateKey, 'p256', 'sendgrid')
    const ts = String(signOptions.timestampSec ?? nowSec())
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'SendGrid Event API',
      [TIMESTAMP]: ts,
      [SIGNATURE]: signData(key, 'p256', Buffer.concat([Buffer.from(ts, 'utf8'), bytes])).toString('base64')
    }
  }

  return {
    name: 'sendgrid',
    secret: publicKey,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    jsonArrays: true,
    eventHeaders: Object.freeze([TIMESTAMP]),
    delivery: SENDGRID_DELIVERY,
    secretProblem: keyProblem,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
