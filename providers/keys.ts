/**
 * Asymmetric keys for the schemes a sender signs with its private key
 * (Discord and Standard Webhooks `v1a`: Ed25519; SendGrid: ECDSA P-256).
 * The receiver holds only a public key, in whatever form the sender's
 * console shows it; each form is parsed strictly and checked to be of the
 * scheme's kind. Nothing here throws on request input.
 */
import { WebhookErrors } from '../core/errors.js'
import { createPrivateKey, createPublicKey, KeyObject, sign as signWith, verify as verifyWith } from 'node:crypto'

/** The key kinds the presets use. */
export type KeyKind = 'ed25519' | 'p256'

// DER prefixes that wrap a raw 32-byte Ed25519 key (RFC 8410).
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex')
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex')
const HEX = /^(?:[0-9a-fA-F]{2})+$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$|^[A-Za-z0-9_-]+$/

/** What a usable public key of `kind` looks like, for option errors. */
export const PUBLIC_KEY_FORMS: Record<KeyKind, string> = {
  ed25519: 'an Ed25519 public key: 64 hex characters (as Discord\'s portal shows it), 32 bytes of base64, an SPKI PEM, or a JWK',
  p256: 'an ECDSA P-256 public key: base64 DER (as SendGrid shows it), an SPKI PEM, or a JWK'
}

/**
 * Parses a public key: a PEM, a JWK (as JSON text), hex or base64 of the raw
 * 32 bytes (Ed25519), or base64 of the DER SubjectPublicKeyInfo. A private
 * key is refused, even though its public half could be derived: it does not
 * belong in a receiver's configuration. `undefined` when it is no key of `kind`.
 */
export function parsePublicKey (text: string, kind: KeyKind): KeyObject | undefined {
  try {
    const trimmed = text.trim()
    let key: KeyObject
    if (trimmed.startsWith('-----BEGIN')) {
      if (trimmed.includes('PRIVATE')) return undefined
      key = createPublicKey({ key: trimmed, format: 'pem' })
    } else if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>
      if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) return undefined
      key = createPublicKey({ key: jwk as never, format: 'jwk' })
    } else {
      const raw = bytesOf(trimmed)
      if (raw === undefined) return undefined
      key = kind === 'ed25519' && raw.length === 32
        ? createPublicKey({ key: Buffer.concat([ED25519_SPKI, raw]), format: 'der', type: 'spki' })
        : createPublicKey({ key: raw, format: 'der', type: 'spki' })
    }
    return isKind(key, kind) ? key : undefined
  } catch {
    return undefined
  }
}

/**
 * Parses a private key for `sign()`: a `KeyObject`, a PEM, a JWK, hex or
 * base64 of the raw 32-byte Ed25519 seed, or base64 of the DER PKCS#8.
 * Throws a `TypeError` saying what was expected (never echoing the key).
 */
export function parsePrivateKey (value: unknown, kind: KeyKind, preset: string): KeyObject {
  let key: KeyObject | undefined
  try {
    if (value instanceof KeyObject) {
      key = value
    } else if (typeof value === 'string') {
      const trimmed = value.trim()
      if (trimmed.startsWith('-----BEGIN')) key = createPrivateKey({ key: trimmed, format: 'pem' })
      else if (trimmed.startsWith('{')) key = createPrivateKey({ key: JSON.parse(trimmed), format: 'jwk' })
      else {
        const raw = bytesOf(trimmed)
        if (raw !== undefined) {
          key = kind === 'ed25519' && raw.length === 32
            ? createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, raw]), format: 'der', type: 'pkcs8' })
            : createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' })
        }
      }
    }
  } catch {
    key = undefined
  }
  if (key === undefined || key.type !== 'private' || !isKind(key, kind)) {
    throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS(`providers.${preset}: sign() needs { privateKey }, ${kind === 'ed25519' ? 'an Ed25519' : 'an ECDSA P-256'} private key (a KeyObject, PEM, JWK${kind === 'ed25519' ? ', or the 32-byte seed in hex or base64' : ', or base64 DER PKCS#8'})`)
  }
  return key
}

/** A signature over `data` with `key`: Ed25519, or ECDSA P-256 with SHA-256 (DER). */
export function signData (key: KeyObject, kind: KeyKind, data: Buffer): Buffer {
  return signWith(kind === 'ed25519' ? null : 'sha256', data, key)
}

/** Whether `signature` is one of `key` over `data`; never throws (a malformed DER signature is just no match). */
export function verifyData (key: KeyObject, kind: KeyKind, data: Buffer, signature: Buffer): boolean {
  try {
    return verifyWith(kind === 'ed25519' ? null : 'sha256', data, key, signature)
  } catch {
    return false
  }
}

// Resolver keys may vary per tenant: bounded, as the HMAC key cache is.
const MAX_CACHED_KEYS = 256

/** Parsed public keys by their text; `undefined` for text that is no key of `kind` (it never matches). */
export function publicKeyCache (kind: KeyKind, parse: (text: string) => KeyObject | undefined = (text) => parsePublicKey(text, kind)): (text: string) => KeyObject | undefined {
  const cache = new Map<string, KeyObject | undefined>()
  return function keyFor (text) {
    if (cache.has(text)) return cache.get(text)
    const key = typeof text === 'string' && text !== '' ? parse(text) : undefined
    if (cache.size >= MAX_CACHED_KEYS) cache.delete(cache.keys().next().value as string)
    cache.set(text, key)
    return key
  }
}

/**
 * The index of the first key under which one of the candidate signatures
 * verifies `data`, or -1. Every key is tried against every candidate, as
 * every HMAC secret is, so the answer does not depend on which one matched first.
 */
export function matchingKey (
  keys: readonly string[],
  keyFor: (text: string) => KeyObject | undefined,
  kind: KeyKind,
  data: Buffer,
  candidates: ReadonlyArray<Buffer | undefined>
): number {
  let matched = -1
  for (let i = 0; i < keys.length; i++) {
    const key = keyFor(keys[i])
    if (key === undefined) continue
    for (const candidate of candidates) {
      if (candidate !== undefined && verifyData(key, kind, data, candidate) && matched === -1) matched = i
    }
  }
  return matched
}

function isKind (key: KeyObject, kind: KeyKind): boolean {
  if (kind === 'ed25519') return key.asymmetricKeyType === 'ed25519'
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
}

// Hex first: 64 hex characters are also valid base64, of other bytes.
function bytesOf (text: string): Buffer | undefined {
  if (HEX.test(text)) return Buffer.from(text, 'hex')
  if (!BASE64.test(text)) return undefined
  const buf = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64')
  return buf.length === 0 ? undefined : buf
}
