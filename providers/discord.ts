/**
 * Discord interactions: `X-Signature-Ed25519`, the hex Ed25519 signature of
 * `X-Signature-Timestamp` followed by the raw body, made with Discord's
 * private key; the receiver holds the application's public key. A PING
 * (type 1) is answered inline with `{"type":1}`; every other interaction is
 * enqueued and answered with a deferred response, as Discord needs an
 * answer within 3 s and the work happens later, in the worker.
 * https://discord.com/developers/docs/interactions/overview#preparing-for-interactions
 */
import type { KeyObject } from 'node:crypto'
import { checkBoolean } from '../core/validate.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, InlineResponse, ParsedBody, Provider, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, checkTolerance, invalid } from './checks.js'
import { matchingKey, parsePrivateKey, parsePublicKey, publicKeyCache, PUBLIC_KEY_FORMS, signData } from './keys.js'
import { checkWindow, contentTypeFor, decodeHex, fail, failureOf, idFromValue, nowSec, parseTimestampSec, singleHeader } from './util.js'

/** Options of `providers.discord()`. */
export interface DiscordOptions {
  /**
   * The application's public key (64 hex characters, as the Developer Portal
   * shows it; base64, an SPKI PEM or a JWK also work), a list, or a resolver.
   */
  publicKey: SecretOption
  /** How far `X-Signature-Timestamp` may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /** Defer with the ephemeral flag, so the follow-up is seen by the invoking user only. @defaultValue `false` */
  ephemeral?: boolean
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: Discord signs with its private key, so a test needs one. */
export interface DiscordSignOptions extends SignOptions {
  /** An Ed25519 private key: a `KeyObject`, PEM, JWK, or the 32-byte seed in hex or base64. Required. */
  privateKey?: string | KeyObject
}

/** The Discord provider: `sign()` takes the `privateKey` to sign with. */
export interface DiscordProvider extends Provider {
  sign: (body: string | Buffer, options?: DiscordSignOptions) => Record<string, string>
}

/**
 * Discord waits 3 s for an interaction response and never retries; an
 * interaction token lives 15 minutes. Dedupe on the interaction id for 1 h.
 */
export const DISCORD_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 0,
  suggestedDedupeTtlMs: 3_600_000,
  responseDeadlineMs: 3_000
})

const KNOWN = ['publicKey', 'toleranceMs', 'ephemeral', 'bodyLimit'] as const
const SIGNATURE = 'x-signature-ed25519'
const TIMESTAMP = 'x-signature-timestamp'
const SIGNATURE_BYTES = 64
const TYPES: Record<number, string> = { 1: 'PING', 2: 'APPLICATION_COMMAND', 3: 'MESSAGE_COMPONENT', 4: 'APPLICATION_COMMAND_AUTOCOMPLETE', 5: 'MODAL_SUBMIT' }
const PONG: InlineResponse = Object.freeze({ statusCode: 200, body: Object.freeze({ type: 1 }), enqueue: false })
// Interaction response types: 5 defers a message, 6 defers a component's update, 8 answers autocomplete.
const DEFER_UPDATE: InlineResponse = Object.freeze({ statusCode: 200, body: Object.freeze({ type: 6 }), enqueue: true })
const NO_CHOICES: InlineResponse = Object.freeze({ statusCode: 200, body: Object.freeze({ type: 8, data: Object.freeze({ choices: Object.freeze([]) }) }), enqueue: true })
const EPHEMERAL = 64

/** Why a public key cannot be used; `undefined` when it can. Never echoes the key. */
function keyProblem (text: string): string | undefined {
  return parsePublicKey(text, 'ed25519') === undefined ? PUBLIC_KEY_FORMS.ed25519 : undefined
}

/** Creates the Discord interactions provider. */
export function discord (options: DiscordOptions): DiscordProvider {
  const o = checkOptionsObject<DiscordOptions>('discord', options, KNOWN)
  const publicKey = checkSecret('discord', o.publicKey, keyProblem, 'publicKey')
  const toleranceMs = checkTolerance('discord', o.toleranceMs)
  const ephemeral = o.ephemeral ?? false
  const problem = checkBoolean('discord.ephemeral', ephemeral)
  invalid.failIf(problem)
  const bodyLimit = checkBodyLimit('discord', o.bodyLimit)
  const keyFor = publicKeyCache('ed25519')
  const deferMessage: InlineResponse = Object.freeze({ statusCode: 200, body: Object.freeze(ephemeral ? { type: 5, data: { flags: EPHEMERAL } } : { type: 5 }), enqueue: true })

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
    const received = decodeHex(sig.value, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 64-byte hex')
    return { ok: true, ts: ts.value, timestampSec, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, keys: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const matched = matchingKey(keys, keyFor, 'ed25519', Buffer.concat([Buffer.from(read.ts, 'utf8'), rawBody]), [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody): EventFields | BodyFailure {
    // The interaction id (a snowflake) is in the signed body.
    const id = idFromValue(parsed.value.id)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: 'id' }
    const type = parsed.value.type
    return { ok: true, id, type: typeof type === 'number' ? (TYPES[type] ?? String(type)) : '' }
  }

  function respond (parsed: ParsedBody): InlineResponse | undefined {
    switch (parsed.value.type) {
      case 1: return PONG
      case 3: return DEFER_UPDATE
      case 4: return NO_CHOICES
      default: return deferMessage
    }
  }

  function sign (body: string | Buffer, signOptions: DiscordSignOptions = {}): Record<string, string> {
    const key = parsePrivateKey(signOptions.privateKey, 'ed25519', 'discord')
    const ts = String(signOptions.timestampSec ?? nowSec())
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(signOptions.contentType, 'json'),
      'user-agent': 'Discord-Interactions/1.0 (+https://discord.com)',
      [TIMESTAMP]: ts,
      [SIGNATURE]: signData(key, 'ed25519', Buffer.concat([Buffer.from(ts, 'utf8'), bytes])).toString('hex')
    }
  }

  return {
    name: 'discord',
    secret: publicKey,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze([TIMESTAMP]),
    delivery: DISCORD_DELIVERY,
    secretProblem: keyProblem,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    respond,
    sign
  }
}
