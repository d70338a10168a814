/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>` over the raw body, JSON or
 * form-encoded (the event JSON in the `payload` field, GitHub's UI default).
 * https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
 */
import { randomUUID } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { escapeId } from '../core/job-id.js'
import { parseJsonObject } from './body.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret } from './checks.js'
import {
  contentTypeFor, decodeHex, matchingSecret, fail, failureOf, hmacDigest, keyCache, optionalHeader, replayKey, signingSecret, singleHeader, utf8Key
} from './util.js'

/** Options of `providers.github()`. */
export interface GitHubOptions {
  /** The webhook secret(s), a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /**
   * The body limit in bytes. GitHub caps payloads at 25 MB, form encoding
   * inflates them, and GitHub never redelivers a refused delivery by itself.
   * @defaultValue `33554432` (32 MiB)
   */
  bodyLimit?: number
}

/** Extra `sign()` options: the event name and hook id GitHub would send. */
export interface GitHubSignOptions extends SignOptions {
  /** `X-GitHub-Event`. @defaultValue `'push'` */
  event?: string
  /** `X-GitHub-Hook-ID`. @defaultValue `'1'` */
  hookId?: string
}

/** The GitHub provider: `sign()` also takes the `event` and `hookId`. */
export interface GitHubProvider extends Provider {
  sign: (body: string | Buffer, options?: GitHubSignOptions) => Record<string, string>
}

/**
 * GitHub never redelivers automatically; deliveries can be redelivered by hand
 * (or the API) for 30 days, so that is the dedupe horizon. 10 s deadline.
 */
export const GITHUB_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 0,
  suggestedDedupeTtlMs: 30 * 86_400_000,
  responseDeadlineMs: 10_000
})

/** The default body limit: 25 MB payloads plus room for form encoding. */
export const GITHUB_BODY_LIMIT = 32 * 1024 * 1024

const KNOWN = ['secret', 'bodyLimit'] as const
const HEADER = 'x-hub-signature-256'
const SIGNATURE_BYTES = 32
const VERSIONED = /^([A-Za-z0-9]+)=(.*)$/s

/**
 * The event id: a delivery GUID is unique per event, not per hook, so the hook
 * id namespaces it as `hook:delivery`. The hook part is escaped (`%` and `:`,
 * see `escapeId`) so the first `:` always ends it, and a delivery without a
 * hook id is escaped whole so it never contains `:`: no two different
 * (hook, delivery) pairs give one id. GitHub's numeric hook ids and GUIDs
 * contain neither character, so their ids read `42:72d3162e-…` unchanged.
 */
export function eventId (hookId: string | undefined, delivery: string): string {
  return hookId === undefined ? escapeId(delivery) : `${escapeId(hookId)}:${delivery}`
}

/** Creates the GitHub provider. */
export function github (options: GitHubOptions): GitHubProvider {
  const o = checkOptionsObject<GitHubOptions>('github', options, KNOWN)
  const secret = checkSecret('github', o.secret)
  const bodyLimit = checkBodyLimit('github', o.bodyLimit) ?? GITHUB_BODY_LIMIT
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): { ok: true, received: Buffer } | VerifyFailure {
    // The legacy SHA-1 `X-Hub-Signature` alone is not trusted.
    const header = singleHeader(headers, HEADER)
    if (!header.ok) return header
    const m = VERSIONED.exec(header.value)
    if (m === null) return fail('malformed_header', `${HEADER} is not algorithm=hex`)
    if (m[1] !== 'sha256') return fail('unsupported_version', `${HEADER} algorithm ${m[1].slice(0, 10)}`)
    const received = decodeHex(m[2], SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    return { ok: true, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[]): VerifyResult {
    const read = readHeaders(headers)
    if (!read.ok) return read
    const signed = [rawBody]
    const matched = matchingSecret(secrets, keyFor, 'sha256', signed, [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    let payload: Record<string, unknown> = parsed.value
    if (parsed.kind === 'form') {
      const field = parsed.value.payload
      if (typeof field !== 'string') return { ok: false, reason: 'invalid_json', detail: 'form body has no payload field' }
      const inner = parseJsonObject(field)
      if (!inner.ok) return inner
      payload = inner.value
    }
    const delivery = optionalHeader(req.headers, 'x-github-delivery')
    if (delivery === undefined) return { ok: false, reason: 'missing_id', detail: 'x-github-delivery' }
    const id = eventId(optionalHeader(req.headers, 'x-github-hook-id'), delivery)
    const type = optionalHeader(req.headers, 'x-github-event') ?? ''
    // No header is signed: a captured delivery resent with a fresh GUID (or any
    // other header changed) still verifies, and only the signed body keys it.
    return { ok: true, id, type, payload, replayKey: replayKey('github', [req.rawBody]) }
  }

  function sign (body: string | Buffer, options: GitHubSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('github', secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.github: sign() needs a non-empty secret')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(options.contentType, 'json'),
      'user-agent': 'GitHub-Hookshot/0000000',
      'x-github-event': options.event ?? 'push',
      'x-github-delivery': options.id ?? randomUUID(),
      'x-github-hook-id': options.hookId ?? '1',
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': '1',
      'x-hub-signature': `sha1=${hmacDigest('sha1', key, [bytes]).toString('hex')}`,
      [HEADER]: `sha256=${hmacDigest('sha256', key, [bytes]).toString('hex')}`
    }
  }

  return {
    name: 'github',
    secret,
    contentTypes: Object.freeze(['json', 'form'] as const),
    bodyLimit,
    eventHeaders: Object.freeze(['x-github-event', 'x-github-delivery', 'x-github-hook-id', 'x-github-hook-installation-target-type',
      'x-github-hook-installation-target-id', 'user-agent']),
    delivery: GITHUB_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    sign
  }
}
