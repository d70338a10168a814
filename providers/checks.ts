/**
 * Option checks shared by the presets. Each throws the coded
 * `WEBHOOK_PROVIDER_INVALID_OPTION` `TypeError` at construction, saying what was
 * expected and what came (never the value of a secret).
 */
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { expected, unknownKeys } from '../core/validate.js'
import type { ContentKind, DeliveryFacts, SecretOption } from './provider.js'

/** Throws the coded option error. */
export const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION)

/** Checks a preset's options object and its keys; returns it typed. */
export function checkOptionsObject<T extends object> (preset: string, options: unknown, known: readonly string[]): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid.fail(expected(`providers.${preset}() options`, `an object with a \`${known[0]}\``, options))
  }
  const unknown = unknownKeys(options, known)
  if (unknown.length > 0) {
    invalid.fail(`Unknown option \`${unknown[0]}\` for providers.${preset}(); expected one of ${known.map((k) => `\`${k}\``).join(', ')}`)
  }
  return options as T
}

/**
 * A secret option: a non-empty string, a non-empty array of them, or a
 * resolver function. `check` refuses strings the scheme cannot use (returns a
 * hint). `option` names it when it is not `secret` (a public key).
 */
export function checkSecret (preset: string, secret: unknown, check?: (s: string) => string | undefined, option = 'secret'): SecretOption {
  const name = `${preset}.${option}`
  const what = 'a non-empty string, a non-empty array of them, or a function'
  if (typeof secret === 'function') return secret as SecretOption
  const list = Array.isArray(secret) ? secret : [secret]
  if (list.length === 0) invalid.fail(expected(name, what, secret))
  for (const s of list) {
    // Only a non-string or an empty string reaches the message: never a usable secret.
    if (typeof s !== 'string' || s === '') invalid.fail(expected(name, what, s))
    const hint = check?.(s)
    // The value is a secret: the message names the problem, never the value.
    if (hint !== undefined) invalid.fail(`Expected \`${name}\` to be usable: ${hint}`)
  }
  return secret as SecretOption
}

/** Default and maximum signed-timestamp tolerance. */
export const DEFAULT_TOLERANCE_MS = 300_000
const MAX_TOLERANCE_MS = 86_400_000

/** A tolerance in ms, from 1 s to 24 h. */
export function checkTolerance (preset: string, value: unknown): number {
  if (value === undefined) return DEFAULT_TOLERANCE_MS
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1000 && value <= MAX_TOLERANCE_MS) return value
  return invalid.fail(expected(`${preset}.toleranceMs`, `an integer from 1000 to ${MAX_TOLERANCE_MS} (ms)`, value))
}

/** A non-empty list of distinct content kinds. */
export function checkContentTypes (preset: string, value: unknown): readonly ContentKind[] {
  if (Array.isArray(value) && value.length > 0 && value.length <= 2 && new Set(value).size === value.length &&
    value.every((k) => k === 'json' || k === 'form')) return Object.freeze([...value])
  return invalid.fail(expected(`${preset}.contentTypes`, "a non-empty array of 'json' and/or 'form'", value))
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/

/** Lower-case header names to copy into events; never one of the signature headers. */
export function checkEventHeaders (preset: string, value: unknown, signatureHeaders: readonly string[]): readonly string[] {
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    return invalid.fail(expected(`${preset}.eventHeaders`, 'an array of lower-case header names', value))
  }
  const leak = value.find((h) => signatureHeaders.includes(h))
  if (leak !== undefined) invalid.fail(expected(`${preset}.eventHeaders`, 'free of signature headers', leak))
  return Object.freeze([...new Set(value as string[])])
}

/** A body limit in bytes, or `undefined`. */
export function checkBodyLimit (preset: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value
  return invalid.fail(expected(`${preset}.bodyLimit`, 'an integer from 1 and up (bytes)', value))
}

/** Delivery facts given by the user: three non-negative integer durations. */
export function checkDelivery (preset: string, value: unknown): DeliveryFacts {
  const v = value as Record<string, unknown> | null
  const ok = typeof v === 'object' && v !== null &&
    ['retriesForMs', 'suggestedDedupeTtlMs', 'responseDeadlineMs'].every((k) => typeof v[k] === 'number' && Number.isSafeInteger(v[k]) && (v[k] as number) >= 0)
  if (!ok) invalid.fail(expected(`${preset}.delivery`, 'an object with integer `retriesForMs`, `suggestedDedupeTtlMs` and `responseDeadlineMs` (ms)', value))
  return value as DeliveryFacts
}

/** A lower-case header name option. */
export function checkHeaderName (name: string, value: unknown): string {
  if (typeof value === 'string' && HEADER_NAME.test(value)) return value
  return invalid.fail(expected(name, 'a lower-case header name', value))
}
