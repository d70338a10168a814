import sjson from 'secure-json-parse'
import type { BodyFailure, ParsedBody } from './provider.js'

// `fatal: true`: invalid UTF-8 is refused instead of silently replaced, so the
// event we enqueue is exactly what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** A parse result: the value, or why the bytes are not usable. */
export type ParseResult<T> = { ok: true, value: T } | BodyFailure

/** Decodes bytes as strict UTF-8. */
export function decodeUtf8 (bytes: Buffer): ParseResult<string> {
  try {
    return { ok: true, value: utf8.decode(bytes) }
  } catch {
    return { ok: false, reason: 'invalid_utf8' }
  }
}

/**
 * Parses JSON text into a plain object, refusing prototype-poisoning keys
 * (`__proto__`, `constructor.prototype`) instead of stripping them: a signed
 * body that carries them is hostile or broken, and either way not an event.
 */
export function parseJsonObject (text: string): ParseResult<Record<string, unknown>> {
  if (text.trim() === '') return { ok: false, reason: 'empty_body' }
  let value: unknown
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    return /forbidden prototype property/.test((err as Error).message)
      ? { ok: false, reason: 'forbidden_key' }
      : { ok: false, reason: 'invalid_json' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not_an_object' }
  return { ok: true, value: value as Record<string, unknown> }
}

/** Decodes an `application/x-www-form-urlencoded` body into its fields (the last value wins on repeats). */
export function parseForm (text: string): ParseResult<Record<string, string>> {
  if (text.trim() === '') return { ok: false, reason: 'empty_body' }
  const fields: Record<string, string> = Object.create(null)
  for (const [key, value] of new URLSearchParams(text)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return { ok: false, reason: 'forbidden_key' }
    fields[key] = value
  }
  return { ok: true, value: fields }
}

/** A parsed body, with the text it was parsed from. */
export type ParsedBodyResult = { ok: true, value: ParsedBody, text: string } | BodyFailure

/** Decodes and parses a verified body of the given kind. */
export function parseBody (kind: ParsedBody['kind'], rawBody: Buffer): ParsedBodyResult {
  if (rawBody.length === 0) return { ok: false, reason: 'empty_body' }
  const text = decodeUtf8(rawBody)
  if (!text.ok) return text
  const parsed = kind === 'json' ? parseJsonObject(text.value) : parseForm(text.value)
  if (!parsed.ok) return parsed
  return { ok: true, value: { kind, value: parsed.value }, text: text.value }
}
