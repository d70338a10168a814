/**
 * Twilio: `X-Twilio-Signature`, the base64 HMAC-SHA1 (or HMAC-SHA256, as
 * `X-Twilio-Webhooks-Signature-Settings` names it) of the full public URL
 * followed by the form parameters sorted by name, each as name then value.
 * A JSON body is signed through the URL instead: Twilio adds
 * `bodySHA256=<hex sha256 of the body>` to the query, signs the URL alone,
 * and the body must hash to it.
 * https://www.twilio.com/docs/usage/webhooks/webhooks-security
 */
import { WebhookErrors } from '../core/errors.js'
import { createHash, randomUUID } from 'node:crypto'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret } from './checks.js'
import { checkPublicUrl, portVariants, publicUrlOf, signedUrlOf, type PublicUrlOption } from './public-url.js'
import {
  contentTypeFor, decodeBase64, decodeHex, digestsEqual, fail, failureOf, hmacDigest, keyCache, matchingSecret, optionalHeader, replayKey, signingSecret,
  singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.twilio()`. */
export interface TwilioOptions {
  /** The account's Auth Token(s) (or a SharedKey secret), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * The URL Twilio calls, which it signs. A string is the public origin (and
   * any path prefix a proxy strips), e.g. `'https://hooks.example.com'`: the
   * path and query as received are appended. A function of the request
   * returns the full URL. Absent: built from `X-Forwarded-Proto` and
   * `X-Forwarded-Host` when Fastify's `trustProxy` is set; otherwise every
   * request is refused (`no_public_url`) rather than trusting `Host`.
   * @defaultValue `undefined`
   */
  publicUrl?: PublicUrlOption
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: the URL Twilio would call, and the algorithm. */
export interface TwilioSignOptions extends SignOptions {
  /**
   * The full URL the request is posted to (for a JSON body, without
   * `bodySHA256`: it is added). What is signed is the URL `verify` derives
   * from it: with a string `publicUrl`, that origin and this path. Required.
   */
  url?: string
  /** `HMAC_SHA256` also sends `X-Twilio-Webhooks-Signature-Settings`. @defaultValue `'HMAC_SHA1'` */
  algorithm?: 'HMAC_SHA1' | 'HMAC_SHA256'
}

/** The Twilio provider: `sign()` needs the `url`; `requestUrl` is where to send a body. */
export interface TwilioProvider extends Provider {
  sign: (body: string | Buffer, options?: TwilioSignOptions) => Record<string, string>
  /** The URL to POST `body` to: `url` itself for a form body, with `bodySHA256` added for any other. */
  requestUrl: (url: string, body: string | Buffer, options?: { contentType?: string }) => string
}

/**
 * Twilio waits 15 s, and retries only on connection failures or when the
 * URL asks for it (connection overrides, within the same 15 s). Nothing
 * signed is unique per delivery and nothing carries a signed time, so the
 * dedupe TTL is the replay window: 24 h.
 */
export const TWILIO_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 15_000,
  suggestedDedupeTtlMs: 86_400_000,
  responseDeadlineMs: 15_000
})

const KNOWN = ['secret', 'publicUrl', 'bodyLimit'] as const
const SIGNATURE = 'x-twilio-signature'
const SETTINGS = 'x-twilio-webhooks-signature-settings'
const ALGORITHMS = { HMAC_SHA1: { hash: 'sha1', bytes: 20 }, HMAC_SHA256: { hash: 'sha256', bytes: 32 } } as const
interface TwilioHeaders { ok: true, hash: 'sha1' | 'sha256', received: Buffer }

/**
 * What Twilio signs after the URL: every parameter name, sorted, followed by
 * each of its distinct values, sorted (as Twilio's own library does).
 */
export function twilioSignedParams (form: string): string {
  const params = new Map<string, string[]>()
  for (const [name, value] of new URLSearchParams(form)) {
    const values = params.get(name)
    if (values === undefined) params.set(name, [value])
    else values.push(value)
  }
  let signed = ''
  for (const name of [...params.keys()].sort()) {
    for (const value of [...new Set(params.get(name))].sort()) signed += name + value
  }
  return signed
}

/** Creates the Twilio provider. */
export function twilio (options: TwilioOptions): TwilioProvider {
  const o = checkOptionsObject<TwilioOptions>('twilio', options, KNOWN)
  const secret = checkSecret('twilio', o.secret)
  const publicUrl = checkPublicUrl('twilio.publicUrl', o.publicUrl, 'base')
  const bodyLimit = checkBodyLimit('twilio', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): TwilioHeaders | VerifyFailure {
    const sig = singleHeader(headers, SIGNATURE)
    if (!sig.ok) return sig
    const settings = singleHeader(headers, SETTINGS)
    if (!settings.ok && settings.reason !== 'missing_header') return settings
    const name = settings.ok ? algorithmOf(settings.value) : 'HMAC_SHA1'
    if (name !== 'HMAC_SHA1' && name !== 'HMAC_SHA256') return fail('unsupported_version', `${SETTINGS} algorithm ${name.slice(0, 20)}`)
    const { hash, bytes } = ALGORITHMS[name]
    const received = decodeBase64(sig.value, bytes)
    if (received === undefined) return fail('no_match', `signature is not ${bytes}-byte base64`)
    return { ok: true, hash, received }
  }

  function verify ({ headers, rawBody, target }: VerifyInput, secrets: readonly string[]): VerifyResult {
    const read = readHeaders(headers)
    if (!read.ok) return read
    const url = publicUrlOf(publicUrl, target, 'base')
    if (!url.ok) return url
    const bodyHash = bodyHashOf(url.url)
    let params = ''
    if (bodyHash === undefined) {
      // Without bodySHA256 only form parameters are signed: any other body would go unauthenticated.
      if (!isForm(headers)) return fail('no_match')
      params = twilioSignedParams(rawBody.toString('utf8'))
    }
    let matched = -1
    for (const candidate of portVariants(url.url)) {
      const m = matchingSecret(secrets, keyFor, read.hash, [candidate, params], [read.received])
      if (matched === -1) matched = m
    }
    if (matched === -1) return fail('no_match')
    if (bodyHash !== undefined) {
      const expected = bodyHash === null ? undefined : decodeHex(bodyHash, 32)
      if (expected === undefined || !digestsEqual(createHash('sha256').update(rawBody).digest(), expected)) return fail('no_match')
    }
    return { ok: true, secretIndex: matched }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // Only the URL and the parameters (or the body's hash) are signed, never
    // a time or a delivery id: the replay key digests the signed parameters
    // (canonical, so reordering a captured form body keeps it) or the hashed body.
    const signed = parsed.kind === 'form' ? twilioSignedParams(req.rawBody.toString('utf8')) : req.rawBody
    const key = replayKey('twilio', [signed])
    const v = parsed.value
    const type = typeFromValue(v.EventType ?? v.MessageStatus ?? v.CallStatus ?? v.type)
    // The idempotency token is per request and kept by Twilio's retries, but unsigned.
    const id = optionalHeader(req.headers, 'i-twilio-idempotency-token') ?? key
    return { ok: true, id, type, replayKey: key }
  }

  function requestUrl (url: string, body: string | Buffer, signOptions: { contentType?: string } = {}): string {
    if (isFormType(contentTypeFor(signOptions.contentType, 'form')) || bodyHashOf(url) !== undefined) return url
    const [base, fragment] = splitFragment(url)
    return `${base}${base.includes('?') ? '&' : '?'}bodySHA256=${createHash('sha256').update(body).digest('hex')}${fragment}`
  }

  function sign (body: string | Buffer, signOptions: TwilioSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('twilio', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.twilio: sign() needs a non-empty secret')
    if (signOptions.url === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.twilio: sign() needs { url }, the full URL Twilio would call')
    const name = signOptions.algorithm ?? 'HMAC_SHA1'
    const contentType = contentTypeFor(signOptions.contentType, 'form')
    const url = signedUrlOf(publicUrl, requestUrl(signOptions.url, body, signOptions), 'base')
    if (url === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS('providers.twilio: sign() cannot derive the signed URL: `publicUrl` refused it')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    const params = bodyHashOf(url) === undefined ? twilioSignedParams(bytes.toString('utf8')) : ''
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'TwilioProxy/1.1',
      'i-twilio-idempotency-token': signOptions.id ?? randomUUID(),
      [SIGNATURE]: hmacDigest(ALGORITHMS[name].hash, key, [url, params]).toString('base64')
    }
    if (name === 'HMAC_SHA256') headers[SETTINGS] = 'algorithm=HMAC_SHA256'
    return headers
  }

  return {
    name: 'twilio',
    secret,
    contentTypes: Object.freeze(['form', 'json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['i-twilio-idempotency-token', 'user-agent']),
    delivery: TWILIO_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    sign,
    requestUrl
  }
}

// The `algorithm=` item of the settings header, as Twilio's library reads it; HMAC_SHA1 when absent.
function algorithmOf (settings: string): string {
  for (const part of settings.split(',')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === 'algorithm') {
      const value = part.slice(eq + 1).trim().toUpperCase()
      if (value !== '') return value
    }
  }
  return 'HMAC_SHA1'
}

/** The `bodySHA256` query value: `undefined` when absent, `null` when repeated. */
function bodyHashOf (url: string): string | null | undefined {
  const q = url.indexOf('?')
  if (q === -1) return undefined
  const values = new URLSearchParams(splitFragment(url.slice(q + 1))[0]).getAll('bodySHA256')
  if (values.length === 0) return undefined
  return values.length === 1 ? values[0] : null
}

function splitFragment (url: string): [string, string] {
  const hash = url.indexOf('#')
  return hash === -1 ? [url, ''] : [url.slice(0, hash), url.slice(hash)]
}

function isForm (headers: IncomingHeaders): boolean {
  const type = optionalHeader(headers, 'content-type')
  return type !== undefined && isFormType(type)
}

function isFormType (contentType: string): boolean {
  return contentType.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded'
}
