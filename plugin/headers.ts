import type { ContentKind, IncomingHeaders } from '../providers/provider.js'

/**
 * The request headers as providers need them: lower-case names, and a
 * `string[]` for a header sent more than once. Built from `rawHeaders`
 * because Node's `headers` silently keeps the first of some duplicates and
 * joins others, which would hide a duplicated signature header.
 */
export function collectHeaders (rawHeaders: readonly string[]): IncomingHeaders {
  const headers: Record<string, string | string[]> = Object.create(null)
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase()
    const value = rawHeaders[i + 1]
    const seen = headers[name]
    if (seen === undefined) headers[name] = value
    else if (Array.isArray(seen)) seen.push(value)
    else headers[name] = [seen, value]
  }
  return headers
}

/** Why a request's framing headers refuse it before its body is read. */
export type MediaProblem = 'content_encoding' | 'missing_content_type' | 'duplicate_content_type' | 'unsupported_media_type' | 'unsupported_charset'

/** The body kind a request declares, or why it is refused (415). */
export type MediaResult = { ok: true, kind: ContentKind } | { ok: false, reason: MediaProblem }

const JSON_TYPE = /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/
const FORM_TYPE = 'application/x-www-form-urlencoded'
const JSON_MEDIA: MediaResult = Object.freeze({ ok: true, kind: 'json' })

/**
 * Classifies the request by its `Content-Type` against the kinds the provider
 * accepts. Any `Content-Encoding` is refused: a compressed body would have to
 * be inflated before verification, and an inflated body is a zip-bomb vector.
 */
export function classifyMedia (headers: IncomingHeaders, accepted: readonly ContentKind[]): MediaResult {
  if (headers['content-encoding'] !== undefined) return { ok: false, reason: 'content_encoding' }
  const header = headers['content-type']
  if (header === undefined) return { ok: false, reason: 'missing_content_type' }
  if (Array.isArray(header)) return { ok: false, reason: 'duplicate_content_type' }
  // Nearly every sender declares exactly this: no split, no pattern.
  if (header === 'application/json') return accepted.includes('json') ? JSON_MEDIA : { ok: false, reason: 'unsupported_media_type' }
  const [type, ...params] = header.split(';')
  const media = type.trim().toLowerCase()
  const kind: ContentKind | undefined = JSON_TYPE.test(media) ? 'json' : media === FORM_TYPE ? 'form' : undefined
  if (kind === undefined || !accepted.includes(kind)) return { ok: false, reason: 'unsupported_media_type' }
  // Bodies are decoded as strict UTF-8 only; a declared other charset would be misread.
  for (const param of params) {
    const [name, value = ''] = param.split('=')
    if (name.trim().toLowerCase() !== 'charset') continue
    const charset = value.trim().replace(/^"(.*)"$/, '$1').toLowerCase()
    if (charset !== 'utf-8' && charset !== 'utf8') return { ok: false, reason: 'unsupported_charset' }
  }
  return { ok: true, kind }
}

/** The allow-listed headers copied into `WebhookEvent.headers`; repeated values are joined with `, `. */
export function pickEventHeaders (headers: IncomingHeaders, names: readonly string[] | undefined): Record<string, string> {
  const picked: Record<string, string> = {}
  for (const name of names ?? []) {
    const value = headers[name]
    if (value !== undefined) picked[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return picked
}
