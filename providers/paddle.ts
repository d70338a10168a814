/**
 * Paddle Billing: `Paddle-Signature: ts=<seconds>;h1=<hex>`, the HMAC-SHA256
 * of `${ts}:${body}` keyed with the notification destination's secret key.
 * https://developer.paddle.com/webhooks/signature-verification
 */
import { WebhookErrors } from '../core/errors.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeHex, fail, failureOf, hmacDigest, idFromValue, keyCache, matchingSecret, nowSec, parseTimestampSec, signingSecret,
  singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.paddle()`. */
export interface PaddleOptions {
  /** The notification destination's secret key(s) (`pdl_ntfset_…`), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * How far `ts` may be from now, either way. Paddle signs every attempt
   * afresh and its SDK allows 5 s (into the past only).
   * @defaultValue `5000`
   */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Paddle waits 5 s; live accounts are retried 60 times over 3 days (sandbox:
 * 3 times in 15 minutes). Dedupe on `event_id` for 4 days.
 */
export const PADDLE_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 3 * 86_400_000,
  suggestedDedupeTtlMs: 4 * 86_400_000,
  responseDeadlineMs: 5_000
})

/** The default window: Paddle's own SDK allows 5 s. */
export const PADDLE_TOLERANCE_MS = 5_000

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
const HEADER = 'paddle-signature'
const SIGNATURE_BYTES = 32
interface PaddleHeaders { ok: true, ts: string, timestampSec: number, candidates: Array<Buffer | undefined> }

/** Creates the Paddle Billing provider. */
export function paddle (options: PaddleOptions): Provider {
  const o = checkOptionsObject<PaddleOptions>('paddle', options, KNOWN)
  const secret = checkSecret('paddle', o.secret)
  const toleranceMs = o.toleranceMs === undefined ? PADDLE_TOLERANCE_MS : checkTolerance('paddle', o.toleranceMs)
  const bodyLimit = checkBodyLimit('paddle', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): PaddleHeaders | VerifyFailure {
    const header = singleHeader(headers, HEADER)
    if (!header.ok) return header
    let ts: string | undefined
    const candidates: Array<Buffer | undefined> = []
    for (const item of header.value.split(';')) {
      const eq = item.indexOf('=')
      if (eq === -1) continue
      const key = item.slice(0, eq)
      if (key === 'ts') {
        if (ts !== undefined) return fail('malformed_header', `${HEADER} has two ts=`)
        ts = item.slice(eq + 1)
      } else if (key === 'h1') {
        // Several h1 values may come while a secret is rotated: any may match.
        candidates.push(decodeHex(item.slice(eq + 1), SIGNATURE_BYTES))
      }
    }
    if (ts === undefined) return fail('malformed_header', `${HEADER} has no ts=`)
    const timestampSec = parseTimestampSec(ts)
    if (timestampSec === undefined) return fail('malformed_header', `${HEADER} ts= is not integer seconds`)
    if (candidates.length === 0) return fail('malformed_header', `${HEADER} has no h1=`)
    if (candidates.every((c) => c === undefined)) return fail('no_match', 'no h1= is 32-byte hex')
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    return { ok: true, ts, timestampSec, candidates }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const matched = matchingSecret(secrets, keyFor, 'sha256', [`${read.ts}:`, rawBody], read.candidates)
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody): EventFields | BodyFailure {
    // `event_id` is signed and shared by every destination the event goes to;
    // a retry keeps it (and its `notification_id`).
    const id = idFromValue(parsed.value.event_id)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: 'event_id' }
    return { ok: true, id, type: typeFromValue(parsed.value.event_type) }
  }

  function sign (body: string | Buffer, signOptions: SignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('paddle', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.paddle: sign() needs a non-empty secret')
    const ts = String(signOptions.timestampSec ?? nowSec())
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      [HEADER]: `ts=${ts};h1=${hmacDigest('sha256', key, [`${ts}:`, bytes]).toString('hex')}`
    }
  }

  return {
    name: 'paddle',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([]),
    delivery: PADDLE_DELIVERY,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
