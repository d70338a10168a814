/**
 * The job data every part of the package shares: the plugin writes it, the
 * poller writes it, the worker reads it, the dead-letter queue keeps it.
 */
export interface WebhookEvent<P = unknown> {
  /** Job schema version. A worker dead-letters versions it does not know. */
  v: 1
  /** The provider's event id after preset namespacing (GitHub: hook id + delivery id). */
  id: string
  /** The plugin's `source`, matching {@link SOURCE_PATTERN}. */
  source: string
  /** The event type; `''` when the scheme has none. */
  type: string
  /** The parsed JSON object; for form bodies, the preset's decoding. */
  payload: P
  /** Lower-case header names from the preset's allow-list, never signature headers. */
  headers: Record<string, string>
  /** Milliseconds since epoch, on the ingress clock. */
  receivedAt: number
  /** The signed provider timestamp in milliseconds, when the scheme has one. */
  sentAt?: number
  /** Where the event came from. */
  origin: 'webhook' | 'poll' | 'replay'
  /**
   * Set by presets whose id comes from an unsigned header (GitHub, Shopify,
   * generic HMAC with a header id): a digest of the signature and the type.
   * The worker dedupes on it too, so a captured delivery resent with a fresh
   * id header is skipped as a replay.
   */
  replayKey?: string
}

/**
 * The job's JSON text, as `JSON.stringify(event)` writes it. With
 * `payloadJson`, the payload's own JSON text (a verified body that parsed to
 * `event.payload`) is placed as it is, so a large payload is not serialized a
 * second time; parsing the result gives the same event.
 */
export function serializeEvent (event: WebhookEvent, payloadJson?: string): string {
  if (payloadJson === undefined) return JSON.stringify(event)
  let text = '{"v":' + JSON.stringify(event.v) +
    ',"id":' + JSON.stringify(event.id) +
    ',"source":' + JSON.stringify(event.source) +
    ',"type":' + JSON.stringify(event.type) +
    ',"payload":' + payloadJson +
    ',"headers":' + JSON.stringify(event.headers) +
    ',"receivedAt":' + JSON.stringify(event.receivedAt)
  if (event.sentAt !== undefined) text += ',"sentAt":' + JSON.stringify(event.sentAt)
  text += ',"origin":' + JSON.stringify(event.origin)
  if (event.replayKey !== undefined) text += ',"replayKey":' + JSON.stringify(event.replayKey)
  return text + '}'
}

/** The job schema version this package writes and understands. */
export const EVENT_VERSION = 1 as const

/** What a `source` must look like: a letter, then up to 62 letters, digits, `_` or `-`. */
export const SOURCE_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/i

/** The BullMQ job name every webhook job is added under. */
export const JOB_NAME = 'webhook'
