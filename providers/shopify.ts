/**
 * Shopify: `X-Shopify-Hmac-Sha256` (or unprefixed `Shopify-Hmac-Sha256`), the
 * base64 HMAC-SHA256 of the raw body with the app's client secret.
 * https://shopify.dev/docs/apps/build/webhooks/subscribe/https
 */
import { randomUUID } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { checkOneOf } from '../core/validate.js'
import type {
  BodyFailure, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput, VerifyResult
} from './provider.js'
import { checkBodyLimit, checkOptionsObject, checkSecret, invalid } from './checks.js'
import { contentTypeFor, decodeBase64, matchingSecret, eitherHeader, fail, failureOf, hmacDigest, keyCache, replayKey, signingSecret, utf8Key } from './util.js'

/** Options of `providers.shopify()`. */
export interface ShopifyOptions {
  /** The app's client secret(s), a list (after a rotation Shopify may sign with the old one for about an hour), or a resolver. */
  secret: SecretOption
  /**
   * Which header is the event id. `'webhook-id'` (`X-Shopify-Webhook-Id`) is
   * per delivery and stable across its retries; `'event-id'`
   * (`X-Shopify-Event-Id`) is shared by every delivery one merchant action
   * causes, possibly across topics. @defaultValue `'webhook-id'`
   */
  idFrom?: 'webhook-id' | 'event-id'
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
}

/** Extra `sign()` options: the topic and shop Shopify would send. */
export interface ShopifySignOptions extends SignOptions {
  /** `X-Shopify-Topic`. @defaultValue `'orders/create'` */
  topic?: string
  /** `X-Shopify-Shop-Domain`. @defaultValue `'example.myshopify.com'` */
  shopDomain?: string
  /** `X-Shopify-Event-Id`. @defaultValue a random UUID */
  eventId?: string
}

/** The Shopify provider: `sign()` also takes the `topic`, `shopDomain` and `eventId`. */
export interface ShopifyProvider extends Provider {
  sign: (body: string | Buffer, options?: ShopifySignOptions) => Record<string, string>
}

/** Shopify retries 8 times over 4 hours and waits 5 s; dedupe for 24 h. */
export const SHOPIFY_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 4 * 3_600_000,
  suggestedDedupeTtlMs: 24 * 3_600_000,
  responseDeadlineMs: 5_000
})

const KNOWN = ['secret', 'idFrom', 'bodyLimit'] as const
const SIGNATURE_BYTES = 32
// Every Shopify header comes in both families: the `X-` one and the newer unprefixed one.
const both = (name: string): readonly [string, string] => [`x-shopify-${name}`, `shopify-${name}`]
const HMAC = both('hmac-sha256')
const TOPIC = both('topic')
const ID_HEADERS = { 'webhook-id': both('webhook-id'), 'event-id': both('event-id') } as const
const EVENT_HEADERS = ['topic', 'shop-domain', 'webhook-id', 'event-id', 'triggered-at', 'api-version'].flatMap(both)

/** Creates the Shopify provider. */
export function shopify (options: ShopifyOptions): ShopifyProvider {
  const o = checkOptionsObject<ShopifyOptions>('shopify', options, KNOWN)
  const secret = checkSecret('shopify', o.secret)
  const idFrom = o.idFrom ?? 'webhook-id'
  const problem = checkOneOf('shopify.idFrom', idFrom, ['webhook-id', 'event-id'])
  invalid.failIf(problem)
  const bodyLimit = checkBodyLimit('shopify', o.bodyLimit)
  const idHeaders = ID_HEADERS[idFrom]
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders): { ok: true, received: Buffer } | VerifyFailure {
    const header = eitherHeader(headers, HMAC)
    if (!header.ok) return header
    const received = decodeBase64(header.value, SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte base64')
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
    const id = eitherHeader(req.headers, idHeaders)
    if (!id.ok) return { ok: false, reason: 'missing_id', detail: idHeaders[0] }
    const topic = eitherHeader(req.headers, TOPIC)
    const type = topic.ok ? topic.value : ''
    // None of Shopify's headers is signed: the replay key, from the signed body
    // alone, catches a capture resent with a fresh id or any header changed.
    return { ok: true, id: id.value, type, replayKey: replayKey('shopify', [req.rawBody]) }
  }

  function sign (body: string | Buffer, options: ShopifySignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('shopify', secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.shopify: sign() needs a non-empty secret')
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    return {
      'content-type': contentTypeFor(options.contentType, 'json'),
      'user-agent': 'Shopify-Captain-Hook',
      'x-shopify-topic': options.topic ?? 'orders/create',
      'x-shopify-shop-domain': options.shopDomain ?? 'example.myshopify.com',
      'x-shopify-webhook-id': options.id ?? randomUUID(),
      'x-shopify-event-id': options.eventId ?? randomUUID(),
      'x-shopify-triggered-at': new Date((options.timestampSec ?? Date.now() / 1000) * 1000).toISOString(),
      'x-shopify-api-version': '2025-01',
      'x-shopify-hmac-sha256': hmacDigest('sha256', key, [bytes]).toString('base64')
    }
  }

  return {
    name: 'shopify',
    secret,
    contentTypes: Object.freeze(['json'] as const),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    eventHeaders: Object.freeze(EVENT_HEADERS),
    delivery: SHOPIFY_DELIVERY,
    checkHeaders: (headers) => failureOf(readHeaders(headers)),
    verify,
    toEvent,
    sign
  }
}
