import { createHash } from 'node:crypto'
import { WebhookErrors } from './errors.js'
import { SOURCE_PATTERN } from './event.js'

// Escaped ids longer than this are hashed, so a job id (and every key derived
// from it) stays bounded whatever a sender puts in its id header.
const MAX_ESCAPED_ID_BYTES = 128

/**
 * The BullMQ job id for an event: deterministic, injective, bounded in length,
 * never integer-like and never containing `:` (both refused by BullMQ).
 *
 * Short ids become `source.escaped-id`, where `%`, `:` and lone surrogates are escaped,
 * so the mapping is reversible. Ids whose escaped form exceeds 128 bytes become
 * `source#sha256(id)`; a source never contains `.` or `#`, so the two forms
 * cannot meet. The result always starts with a letter, so it is never an integer.
 *
 * It is also `ctx.idempotencyKey` in the worker.
 */
export function safeJobId (source: string, id: string): string {
  if (typeof source !== 'string' || !SOURCE_PATTERN.test(source)) {
    throw new WebhookErrors.WEBHOOK_INVALID_JOB_ID(`Expected \`source\` to match ${String(SOURCE_PATTERN)}, got \`${String(source)}\` (${typeof source})`)
  }
  if (typeof id !== 'string') {
    throw new WebhookErrors.WEBHOOK_INVALID_JOB_ID(`Expected \`id\` to be a string, got \`${String(id)}\` (${typeof id})`)
  }
  const escaped = escapeId(id)
  if (Buffer.byteLength(escaped) > MAX_ESCAPED_ID_BYTES) {
    return `${source}#${createHash('sha256').update(escaped).digest('hex')}`
  }
  return `${source}.${escaped}`
}

// Lone surrogates all encode to the same UTF-8 replacement bytes in Redis, so
// they are escaped too (as `%uXXXX`); `%` itself is always escaped, which keeps
// the mapping reversible and therefore injective.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const NEEDS_ESCAPE = /[%:\uD800-\uDFFF]/

/**
 * `id` with `%`, `:` and lone surrogates escaped (`%25`, `%3A`, `%uXXXX`):
 * reversible, so injective, and free of `:`. Text without them is unchanged.
 */
export function escapeId (id: string): string {
  if (!NEEDS_ESCAPE.test(id)) return id
  return id
    .replaceAll('%', '%25')
    .replaceAll(':', '%3A')
    .replace(LONE_SURROGATE, (c) => `%u${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
