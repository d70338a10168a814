/**
 * Slack: `X-Slack-Signature: v0=<hex>` over `v0:${timestamp}:${body}`, for the
 * Events API (JSON) and slash commands and interactivity (form bodies).
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
import { createHash } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { parseJsonObject } from './body.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, InlineResponse, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure,
  VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeHex, matchingSecret, fail, failureOf, hmacDigest, idFromValue, keyCache, nowSec, optionalHeader, parseTimestampSec,
  signingSecret, singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.slack()`. */
export interface SlackOptions {
  /** The app's Signing Secret(s), a list (rotation), or a resolver. */
  secret: SecretOption
  /** How far `X-Slack-Request-Timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Slack retries an event 3 times (at once, after 1 min, after 5 min) and
 * waits 3 s; slash commands are not retried. Dedupe for 1 h.
 */
export const SLACK_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 6 * 60_000,
  suggestedDedupeTtlMs: 3_600_000,
  responseDeadlineMs: 3_000
})

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE = 'x-slack-signature'
const TIMESTAMP = 'x-slack-request-timestamp'
const SIGNATURE_BYTES = 32
const VERSIONED = /^([A-Za-z0-9]+)=(.*)$/s
// Slash commands and interactivity show any response body to the user.
const EMPTY_200: InlineResponse = Object.freeze({ statusCode: 200, body: undefined, enqueue: true })
const NOT_ENQUEUED_200: InlineResponse = Object.freeze({ statusCode: 200, body: undefined, enqueue: false })

/** Creates the Slack provider. */
export function slack (options: SlackOptions): Provider {
  const o = checkOptionsObject<SlackOptions>('slack', options, KNOWN)
  const secret = checkSecret('slack', o.secret)
  const toleranceMs = checkTolerance('slack', o.toleranceMs)
  const bodyLimit = checkBodyLimit('slack', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): { ok: true, ts: string, timestampSec: number, received: Buffer } | VerifyFailure {
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const ts = singleHeader(headers, TIMESTAMP)
    if (!ts.ok) return ts
    const m = VERSIONED.exec(sig.value)
    if (m === null) return fail('malformed_header', `${SIGNATURE} is not version=hex`)
    if (m[1] !== 'v0') return fail('unsupported_version', `${SIGNATURE} version ${m[1].slice(0, 10)}`)
    const timestampSec = parseTimestampSec(ts.value)
    if (timestampSec === undefined) return fail('malformed_header', `${TIMESTAMP} is not integer seconds`)
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const received = decodeHex(m[2], SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    return { ok: true, ts: ts.value, timestampSec, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const signed = [`v0:${read.ts}:`, rawBody]
    const matched = matchingSecret(secrets, keyFor, 'sha256', signed, [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    const v = parsed.value
    if (parsed.kind === 'json') {
      // Events API: the envelope's type is `event_callback`; the inner event's type is what users switch on.
      const inner = v.event
      const type = v.type === 'event_callback' && typeof inner === 'object' && inner !== null
        ? typeFromValue((inner as Record<string, unknown>).type)
        : typeFromValue(v.type)
      return { ok: true, id: idFromValue(v.event_id) ?? digestId(req), type }
    }
    if (typeof v.payload === 'string') {
      const inner = parseJsonObject(v.payload)
      if (!inner.ok) return inner
      return { ok: true, id: idFromValue(inner.value.trigger_id) ?? digestId(req), type: typeFromValue(inner.value.type), payload: inner.value }
    }
    return { ok: true, id: idFromValue(v.trigger_id) ?? digestId(req), type: 'slash_command' }
  }

  function respond (parsed: ParsedBody): InlineResponse | undefined {
    const v = parsed.value
    if (parsed.kind === 'json') {
      if (v.type !== 'url_verification') return undefined
      return typeof v.challenge === 'string' ? { statusCode: 200, body: { challenge: v.challenge }, enqueue: false } : NOT_ENQUEUED_200
    }
    // Slack's certificate check for slash commands carries no command.
    if (v.ssl_check === '1' && v.command === undefined) return NOT_ENQUEUED_200
    return EMPTY_200
  }

  function sign (body: string | Buffer, options: SignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('slack', secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.slack: sign() needs a non-empty secret')
    const ts = String(options.timestampSec ?? nowSec())
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(options.contentType, 'json'),
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      [TIMESTAMP]: ts,
      [SIGNATURE]: `v0=${hmacDigest('sha256', key, [`v0:${ts}:`, bytes]).toString('hex')}`
    }
  }

  return {
    name: 'slack',
    secret,
    contentTypes: Object.freeze(['json', 'form'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([TIMESTAMP, 'x-slack-retry-num', 'x-slack-retry-reason']),
    delivery: SLACK_DELIVERY,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    respond,
    sign
  }
}

/** Slash commands without a `trigger_id`: a digest of the signed timestamp and body. */
function digestId (req: ProviderRequest): string {
  const ts = optionalHeader(req.headers, TIMESTAMP) ?? ''
  return createHash('sha256').update(ts).update(':').update(req.rawBody).digest('hex')
}
