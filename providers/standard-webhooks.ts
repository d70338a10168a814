/**
 * Standard Webhooks (https://www.standardwebhooks.com), also sent by Svix with
 * `svix-*` headers: HMAC-SHA256 over `${id}.${timestamp}.${body}` with a
 * base64 key, a space-separated list of `v1,<base64>` signatures.
 */
import { randomBytes } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { checkString } from '../core/validate.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance, invalid } from './checks.js'
import {
  checkWindow, contentTypeFor, decodeBase64, matchingSecret, fail, failureOf, hmacDigest, keyCache, nowSec, optionalHeader, parseTimestampSec,
  signingSecret, singleHeader, typeFromValue
} from './util.js'

/** Options of `providers.standardWebhooks()`. */
export interface StandardWebhooksOptions {
  /** The signing secret(s): `whsec_` + base64 (a bare base64 key also works), a list (rotation), or a resolver. */
  secret: SecretOption
  /** How far `webhook-timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** The body field holding the event type. @defaultValue `'type'` */
  typeField?: string
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: which header family to send. */
export interface StandardWebhooksSignOptions extends SignOptions {
  /** `webhook` sends `webhook-*` headers, `svix` sends `svix-*` ones. @defaultValue `'webhook'` */
  family?: 'webhook' | 'svix'
}

/** The Standard Webhooks provider: `sign()` also takes a header `family`. */
export interface StandardWebhooksProvider extends Provider {
  sign: (body: string | Buffer, options?: StandardWebhooksSignOptions) => Record<string, string>
}

/**
 * Svix retries for about 27.6 h; the spec's example schedule spans 75 h 35 min.
 * Senders wait 15 s. Dedupe on `webhook-id` for 4 days.
 */
export const STANDARD_WEBHOOKS_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: (75 * 60 + 35) * 60_000,
  suggestedDedupeTtlMs: 4 * 86_400_000,
  responseDeadlineMs: 15_000
})

const KNOWN = ['secret', 'toleranceMs', 'typeField', 'bodyLimit'] as const
const FAMILIES = [
  { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' },
  { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' }
] as const
const SIGNATURE_BYTES = 32
interface SignedHeaders { ok: true, signedPrefix: string, timestampSec: number, candidates: Array<Buffer | undefined> }
// Unpadded keys are accepted too: some senders strip the padding from secrets.
const BASE64_KEY = /^[A-Za-z0-9+/]+={0,2}$/

/** The HMAC key of a secret: base64-decode of the part after `whsec_`, or `undefined` when it is not base64. */
export function standardWebhooksKey (secret: string): Buffer | undefined {
  const encoded = secret.startsWith('whsec_') ? secret.slice(6) : secret
  if (!BASE64_KEY.test(encoded) || encoded.length % 4 === 1) return undefined
  return Buffer.from(encoded, 'base64')
}

/** Why a secret is no Standard Webhooks key; `undefined` when it is one. Never echoes the secret. */
function secretProblem (secret: string): string | undefined {
  return standardWebhooksKey(secret) === undefined ? "a `whsec_` secret whose rest is base64 (as the sender's dashboard shows it)" : undefined
}

/** Creates the Standard Webhooks / Svix provider. */
export function standardWebhooks (options: StandardWebhooksOptions): StandardWebhooksProvider {
  const o = checkOptionsObject<StandardWebhooksOptions>('standardWebhooks', options, KNOWN)
  const secret = checkSecret('standardWebhooks', o.secret, secretProblem)
  const toleranceMs = checkTolerance('standardWebhooks', o.toleranceMs)
  const typeField = o.typeField ?? 'type'
  const problem = checkString('standardWebhooks.typeField', typeField)
  invalid.failIf(problem)
  const bodyLimit = checkBodyLimit('standardWebhooks', o.bodyLimit)
  const keyFor = keyCache(standardWebhooksKey)

  function family (headers: VerifyInput['headers']): typeof FAMILIES[number] {
    // The family that carries a signature is the one the sender used.
    const webhook = singleHeader(headers, 'webhook-signature')
    if (webhook.ok || webhook.reason !== 'missing_header') return FAMILIES[0]
    const svix = singleHeader(headers, 'svix-signature')
    return svix.ok || svix.reason !== 'missing_header' ? FAMILIES[1] : FAMILIES[0]
  }

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): SignedHeaders | VerifyFailure {
    const names = family(headers)
    const id = singleHeader(headers, names.id)
    if (!id.ok) return id
    const ts = singleHeader(headers, names.timestamp)
    if (!ts.ok) return ts
    const sig = singleHeader(headers, names.signature)
    if (!sig.ok) return sig
    if (id.value.includes('.')) return fail('malformed_header', `${names.id} contains '.'`)
    const timestampSec = parseTimestampSec(ts.value)
    if (timestampSec === undefined) return fail('malformed_header', `${names.timestamp} is not integer seconds`)
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const candidates: Array<Buffer | undefined> = []
    for (const entry of sig.value.split(' ')) {
      if (entry === '') continue
      const comma = entry.indexOf(',')
      // Other versions (`v1a` is ed25519) are skipped, as the spec says.
      if (comma === -1 || entry.slice(0, comma) !== 'v1') continue
      candidates.push(decodeBase64(entry.slice(comma + 1), SIGNATURE_BYTES))
    }
    if (candidates.length === 0) return fail('unsupported_version', `no v1 signature in ${names.signature}`)
    if (candidates.every((c) => c === undefined)) return fail('no_match', `no v1 signature in ${names.signature} is 32-byte base64`)
    return { ok: true, signedPrefix: `${id.value}.${ts.value}.`, timestampSec, candidates }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const signed = [read.signedPrefix, rawBody]
    const matched = matchingSecret(secrets, keyFor, 'sha256', signed, read.candidates)
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    // The id header is signed (it is part of the signed content), so no replay key is needed.
    const names = family(req.headers)
    const id = optionalHeader(req.headers, names.id)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: names.id }
    return { ok: true, id, type: typeFromValue(parsed.value[typeField]) }
  }

  function sign (body: string | Buffer, options: StandardWebhooksSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('standardWebhooks', secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.standardWebhooks: sign() needs a whsec_ base64 secret')
    const names = options.family === 'svix' ? FAMILIES[1] : FAMILIES[0]
    const id = options.id ?? `msg_${randomBytes(18).toString('base64url').replaceAll(/[-_]/g, 'x')}`
    const ts = String(options.timestampSec ?? nowSec())
    const signature = hmacDigest('sha256', key, [`${id}.${ts}.`, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]).toString('base64')
    return {
      'content-type': contentTypeFor(options.contentType, 'json'),
      [names.id]: id,
      [names.timestamp]: ts,
      [names.signature]: `v1,${signature}`
    }
  }

  return {
    name: 'standard-webhooks',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp']),
    delivery: STANDARD_WEBHOOKS_DELIVERY,
    secretProblem,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
