/**
 * Standard Webhooks (https://www.standardwebhooks.com), also sent by Svix with
 * `svix-*` headers: HMAC-SHA256 over `${id}.${timestamp}.${body}` with a
 * base64 key, a space-separated list of `v1,<base64>` signatures; or the
 * asymmetric `v1a,<base64>`, Ed25519 over the same content, verified with a
 * `whpk_` public key.
 */
import { WebhookErrors } from '../core/errors.js'
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto'
import { checkString } from '../core/validate.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance, invalid } from './checks.js'
import { parsePrivateKey, parsePublicKey, publicKeyCache, signData, verifyData } from './keys.js'
import {
  checkWindow, contentTypeFor, decodeBase64, digestsEqual, fail, failureOf, hmacDigest, keyCache, nowSec, optionalHeader, parseTimestampSec,
  signingSecret, singleHeader, typeFromValue
} from './util.js'

/** Options of `providers.standardWebhooks()`. */
export interface StandardWebhooksOptions {
  /**
   * The signing secret(s): `whsec_` + base64 (a bare base64 key also works)
   * for `v1`, or `whpk_` + base64 of an Ed25519 public key for `v1a`; a list
   * (rotation, also from one scheme to the other), or a resolver. A version
   * no static secret can verify is skipped, as the spec says.
   */
  secret: SecretOption
  /** How far `webhook-timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** The body field holding the event type. @defaultValue `'type'` */
  typeField?: string
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/**
 * Extra `sign()` options: which header family to send. A `secret` of
 * `whsk_` + base64 of an Ed25519 seed signs `v1a`.
 */
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
const FAMILIES = {
  webhook: { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' },
  svix: { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' }
} as const
type Family = typeof FAMILIES[keyof typeof FAMILIES]
const SIGNATURE_BYTES = 32
const ED25519_SIGNATURE_BYTES = 64
const PUBLIC_PREFIX = 'whpk_'
const PRIVATE_PREFIX = 'whsk_'
interface SignedHeaders { ok: true, signedPrefix: string, timestampSec: number, v1: Array<Buffer | undefined>, v1a: Array<Buffer | undefined> }
// Unpadded keys are accepted too: some senders strip the padding from secrets.
const BASE64_KEY = /^[A-Za-z0-9+/]+={0,2}$/

/** The HMAC key of a secret: base64-decode of the part after `whsec_`, or `undefined` when it is not base64. */
export function standardWebhooksKey (secret: string): Buffer | undefined {
  const encoded = secret.startsWith('whsec_') ? secret.slice(6) : secret
  if (!BASE64_KEY.test(encoded) || encoded.length % 4 === 1) return undefined
  return Buffer.from(encoded, 'base64')
}

/** The Ed25519 public key of a `whpk_` secret (base64 of its 32 raw bytes), or `undefined`. */
export function standardWebhooksPublicKey (secret: string): KeyObject | undefined {
  const raw = seedOrKeyBytes(secret, PUBLIC_PREFIX)
  return raw === undefined ? undefined : parsePublicKey(raw.toString('hex'), 'ed25519')
}

function seedOrKeyBytes (secret: string, prefix: string): Buffer | undefined {
  if (!secret.startsWith(prefix)) return undefined
  const encoded = secret.slice(prefix.length)
  if (!BASE64_KEY.test(encoded)) return undefined
  const raw = Buffer.from(encoded, 'base64')
  return raw.length === 32 ? raw : undefined
}

/** The `whpk_` public key of a `whsk_` signing key, or `undefined` when it is none. */
export function standardWebhooksPublicOf (signingKey: string): string | undefined {
  const seed = seedOrKeyBytes(signingKey, PRIVATE_PREFIX)
  if (seed === undefined) return undefined
  const jwk = createPublicKey(parsePrivateKey(seed.toString('hex'), 'ed25519', 'standardWebhooks')).export({ format: 'jwk' })
  return PUBLIC_PREFIX + Buffer.from(jwk.x as string, 'base64url').toString('base64')
}

/** Why a secret is no Standard Webhooks key; `undefined` when it is one. Never echoes the secret. */
function secretProblem (secret: string): string | undefined {
  if (secret.startsWith(PUBLIC_PREFIX)) {
    return standardWebhooksPublicKey(secret) === undefined ? 'a `whpk_` public key whose rest is base64 of 32 bytes (an Ed25519 key)' : undefined
  }
  if (secret.startsWith(PRIVATE_PREFIX)) return 'a `whsec_` secret or a `whpk_` public key: a `whsk_` private key signs, and does not belong to a receiver'
  return standardWebhooksKey(secret) === undefined ? "a `whsec_` secret whose rest is base64 (as the sender's dashboard shows it), or a `whpk_` public key" : undefined
}

/** How a preset built on the scheme names itself and delivers. */
export interface StandardWebhooksProfile {
  /** The options' name in errors (`standardWebhooks`, `clerk`…). */
  preset: string
  /** The provider name: logs, metrics and the default source. */
  name: string
  /** The header family `sign()` sends by default. */
  family: 'webhook' | 'svix'
  delivery: DeliveryFacts
}

const STANDARD: StandardWebhooksProfile = Object.freeze({ preset: 'standardWebhooks', name: 'standard-webhooks', family: 'webhook', delivery: STANDARD_WEBHOOKS_DELIVERY })

/**
 * Svix's schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
 * later (27 h 35 min in all); it waits 15 s. Dedupe on `svix-id` for 2 days.
 * Clerk and Resend deliver through Svix.
 */
export const SVIX_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: ((27 * 60 + 35) * 60 + 5) * 1000,
  suggestedDedupeTtlMs: 2 * 86_400_000,
  responseDeadlineMs: 15_000
})

/** Creates the Standard Webhooks / Svix provider. */
export function standardWebhooks (options: StandardWebhooksOptions): StandardWebhooksProvider {
  return createStandardWebhooks(options, STANDARD)
}

/** Creates the provider for a sender that delivers through Svix: `svix-*` headers, Svix's retries. */
export function svix (options: StandardWebhooksOptions): StandardWebhooksProvider {
  return createStandardWebhooks(options, SVIX)
}

/** Creates the Clerk provider: Svix, with the endpoint's `whsec_` signing secret. */
export function clerk (options: StandardWebhooksOptions): StandardWebhooksProvider {
  return createStandardWebhooks(options, CLERK)
}

/** Creates the Resend provider: Svix, with the webhook's `whsec_` signing secret. */
export function resend (options: StandardWebhooksOptions): StandardWebhooksProvider {
  return createStandardWebhooks(options, RESEND)
}

const SVIX: StandardWebhooksProfile = Object.freeze({ preset: 'svix', name: 'svix', family: 'svix', delivery: SVIX_DELIVERY })
const CLERK: StandardWebhooksProfile = Object.freeze({ preset: 'clerk', name: 'clerk', family: 'svix', delivery: SVIX_DELIVERY })
const RESEND: StandardWebhooksProfile = Object.freeze({ preset: 'resend', name: 'resend', family: 'svix', delivery: SVIX_DELIVERY })

/** The scheme under a profile: the Standard Webhooks preset and the senders that use it (Svix, Clerk, Resend). */
export function createStandardWebhooks (options: StandardWebhooksOptions, profile: StandardWebhooksProfile): StandardWebhooksProvider {
  const preset = profile.preset
  const o = checkOptionsObject<StandardWebhooksOptions>(preset, options, KNOWN)
  const secret = checkSecret(preset, o.secret, secretProblem)
  const toleranceMs = checkTolerance(preset, o.toleranceMs)
  const typeField = o.typeField ?? 'type'
  const problem = checkString(`${preset}.typeField`, typeField)
  invalid.failIf(problem)
  const bodyLimit = checkBodyLimit(preset, o.bodyLimit)
  const keyFor = keyCache(standardWebhooksKey)
  const publicKeyFor = publicKeyCache('ed25519', standardWebhooksPublicKey)
  // The versions this endpoint can verify: a resolver may return either kind.
  const fixed = typeof secret === 'function' ? undefined : typeof secret === 'string' ? [secret] : secret
  const acceptV1 = fixed === undefined || fixed.some((s) => !s.startsWith(PUBLIC_PREFIX))
  const acceptV1a = fixed === undefined || fixed.some((s) => s.startsWith(PUBLIC_PREFIX))
  const versions = acceptV1 && acceptV1a ? 'v1 or v1a' : acceptV1 ? 'v1' : 'v1a'
  const undecodable = acceptV1 && acceptV1a ? 'decodes (32 or 64 bytes of base64)' : acceptV1 ? 'is 32-byte base64' : 'is 64-byte base64'

  function family (headers: VerifyInput['headers']): Family {
    // The family that carries a signature is the one the sender used.
    const webhook = singleHeader(headers, 'webhook-signature')
    if (webhook.ok || webhook.reason !== 'missing_header') return FAMILIES.webhook
    const svix = singleHeader(headers, 'svix-signature')
    return svix.ok || svix.reason !== 'missing_header' ? FAMILIES.svix : FAMILIES.webhook
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
    const v1: Array<Buffer | undefined> = []
    const v1a: Array<Buffer | undefined> = []
    for (const entry of sig.value.split(' ')) {
      if (entry === '') continue
      const comma = entry.indexOf(',')
      if (comma === -1) continue
      const version = entry.slice(0, comma)
      // A version this endpoint has no key for is skipped, as the spec says.
      if (version === 'v1' && acceptV1) v1.push(decodeBase64(entry.slice(comma + 1), SIGNATURE_BYTES))
      else if (version === 'v1a' && acceptV1a) v1a.push(decodeBase64(entry.slice(comma + 1), ED25519_SIGNATURE_BYTES))
    }
    if (v1.length + v1a.length === 0) return fail('unsupported_version', `no ${versions} signature in ${names.signature}`)
    if (v1.every((c) => c === undefined) && v1a.every((c) => c === undefined)) return fail('no_match', `no ${versions} signature in ${names.signature} ${undecodable}`)
    return { ok: true, signedPrefix: `${id.value}.${ts.value}.`, timestampSec, v1, v1a }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    let data: Buffer | undefined
    let matched = -1
    // Every secret against every candidate of its version, without early exit.
    for (let i = 0; i < secrets.length; i++) {
      let hit = false
      if (secrets[i].startsWith(PUBLIC_PREFIX)) {
        const key = publicKeyFor(secrets[i])
        if (key === undefined) continue
        data ??= Buffer.concat([Buffer.from(read.signedPrefix, 'utf8'), rawBody])
        for (const candidate of read.v1a) if (candidate !== undefined && verifyData(key, 'ed25519', data, candidate)) hit = true
      } else {
        const key = keyFor(secrets[i])
        if (key === undefined) continue
        const expected = hmacDigest('sha256', key, [read.signedPrefix, rawBody])
        for (const candidate of read.v1) if (candidate !== undefined && digestsEqual(expected, candidate)) hit = true
      }
      if (hit && matched === -1) matched = i
    }
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
    const signing = signingSecret(preset, secret, options.secret)
    const names = FAMILIES[options.family ?? profile.family]
    const id = options.id ?? `msg_${randomBytes(18).toString('base64url').replaceAll(/[-_]/g, 'x')}`
    const ts = String(options.timestampSec ?? nowSec())
    const content = Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body])
    let signature: string
    if (signing.startsWith(PRIVATE_PREFIX)) {
      const seed = seedOrKeyBytes(signing, PRIVATE_PREFIX)
      if (seed === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET(`providers.${preset}: sign() needs a whsk_ secret whose rest is base64 of a 32-byte Ed25519 seed`)
      signature = `v1a,${signData(parsePrivateKey(seed.toString('hex'), 'ed25519', preset), 'ed25519', content).toString('base64')}`
    } else {
      if (signing.startsWith(PUBLIC_PREFIX)) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS(`providers.${preset}: sign() needs { secret: 'whsk_…' } to sign v1a: a whpk_ public key cannot sign`)
      const key = keyFor(signing)
      if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET(`providers.${preset}: sign() needs a whsec_ base64 secret`)
      signature = `v1,${hmacDigest('sha256', key, [content]).toString('base64')}`
    }
    return {
      'content-type': contentTypeFor(options.contentType, 'json'),
      [names.id]: id,
      [names.timestamp]: ts,
      [names.signature]: signature
    }
  }

  return {
    name: profile.name,
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(['webhook-id', 'webhook-timestamp', 'svix-id', 'svix-timestamp']),
    delivery: profile.delivery,
    secretProblem,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}
