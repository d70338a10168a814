/**
 * The generic HMAC scheme: one signature header over the raw body (optionally
 * `{timestamp}.{body}`), for in-house senders and providers without a preset.
 */
import { randomUUID } from 'node:crypto'
import { WebhookErrors } from '../core/errors.js'
import { checkOneOf, checkString, expected } from '../core/validate.js'
import type {
  BodyFailure, ContentKind, DeliveryFacts, EventFields, IncomingHeaders, ParsedBody, Provider, ProviderRequest, SecretOption, SignOptions, VerifyFailure, VerifyInput,
  VerifyResult
} from './provider.js'
import {
  checkBodyLimit, checkContentTypes, checkDelivery, checkEventHeaders, checkHeaderName, checkOptionsObject, checkSecret, checkTolerance,
  invalid
} from './checks.js'
import {
  checkWindow, contentTypeFor, decodeBase64, decodeHex, matchingSecret, fail, failureOf, hmacDigest, idFromValue, keyCache, nowSec, optionalHeader,
  parseTimestampSec, replayKey, signingSecret, singleHeader, typeFromValue, utf8Key
} from './util.js'

/** Options of `providers.hmac()`. */
export interface HmacOptions {
  /** The shared secret(s): a string, a list (rotation), or a resolver. Used as UTF-8 bytes. */
  secret: SecretOption
  /** The provider name in logs and metrics. @defaultValue `'hmac'` */
  name?: string
  /** The signature header (lower-case). @defaultValue `'x-provider-signature'` */
  header?: string
  /** The HMAC hash. @defaultValue `'sha256'` */
  algorithm?: 'sha256' | 'sha1' | 'sha512'
  /** How the signature is encoded. @defaultValue `'base64'` */
  encoding?: 'base64' | 'hex'
  /** Text before the encoded signature, e.g. `'sha256='`. @defaultValue `''` */
  signaturePrefix?: string
  /** The body field holding the event id (a number becomes its decimal string). Ignored when `idHeader` is set. @defaultValue `'event_id'` */
  idField?: string
  /**
   * A header holding the event id instead of a body field. Such an id is not
   * signed, so events also carry a `replayKey`. @defaultValue `undefined`
   */
  idHeader?: string
  /** The body field holding the event type. Ignored when `typeHeader` is set. @defaultValue `'type'` */
  typeField?: string
  /** A header holding the event type (unsigned: never trust it for authorization). @defaultValue `undefined` */
  typeHeader?: string
  /** A header holding the send time in Unix seconds; checked against `toleranceMs` both ways. @defaultValue `undefined` */
  timestampHeader?: string
  /** How far the timestamp may be from now, either way. @defaultValue `300000` */
  toleranceMs?: number
  /**
   * What is signed. `'{timestamp}.{body}'` needs `timestampHeader`.
   * @defaultValue `'{timestamp}.{body}'` with a `timestampHeader`, else `'{body}'`
   */
  signedContent?: '{body}' | '{timestamp}.{body}'
  /** Accepted body encodings. @defaultValue `['json']` */
  contentTypes?: ContentKind[]
  /** Headers copied into the event (never the signature header). @defaultValue the id, type and timestamp headers that are set */
  eventHeaders?: string[]
  /** A body limit in bytes overriding the plugin's. @defaultValue `undefined` (the plugin's) */
  bodyLimit?: number
  /** Facts about your sender, for sizing the dedupe TTL. @defaultValue {@link HMAC_DELIVERY} */
  delivery?: DeliveryFacts
}

/** Extra `sign()` options of the generic scheme. */
export interface HmacSignOptions extends SignOptions {
  /** The type to send in `typeHeader`, when set. @defaultValue `'test.event'` */
  type?: string
}

/** The generic provider: `sign()` also takes a `type` for `typeHeader`. */
export interface HmacProvider extends Provider {
  sign: (body: string | Buffer, options?: HmacSignOptions) => Record<string, string>
}

/**
 * An unknown sender's delivery facts: the package's conservative defaults
 * (the worker's 14-day dedupe). Pass `delivery` with your sender's real ones.
 */
export const HMAC_DELIVERY: DeliveryFacts = Object.freeze({
  retriesForMs: 14 * 86_400_000,
  suggestedDedupeTtlMs: 14 * 86_400_000,
  responseDeadlineMs: 10_000
})

/** Defaults of `providers.hmac()`. */
export const HMAC_DEFAULTS = Object.freeze({
  name: 'hmac',
  header: 'x-provider-signature',
  algorithm: 'sha256',
  encoding: 'base64',
  signaturePrefix: '',
  idField: 'event_id',
  typeField: 'type',
  contentTypes: Object.freeze(['json']) as readonly ContentKind[]
} as const)

const KNOWN = ['secret', 'name', 'header', 'algorithm', 'encoding', 'signaturePrefix', 'idField', 'idHeader', 'typeField', 'typeHeader',
  'timestampHeader', 'toleranceMs', 'signedContent', 'contentTypes', 'eventHeaders', 'bodyLimit', 'delivery'] as const
const DIGEST_BYTES = { sha1: 20, sha256: 32, sha512: 64 } as const
interface HmacHeaders { ok: true, timestamp: string | undefined, timestampSec: number | undefined, received: Buffer }

type Resolved = Required<Omit<HmacOptions, 'idHeader' | 'typeHeader' | 'timestampHeader' | 'bodyLimit'>> & Pick<HmacOptions, 'idHeader' | 'typeHeader' | 'timestampHeader' | 'bodyLimit'>

/** Validates `providers.hmac()` options and applies the defaults; throws a coded `TypeError`. */
export function validateHmacOptions (options: HmacOptions): Resolved {
  const o = checkOptionsObject<HmacOptions>('hmac', options, KNOWN)
  const r = { ...HMAC_DEFAULTS, ...definedOnly(o) }
  const problem = checkString('hmac.name', r.name) ??
    checkOneOf('hmac.algorithm', r.algorithm, ['sha256', 'sha1', 'sha512']) ??
    checkOneOf('hmac.encoding', r.encoding, ['base64', 'hex']) ??
    (typeof r.signaturePrefix === 'string' ? undefined : expected('hmac.signaturePrefix', 'a string', r.signaturePrefix)) ??
    checkString('hmac.idField', r.idField) ??
    checkString('hmac.typeField', r.typeField)
  invalid.failIf(problem)
  const header = checkHeaderName('hmac.header', r.header)
  const optionalName = (name: string, v: unknown): string | undefined => v === undefined ? undefined : checkHeaderName(`hmac.${name}`, v)
  const idHeader = optionalName('idHeader', o.idHeader)
  const typeHeader = optionalName('typeHeader', o.typeHeader)
  const timestampHeader = optionalName('timestampHeader', o.timestampHeader)
  const signedContent = o.signedContent ?? (timestampHeader === undefined ? '{body}' : '{timestamp}.{body}')
  const contentProblem = checkOneOf('hmac.signedContent', signedContent, ['{body}', '{timestamp}.{body}'])
  invalid.failIf(contentProblem)
  if (signedContent === '{timestamp}.{body}' && timestampHeader === undefined) {
    invalid.fail(expected('hmac.timestampHeader', "a header name when `signedContent` is '{timestamp}.{body}'", undefined))
  }
  const eventHeaders = o.eventHeaders ?? [idHeader, typeHeader, timestampHeader].filter((h): h is string => h !== undefined)
  return {
    ...r,
    secret: checkSecret('hmac', o.secret),
    header,
    idHeader,
    typeHeader,
    timestampHeader,
    toleranceMs: checkTolerance('hmac', o.toleranceMs),
    signedContent,
    contentTypes: checkContentTypes('hmac', r.contentTypes) as ContentKind[],
    eventHeaders: checkEventHeaders('hmac', eventHeaders, [header]) as string[],
    bodyLimit: checkBodyLimit('hmac', o.bodyLimit),
    delivery: checkDelivery('hmac', o.delivery ?? HMAC_DELIVERY)
  }
}

/** Creates the generic HMAC provider. */
export function hmac (options: HmacOptions): HmacProvider {
  const o = validateHmacOptions(options)
  const digestBytes = DIGEST_BYTES[o.algorithm]
  const decode = o.encoding === 'hex' ? decodeHex : decodeBase64
  const keyFor = keyCache(utf8Key)
  const signsTimestamp = o.signedContent === '{timestamp}.{body}'

  // What the HMAC covers, in order: `verify` checks it and the replay key digests it.
  function signedParts (timestamp: string | undefined, rawBody: Buffer): Array<string | Buffer> {
    return signsTimestamp ? [`${timestamp ?? ''}.`, rawBody] : [rawBody]
  }

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): HmacHeaders | VerifyFailure {
    const sig = singleHeader(headers, o.header)
    if (!sig.ok) return sig
    if (!sig.value.startsWith(o.signaturePrefix)) return fail('malformed_header', `${o.header} lacks its prefix`)
    let timestamp: string | undefined
    let timestampSec: number | undefined
    if (o.timestampHeader !== undefined) {
      const ts = singleHeader(headers, o.timestampHeader)
      if (!ts.ok) return ts
      timestampSec = parseTimestampSec(ts.value)
      if (timestampSec === undefined) return fail('malformed_header', `${o.timestampHeader} is not integer seconds`)
      const outside = checkWindow(timestampSec, nowMs, o.toleranceMs)
      if (outside !== undefined) return outside
      timestamp = ts.value
    }
    const received = decode(sig.value.slice(o.signaturePrefix.length), digestBytes)
    if (received === undefined) return fail('no_match', `signature is not ${digestBytes}-byte ${o.encoding}`)
    return { ok: true, timestamp, timestampSec, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const matched = matchingSecret(secrets, keyFor, o.algorithm, signedParts(read.timestamp, rawBody), [read.received])
    if (matched === -1) return fail('no_match')
    return read.timestampSec === undefined ? { ok: true, secretIndex: matched } : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  function toEvent (parsed: ParsedBody, req: ProviderRequest): EventFields | BodyFailure {
    const id = o.idHeader === undefined ? idFromValue(parsed.value[o.idField]) : optionalHeader(req.headers, o.idHeader)
    if (id === undefined) return { ok: false, reason: 'missing_id', detail: o.idHeader ?? o.idField }
    const type = o.typeHeader === undefined ? typeFromValue(parsed.value[o.typeField]) : (optionalHeader(req.headers, o.typeHeader) ?? '')
    if (o.idHeader === undefined) return { ok: true, id, type }
    // A header id is not signed: the replay key, from the signed bytes alone, catches a capture resent with it changed.
    const timestamp = o.timestampHeader === undefined ? undefined : optionalHeader(req.headers, o.timestampHeader)
    return { ok: true, id, type, replayKey: replayKey(o.name, signedParts(timestamp, req.rawBody)) }
  }

  function sign (body: string | Buffer, options: HmacSignOptions = {}): Record<string, string> {
    const key = keyFor(signingSecret('hmac', o.secret, options.secret))
    if (key === undefined) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGNING_SECRET('providers.hmac: sign() needs a non-empty secret')
    const headers: Record<string, string> = { 'content-type': contentTypeFor(options.contentType, o.contentTypes[0]) }
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    let parts: Array<string | Buffer> = [bytes]
    if (o.timestampHeader !== undefined) {
      const ts = String(options.timestampSec ?? nowSec())
      headers[o.timestampHeader] = ts
      if (signsTimestamp) parts = [`${ts}.`, bytes]
    }
    if (o.idHeader !== undefined) headers[o.idHeader] = options.id ?? randomUUID()
    if (o.typeHeader !== undefined) headers[o.typeHeader] = options.type ?? 'test.event'
    headers[o.header] = o.signaturePrefix + hmacDigest(o.algorithm, key, parts).toString(o.encoding)
    return headers
  }

  return {
    name: o.name,
    secret: o.secret,
    contentTypes: o.contentTypes,
    ...(o.bodyLimit === undefined ? {} : { bodyLimit: o.bodyLimit }),
    eventHeaders: o.eventHeaders,
    delivery: o.delivery,
    checkHeaders: (headers, nowMs) => failureOf(readHeaders(headers, nowMs)),
    verify,
    toEvent,
    sign
  }
}

function definedOnly<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
