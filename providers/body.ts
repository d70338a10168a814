import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import type { BodyFailure, ParsedBody } from './provider.js'

/** A parse result: the value, or why the bytes are not usable. */
export type ParseResult<T> = { ok: true, value: T } | BodyFailure

const BOM = 0xfeff

/**
 * Decodes bytes as strict UTF-8: invalid UTF-8 is refused instead of silently
 * replaced, so the event we enqueue is exactly what was signed. A leading BOM
 * is dropped, as a UTF-8 decoder does.
 */
export function decodeUtf8 (bytes: Buffer): ParseResult<string> {
  if (!isUtf8(bytes)) return { ok: false, reason: 'invalid_utf8' }
  const text = bytes.toString('utf8')
  return { ok: true, value: text.charCodeAt(0) === BOM ? text.slice(1) : text }
}

// Text in which no key can spell `__proto__` or `constructor`: neither word
// appears, and no `\u` escape could spell one.
function plainly (text: string): boolean {
  return !text.includes('proto') && !text.includes('constructor') && !text.includes('\\u')
}

/**
 * Parses JSON text into a plain object, refusing prototype-poisoning keys
 * (`__proto__`, `constructor.prototype`) instead of stripping them: a signed
 * body that carries them is hostile or broken, and either way not an event.
 */
export function parseJsonObject (text: string): ParseResult<Record<string, unknown>> {
  const parsed = parseJsonValue(text)
  if (!parsed.ok) return parsed
  const value = parsed.value
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_an_object' }
  return { ok: true, value: value as Record<string, unknown> }
}

/** Parses JSON text into any value, with the same refusals as `parseJsonObject`. */
function parseJsonValue (text: string): ParseResult<unknown> {
  if (text.trim() === '') return { ok: false, reason: 'empty_body' }
  try {
    // secure-json-parse scans the text with two patterns after parsing; text
    // that cannot hold a forbidden key needs only the parse.
    const value: unknown = plainly(text)
      ? JSON.parse(text.charCodeAt(0) === BOM ? text.slice(1) : text)
      : sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
    return { ok: true, value }
  } catch (err) {
    return /forbidden prototype property/.test((err as Error).message)
      ? { ok: false, reason: 'forbidden_key' }
      : { ok: false, reason: 'invalid_json' }
  }
}

/**
 * Decodes an `application/x-www-form-urlencoded` body into its fields (the
 * last value wins on repeats). Percent-escapes that decode to invalid UTF-8
 * are refused, as invalid UTF-8 in a JSON body is: `URLSearchParams` would
 * turn them into U+FFFD, and the event would no longer be what was signed.
 */
export function parseForm (text: string): ParseResult<Record<string, string>> {
  if (text.trim() === '') return { ok: false, reason: 'empty_body' }
  // Text without escapes is the verified UTF-8 itself: nothing more to check.
  if (text.includes('%') && !isUtf8(percentDecoded(text))) return { ok: false, reason: 'invalid_utf8' }
  const fields: Record<string, string> = Object.create(null)
  for (const [key, value] of new URLSearchParams(text)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return { ok: false, reason: 'forbidden_key' }
    fields[key] = value
  }
  return { ok: true, value: fields }
}

/**
 * The bytes of `text` with every `%XX` escape decoded, as the form decoder
 * decodes them (a `%` not followed by two hex digits stays). The separators
 * `&` and `=` are ASCII, so the whole is valid UTF-8 exactly when every
 * decoded name and value is.
 */
function percentDecoded (text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  const out = Buffer.allocUnsafe(bytes.length)
  let n = 0
  for (let i = 0; i < bytes.length; i++) {
    const high = bytes[i] === PERCENT && i + 2 < bytes.length ? hexValue(bytes[i + 1]) : -1
    const low = high === -1 ? -1 : hexValue(bytes[i + 2])
    if (low === -1) {
      out[n++] = bytes[i]
    } else {
      out[n++] = high * 16 + low
      i += 2
    }
  }
  return out.subarray(0, n)
}

const PERCENT = 0x25

function hexValue (byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  return -1
}

/** A parsed body, with the text it was parsed from. */
export type ParsedBodyResult = { ok: true, value: ParsedBody, text: string } | BodyFailure

/**
 * Decodes and parses a verified body of the given kind. With `arrays`, a
 * top-level JSON array is a body too (senders that batch events): it comes
 * back as `items`, with an empty `value`.
 */
export function parseBody (kind: ParsedBody['kind'], rawBody: Buffer, arrays = false): ParsedBodyResult {
  if (rawBody.length === 0) return { ok: false, reason: 'empty_body' }
  const text = decodeUtf8(rawBody)
  if (!text.ok) return text
  // Only the first BOM marks the encoding; a second is text that no JSON
  // parser reads, and the stored text must be exactly what was parsed.
  if (kind === 'json' && text.value.charCodeAt(0) === BOM) return { ok: false, reason: 'invalid_json', detail: 'a second byte-order mark' }
  if (kind === 'json' && arrays) {
    const any = parseJsonValue(text.value)
    if (!any.ok) return any
    if (Array.isArray(any.value)) return { ok: true, value: { kind, value: {}, items: any.value }, text: text.value }
    if (typeof any.value !== 'object' || any.value === null) return { ok: false, reason: 'not_an_object' }
    return { ok: true, value: { kind, value: any.value as Record<string, unknown> }, text: text.value }
  }
  const parsed = kind === 'json' ? parseJsonObject(text.value) : parseForm(text.value)
  if (!parsed.ok) return parsed
  return { ok: true, value: { kind, value: parsed.value }, text: text.value }
}
