import { PLUGIN_DEFAULTS } from '../plugin/resolve-options.js'
import type { Provider, SignOptions } from '../providers/provider.js'

/** The sign options a provider's `sign()` takes (a preset's own extras included). */
export type SignOptionsOf<P extends Provider> = NonNullable<Parameters<P['sign']>[1]>

/** Options of {@link signedRequest}: the provider's sign options, and where to send. */
export type SignedRequestOptions<P extends Provider = Provider> = SignOptionsOf<P> & {
  /** The URL to post to. @defaultValue the plugin's default `path`, `'/v1/events'` */
  url?: string
  /** Headers to add to (or override in) the signed ones, e.g. a tenant header. @defaultValue `{}` */
  headers?: Record<string, string>
}

/** A signed delivery in the shape of Fastify's `inject` options (and close to `fetch`'s). */
export interface SignedRequest {
  method: 'POST'
  url: string
  /** The headers the provider's sender sends, `content-type` included. */
  headers: Record<string, string>
  /** The exact bytes that were signed. */
  payload: Buffer
}

/**
 * A delivery signed as the provider's sender signs it, ready for
 * `app.inject()`. `payload` is sent as it is when it is a string or bytes;
 * anything else is serialized: as a form (each value a string, or JSON for
 * objects) when the request's content kind is `form`, as JSON otherwise. The
 * signature covers exactly the bytes in `payload`, so the route verifies it.
 *
 * @example
 * const provider = providers.stripe({ secret: 'whsec_test' })
 * const res = await app.inject(signedRequest(provider, { id: 'evt_1', type: 'invoice.paid' }))
 * // res.statusCode === 202
 */
export function signedRequest<P extends Provider> (provider: P, payload: unknown, options?: SignedRequestOptions<P>): SignedRequest {
  const { url, headers, ...signOptions } = (options ?? {}) as SignedRequestOptions & Record<string, unknown>
  const body = bodyOf(payload, isForm(provider, signOptions as SignOptions))
  const merged = { ...provider.sign(body, signOptions as SignOptions) }
  for (const [name, value] of Object.entries(headers ?? {})) merged[name.toLowerCase()] = value
  return { method: 'POST', url: url ?? PLUGIN_DEFAULTS.path, headers: merged, payload: body }
}

// `sign()` picks the provider's first accepted kind when no content type is given.
function isForm (provider: Provider, options: SignOptions): boolean {
  const given = options.contentType
  if (given === undefined) return provider.contentTypes[0] === 'form'
  return given === 'form' || /^application\/x-www-form-urlencoded\b/i.test(given)
}

function bodyOf (payload: unknown, form: boolean): Buffer {
  if (Buffer.isBuffer(payload)) return payload
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8')
  if (form && typeof payload === 'object' && payload !== null) {
    const fields = new URLSearchParams()
    for (const [key, value] of Object.entries(payload)) fields.append(key, typeof value === 'string' ? value : JSON.stringify(value))
    return Buffer.from(fields.toString(), 'utf8')
  }
  const json = JSON.stringify(payload)
  if (json === undefined) throw new TypeError(`signedRequest: cannot serialize a payload of type ${typeof payload}`)
  return Buffer.from(json, 'utf8')
}
