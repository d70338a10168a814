/**
 * Meta webhooks (WhatsApp Cloud API, Messenger, Instagram, any Graph API
 * object): `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
 * body keyed with the app secret. Subscribing sends a GET to the same URL,
 * `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`, answered with the
 * challenge when the verify token matches.
 * https://developers.facebook.com/docs/graph-api/webhooks/getting-started
 */
import { WebhookErrors } from '../core/errors.js'
import { createHash, timingSafeEqual } from 'node:crypto'
import type {
  BodyFailure, ChallengeRequest, ChallengeResponse, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions,
  VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, invalid } from './checks.js'
import { expected } from '../core/validate.js'
import {
  contentTypeFor, decodeHex, fail, failureOf, hmacDigest, keyCache, matchingSecret, replayKey, signingSecret, singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.meta()`. */
export interface MetaOptions {
  /** The app secret(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * The verify token(s) entered with the callback URL in the App Dashboard.
   * When set, GET on the route answers Meta's subscription handshake; when
   * absent, a GET is a 404 (subscribe through the API instead).
   * @defaultValue `undefined`
   */
  verifyToken?: string | string[]
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Meta retries with decreasing frequency for up to 7 days (WhatsApp; the
 * other products for less) and waits 20 s. Nothing signed carries a time, so
 * the dedupe TTL is also the replay window: 8 days.
 */
export const META_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 7 * 86_400_000,
  suggestedDedupeTtlMs: 8 * 86_400_000,
  responseDeadlineMs: 20_000
})

const KNOWN = ['secret', 'verifyToken', 'bodyLimit'] as const
const HEADER = 'x-hub-signature-256'
const SIGNATURE_BYTES = 32
const VERSIONED = /^([A-Za-z0-9]+)=(.*)$/s
// The challenge is echoed as the response body: Meta sends digits; nothing
// that could be markup, a header or a control character is echoed.
const CHALLENGE = /^[A-Za-z0-9._~-]{1,256}$/
const MAX_TOKEN_LENGTH = 1024

/** Creates the Meta provider. */
export function meta (options: MetaOptions): Provider {
  const o = checkOptionsObject<MetaOptions>('meta', options, KNOWN)
  const secret = checkSecret('meta', o.secret)
  const verifyTokens = checkVerifyTokens(o.verifyToken)
  const bodyLimit = checkBodyLimit('meta', o.bodyLimit)
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): { ok: true, received: Buffer } | VerifyFailure {
    // The SHA-1 `X-Hub-Signature` alone is not trusted.
    const header = singleHeader(headers, HEADER)
    if (!header.ok) return header
    const m = VERSIONED.exec(header.value)
    if (m === null) return fail('malformed_header', `${HEADER} is not algorithm=hex`)
    if (m[1] !== 'sha256') return fail('unsupported_version', `${HEADER} algorithm ${m[1].slice(0, 10)}`)
    const received = decodeHex(m[2], SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    return { ok: true, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[]): VerifyResult {
    const read = readHeaders(headers)
    if (!read.ok) return read
    const matched = matchingSecret(secrets, keyFor, 'sha256', [rawBody], [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // A notification batches entries and has no id of its own: the id is a
    // digest of the signed body, which a retry repeats unchanged.
    return { ok: true, id: replayKey('meta', [req.rawBody]), type: typeFromValue(parsed.value.object) }
  }

  function challenge ({ query }: ChallengeRequest): ChallengeResponse {
    const params = new URLSearchParams(query)
    const mode = params.getAll('hub.mode')
    const token = params.getAll('hub.verify_token')
    const echo = params.getAll('hub.challenge')
    if (mode.length !== 1 || mode[0] !== 'subscribe') return { statusCode: 400, body: 'Bad Request', reason: 'challenge_mode' }
    if (echo.length !== 1 || !CHALLENGE.test(echo[0])) return { statusCode: 400, body: 'Bad Request', reason: 'challenge_malformed' }
    if (token.length !== 1 || !tokenMatches(token[0], verifyTokens as readonly string[])) return { statusCode: 403, body: 'Forbidden', reason: 'verify_token_mismatch' }
    return { statusCode: 200, body: echo[0] }
  }

  function sign (body: string | Buffer, signOptions: SignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('meta', secret, signOptions.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.meta: sign() needs a non-empty secret')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'facebookexternalua',
      'x-hub-signature': `sha1=${hmacDigest('sha1', key, [bytes]).toString('hex')}`,
      [HEADER]: `sha256=${hmacDigest('sha256', key, [bytes]).toString('hex')}`
    }
  }

  return {
    name: 'meta',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([]),
    delivery: META_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    ...(verifyTokens === undefined ? {} : { challenge }),
    sign
  }
}

function checkVerifyTokens (value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0 || !list.every((v) => typeof v === 'string' && v !== '' && v.length <= MAX_TOKEN_LENGTH)) {
    // A token is a secret of sorts: the message names its type, never its value.
    return invalid.fail(expected('meta.verifyToken', `a non-empty string of at most ${MAX_TOKEN_LENGTH} characters, or a non-empty array of them`, Array.isArray(value) ? [] : typeof value === 'string' ? '' : value))
  }
  return Object.freeze([...list] as string[])
}

// Digests have one length whatever the token: compared in constant time, every token tried.
function tokenMatches (given: string, tokens: readonly string[]): boolean {
  const digest = createHash('sha256').update(given).digest()
  let matched = false
  for (const token of tokens) {
    if (timingSafeEqual(digest, createHash('sha256').update(token).digest())) matched = true
  }
  return matched
}
