/**
 * The `Provider` interface: how a signature scheme plugs into the route. Public,
 * so users can write their own; the presets beside it implement it.
 * Nothing here imports Fastify: a provider is pure functions over headers,
 * raw bytes, secrets and the clock.
 */

/** Body encodings a provider accepts. `json` also matches `application/*+json`. */
export type ContentKind = 'json' | 'form'

/** Request headers as Node gives them: lower-case names; repeated headers may be arrays. */
export type IncomingHeaders = Record<string, string | string[] | undefined>

/** A secret, a list of secrets (rotation: every one is tried), or a resolver for a vault or per-tenant lookup. */
export type SecretOption = string | string[] | SecretResolver

/** What a secret resolver is told about the request. */
export interface SecretContext {
  headers: IncomingHeaders
  source: string
  /** The route path, e.g. `/hooks/:tenant`. */
  path: string
  /** Route params, e.g. `{ tenant: 'acme' }`. */
  params: Record<string, string>
}

/**
 * Resolves the secrets for a request. Cached by the plugin for `secretCacheMs`.
 * `null` (or a thrown `UnknownTenantError`) says the request names no known
 * tenant: the sender gets 401, and the answer is cached for `secretNegativeCacheMs`.
 */
export type SecretResolver = (ctx: SecretContext) => string | string[] | null | Promise<string | string[] | null>

/** Why verification failed. Only logs and metrics see it; the sender always gets one generic 401. */
export type VerifyFailureReason =
  | 'missing_header'
  | 'duplicate_header'
  | 'malformed_header'
  | 'unsupported_version'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_match'
  /** The scheme signs the public URL the sender called, and none is known: set the preset's `publicUrl`, or Fastify's `trustProxy` behind a proxy. */
  | 'no_public_url'
  /** The scheme carries its signature or signed timestamp in the body, and it is missing or malformed there. */
  | 'malformed_body'

/**
 * The request line, for schemes that sign the URL the sender called (Twilio,
 * Square, HubSpot). The route fills it in; a direct `verify` call may omit it.
 */
export interface RequestTarget {
  /** The HTTP method, e.g. `POST`. */
  method: string
  /** The path and query string exactly as received, e.g. `/hooks/twilio?bodySHA256=…`. */
  url: string
  /**
   * `scheme://host` as the sender saw it, from `X-Forwarded-Proto` and
   * `X-Forwarded-Host` (or the socket and `Host` for a peer the proxy rule does
   * not trust). Set only when the app trusts its proxy (Fastify's `trustProxy`):
   * without it the `Host` header alone is no evidence of the public URL.
   */
  origin?: string
}

/** What `verify` reads: the headers and the exact bytes received, and the request line. */
export interface VerifyInput {
  headers: IncomingHeaders
  rawBody: Buffer
  /** The method, path and (behind a trusted proxy) public origin; absent outside the route. */
  target?: RequestTarget
}

/** A successful verification. */
export interface VerifySuccess {
  ok: true
  /** Index of the secret that matched (logged, never the secret). */
  secretIndex: number
  /** The signed provider timestamp in milliseconds, when the scheme signs one. */
  timestampMs?: number
}

/** A failed verification, with a reason and an optional detail for the log (never a secret or an expected signature). */
export interface VerifyFailure {
  ok: false
  reason: VerifyFailureReason
  detail?: string
}

export type VerifyResult = VerifySuccess | VerifyFailure

/** Why a verified body cannot become an event. Each maps to a 400 with its own code. */
export type BodyFailureReason =
  | 'empty_body'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_an_object'
  | 'forbidden_key'
  | 'missing_id'

/** A verified body, parsed by the plugin: a JSON object, or the fields of a form body. */
export interface ParsedBody {
  kind: ContentKind
  /** For `json`: the parsed object (`{}` for an array body). For `form`: the decoded fields (the last value wins on repeats). */
  value: Record<string, unknown>
  /** A top-level JSON array, for a provider with `jsonArrays` (senders that batch events in one body); then `value` is `{}`. */
  items?: unknown[]
}

/** The request as a provider sees it in `toEvent` and `respond`. */
export interface ProviderRequest {
  headers: IncomingHeaders
  rawBody: Buffer
}

/** The event fields a provider derives from a verified request. */
export interface EventFields {
  ok: true
  /** The event id after namespacing (e.g. GitHub: hook id and delivery id). */
  id: string
  /** The event type, `''` when the scheme has none. */
  type: string
  /** The event payload; defaults to the parsed body's value. */
  payload?: unknown
  /**
   * For schemes whose id comes from an unsigned header: a digest of signed
   * material only (the presets digest the signed bytes, namespaced by their
   * name), never of an unsigned header. The worker also dedupes on it, for the
   * dedupe TTL, so a captured delivery resent with a fresh id header (or any
   * unsigned header changed) is not applied twice.
   */
  replayKey?: string
}

/** A verified request that is not a usable event. */
export interface BodyFailure {
  ok: false
  reason: BodyFailureReason
  detail?: string
}

/** An answer given inline instead of (or besides) the usual 202. */
export interface InlineResponse {
  statusCode: 200
  /** The body to send; `undefined` sends an empty body. */
  body?: unknown
  /** Whether the event is still enqueued (the answer is sent after the enqueue succeeds). */
  enqueue: boolean
}

/** A GET on the webhook path, for a subscription handshake (Meta's `hub.challenge`). */
export interface ChallengeRequest {
  headers: IncomingHeaders
  /** The query string as received, without the `?` (`''` when there is none). */
  query: string
}

/** The answer to a GET handshake, sent as `text/plain`. */
export interface ChallengeResponse {
  /** 200 with the echoed challenge, or a refusal (403 for a wrong token, 400 for a malformed request). */
  statusCode: 200 | 400 | 403
  body: string
  /** Why it was refused, for the log line (never a token). */
  reason?: string
}

/** How a sender delivers: for sizing the dedupe TTL and timeouts. */
export interface DeliveryFacts {
  /** How long the sender keeps retrying a failed delivery, in ms; `0` when it never retries by itself. */
  retriesForMs: number
  /** The dedupe TTL this package suggests for the sender, in ms. */
  suggestedDedupeTtlMs: number
  /** How long the sender waits for an answer, in ms. */
  responseDeadlineMs: number
}

/** Options for `sign()`: what a real sender would use for one delivery. */
export interface SignOptions {
  /** The secret to sign with; defaults to the provider's own secret when it is a string (or the first of a list). */
  secret?: string
  /** The timestamp to sign, in Unix seconds; defaults to now. */
  timestampSec?: number
  /** The delivery or message id to send, for schemes that carry one in a header. */
  id?: string
  /** The content type to send; defaults to the provider's first accepted kind. */
  contentType?: string
}

/**
 * A signature scheme and its delivery semantics. `verify`, `toEvent` and
 * `respond` must never throw on hostile input.
 */
export interface Provider {
  /** A short name, used in logs and metrics (e.g. `stripe`). */
  readonly name: string
  /** The secret(s) the plugin verifies with. */
  readonly secret: SecretOption
  /** Accepted body encodings; anything else is a 415. */
  readonly contentTypes: readonly ContentKind[]
  /** A body limit in bytes that overrides the plugin's default (GitHub raises it). */
  readonly bodyLimit?: number
  /** Whether a top-level JSON array is a usable body (it reaches `toEvent` as `ParsedBody.items`); refused as `not_an_object` otherwise. */
  readonly jsonArrays?: boolean
  /** Lower-case header names copied into `WebhookEvent.headers` (never signature headers). */
  readonly eventHeaders?: readonly string[]
  /** How the sender delivers. */
  readonly delivery?: DeliveryFacts
  /**
   * Whether the scheme can use a secret: `undefined` when it can, else what a
   * usable one looks like (never the secret itself). Checked on a static
   * secret at registration, and on every secret a resolver returns (a refused
   * one gives 503 `secret_unusable`, not a 401). Absent: any non-empty string.
   */
  secretProblem?: (secret: string) => string | undefined
  /**
   * An optional pre-check over the headers alone, run before the body is
   * read: the failure `verify` would give for any body (a missing, repeated
   * or malformed signature or timestamp header, a timestamp out of the
   * window), or `undefined` to read the body and verify. A refusal costs the
   * server no body bytes. Must be pure and never throw; without it, every
   * request's body is read before `verify` decides.
   */
  checkHeaders?: (headers: IncomingHeaders, nowMs: number) => VerifyFailure | undefined
  /** Verifies the raw bytes against every secret, in constant time, without early exit. */
  verify: (input: VerifyInput, secrets: readonly string[], nowMs: number) => VerifyResult
  /** Derives the event id and type from a verified, parsed body. */
  toEvent: (parsed: ParsedBody, req: ProviderRequest, verified: VerifySuccess) => EventFields | BodyFailure
  /**
   * An answer given inline (a handshake, or an empty 200 a sender expects);
   * `undefined` for the usual 202. `secret` is the one that verified the
   * request, for handshakes that answer with a MAC (Zoom).
   */
  respond?: (parsed: ParsedBody, req: ProviderRequest, secret?: string) => InlineResponse | undefined
  /**
   * Answers a GET on the webhook path: a subscription handshake (Meta's
   * `hub.mode=subscribe`). When present, the plugin routes GET on `path` to
   * it; without it a GET is a 404. Must be pure and never throw.
   */
  challenge?: (request: ChallengeRequest) => ChallengeResponse
  /** The exact headers a real sender sends for `body` (including `content-type`), for tests and the CLI. */
  sign: (body: string | Buffer, options?: SignOptions) => Record<string, string>
}
