/**
 * Mailgun: the signature travels in the body, as
 * `signature: { timestamp, token, signature }` in a JSON webhook (or the
 * `timestamp`, `token` and `signature` fields of a form-encoded one): the hex
 * HMAC-SHA256 of timestamp + token, keyed with the HTTP webhook signing key.
 * Only those two values are signed, never the event: the token, random per
 * request, is the replay key, and the event must be hydrated from the API.
 * https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
 */
import { WebhookErrors } from '../core/errors.js'
import { randomBytes } from 'node:crypto'
import { decodeUtf8, parseJsonObject } from './body.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeHex, fail, hmacDigest, idFromValue, keyCache, matchingSecret, nowSec, optionalHeader, parseTimestampSec, replayKey,
  signingSecret, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.mailgun()`. */
export interface MailgunOptions {
  /** The HTTP webhook signing key(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * How far the signed timestamp may be from now, either way. Mailgun's
   * retries span 8 hours and it does not say that it signs them afresh, so
   * the window covers them; the token, signed and random, stops a second use
   * of one signature for the dedupe TTL, which must outlast the window.
   * @defaultValue `32400000` (9 h)
   */
  toleranceMs?: number
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra options of `signBody()` and `sign()`. */
export interface MailgunSignOptions extends SignOptions {
  /** The token to sign; `id` works too. @defaultValue 50 random hex characters, as Mailgun's */
  token?: string
}

/** The Mailgun provider: `signBody()` adds the signature to a body, as Mailgun sends it. */
export interface MailgunProvider extends Provider {
  /**
   * The body with a fresh signature in it: a JSON body gets its `signature`
   * object (replaced if present), a form body its `timestamp`, `token` and
   * `signature` fields. `sign()` then gives the headers to send it with.
   */
  signBody: (body: string | Buffer, options?: MailgunSignOptions) => string
  sign: (body: string | Buffer, options?: MailgunSignOptions) => Record<string, string>
}

/**
 * Mailgun retries 10 min, 10 min, 15 min, 30 min, 1 h, 2 h and 4 h apart
 * (8 h 5 min in all; a 406 stops it). It does not publish its response
 * timeout: 10 s is a conservative bound. Dedupe (and remember tokens) for 24 h.
 */
export const MAILGUN_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 485 * 60_000,
  suggestedDedupeTtlMs: 86_400_000,
  responseDeadlineMs: 10_000
})

/** The default window: Mailgun's retry horizon, with room. */
export const MAILGUN_TOLERANCE_MS = 9 * 3_600_000

const KNOWN = ['secret', 'toleranceMs', 'bodyLimit'] as const
const SIGNATURE_BYTES = 32
const MAX_TOKEN_LENGTH = 512
interface SignedFields { timestamp: string, token: string, signature: string }

/** Creates the Mailgun provider. */
export function mailgun (options: MailgunOptions): MailgunProvider {
  const o = checkOptionsObject<MailgunOptions>('mailgun', options, KNOWN)
  const secret = checkSecret('mailgun', o.secret)
  const toleranceMs = o.toleranceMs === undefined ? MAILGUN_TOLERANCE_MS : checkTolerance('mailgun', o.toleranceMs)
  const bodyLimit = checkBodyLimit('mailgun', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    // The signature is in the body: it is parsed (within the body limit) before it is verified.
    const fields = isForm(headers) ? formFields(rawBody) : jsonFields(rawBody)
    if (typeof fields === 'string') return fail('malformed_body', fields)
    const timestampSec = parseTimestampSec(fields.timestamp)
    if (timestampSec === undefined) return fail('malformed_body', 'timestamp is not integer seconds')
    if (fields.token === '' || fields.token.length > MAX_TOKEN_LENGTH) return fail('malformed_body', `token is empty or over ${MAX_TOKEN_LENGTH} characters`)
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const received = decodeHex(fields.signature, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    const matched = matchingSecret(secrets, keyFor, 'sha256', [fields.timestamp + fields.token], [received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    const v = parsed.value
    // Verify refused repeated form fields, so these are the values it checked.
    const signed = parsed.kind === 'form' ? v : (typeof v.signature === 'object' && v.signature !== null ? v.signature as Record<string, unknown> : {})
    const token = typeof signed.token === 'string' ? signed.token : ''
    const timestamp = typeof signed.timestamp === 'string' ? signed.timestamp : String(signed.timestamp)
    const key = replayKey('mailgun', [timestamp + token])
    if (parsed.kind === 'form') {
      const { signature: _signature, ...rest } = v
      return { ok: true, id: idFromValue(v['Message-Id']) ?? token, type: typeFromValue(v.event), payload: rest, replayKey: key }
    }
    const data = typeof v['event-data'] === 'object' && v['event-data'] !== null ? v['event-data'] as Record<string, unknown> : undefined
    if (data === undefined) return { ok: false, reason: 'missing_id', detail: 'event-data' }
    // Nothing of the event is signed: its id is the sender's word, and the token keys replays.
    return { ok: true, id: idFromValue(data.id) ?? token, type: typeFromValue(data.event), payload: data, replayKey: key }
  }

  function signBody (body: string | Buffer, signOptions: MailgunSignOptions = {}): string {
    const key = keyFor(signingSecret('mailgun', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.mailgun: sign() needs a non-empty secret')
    const timestamp = String(signOptions.timestampSec ?? nowSec())
    const token = signOptions.token ?? signOptions.id ?? randomBytes(25).toString('hex')
    const signature = hmacDigest('sha256', key, [timestamp + token]).toString('hex')
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (contentTypeFor(signOptions.contentType, 'json') === contentTypeFor('form', 'form')) {
      const form = new URLSearchParams(text)
      for (const [name, value] of [['timestamp', timestamp], ['token', token], ['signature', signature]]) form.set(name, value)
      return form.toString()
    }
    const parsed = parseJsonObject(text)
    if (!parsed.ok) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.mailgun: signBody() needs a JSON object body, e.g. { "event-data": { … } }')
    return JSON.stringify({ signature: { timestamp, token, signature }, ...withoutSignature(parsed.value) })
  }

  function sign (_body: string | Buffer, signOptions: MailgunSignOptions = {}): Record<string, string> {
    return { 'content-type': contentTypeFor(signOptions.contentType, 'json'), 'user-agent': 'mailgun/treq-22.2.0' }
  }

  return {
    name: 'mailgun',
    secret,
    contentTypes: Object.freeze(['json', 'form'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([]),
    delivery: MAILGUN_DELIVERY,
    verify,
    toEvent,
    signBody,
    sign
  }
}

function jsonFields (rawBody: Buffer): SignedFields | string {
  const text = decodeUtf8(rawBody)
  const body = text.ok ? parseJsonObject(text.value) : text
  if (!body.ok) return `the body is not a JSON object (${body.reason})`
  const block = body.value.signature
  if (typeof block !== 'object' || block === null || Array.isArray(block)) return 'no signature object in the body'
  const { timestamp, token, signature } = block as Record<string, unknown>
  // Mailgun sends the timestamp as a string; an integer is read the same.
  const ts = typeof timestamp === 'number' && Number.isSafeInteger(timestamp) ? String(timestamp) : timestamp
  if (typeof ts !== 'string' || typeof token !== 'string' || typeof signature !== 'string') return 'signature.timestamp, .token or .signature is missing or not a string'
  return { timestamp: ts, token, signature }
}

function formFields (rawBody: Buffer): SignedFields | string {
  const form = new URLSearchParams(rawBody.toString('utf8'))
  const values: string[] = []
  for (const name of ['timestamp', 'token', 'signature']) {
    const all = form.getAll(name)
    // One each: the event's fields are read last-wins, and must be what was verified.
    if (all.length !== 1) return `${all.length === 0 ? 'no' : 'a repeated'} ${name} field`
    values.push(all[0])
  }
  return { timestamp: values[0], token: values[1], signature: values[2] }
}

function withoutSignature (value: Record<string, unknown>): Record<string, unknown> {
  const { signature: _signature, ...rest } = value
  return rest
}

function isForm (headers: IncomingHeaders): boolean {
  const type = optionalHeader(headers, 'content-type')
  return type !== undefined && type.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded'
}
