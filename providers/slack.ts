/**
 * Slack: `X-Slack-Signature: v0=<hex>` over `v0:${timestamp}:${body}`, for the
 * Events API (JSON) and slash commands and interactivity (form bodies).
 * https://api.slack.com/authentication/verifying-requests-from-slack
 */
import { createHash } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { parseJsonObject } from './body.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, InlineResponse, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  contentTypeFor, failureOf, hmacDigest, idFromValue, nowSec, optionalHeader, signingSecret, typeFromValue
} from './util.js'
import { v0Signature } from './v0-signature.js'

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
// Slash commands and interactivity show any response body to the user.
const EMPTY_200: InlineResponse = Object.freeze({ statusCode: 200, body: undefined, enqueue: true })
const NOT_ENQUEUED_200: InlineResponse = Object.freeze({ statusCode: 200, body: undefined, enqueue: false })

/** Creates the Slack provider. */
export function slack (options: SlackOptions): Provider {
  const o = checkOptionsObject<SlackOptions>('slack', options, KNOWN)
  const secret = checkSecret('slack', o.secret)
  const toleranceMs = checkTolerance('slack', o.toleranceMs)
  const bodyLimit = checkBodyLimit('slack', o.bodyLimit)
  const { keyFor, readHeaders, verify } = v0Signature({ signature: SIGNATURE, timestamp: TIMESTAMP }, toleranceMs)

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
