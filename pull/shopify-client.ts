/**
 * How the Shopify helpers reach the REST Admin API: through the user's
 * `@shopify/admin-api-client` REST client, or through plain `fetch` with a
 * shop, a token and an API version, so users without the SDK need nothing.
 * Both are seen through one small structural interface.
 */
import { WebhookErrors } from '../core/errors.js'
import { SOURCE_PATTERN } from '../core/event.js'
import { checkFunction, checkString, expected, unknownKeys } from '../core/validate.js'
import type { OptionValidator } from '../core/option-validator.js'
import { mapApiFailure, type ApiFailure, type FailurePolicy } from './common.js'

/** A response as the helpers read it: `fetch`'s `Response` and the SDK's both fit. */
export interface ShopifyResponse {
  status: number
  headers: { get: (name: string) => string | null }
  json: () => Promise<unknown>
}

/**
 * The one call the helpers make: `get(path, { searchParams })`, where `path`
 * is relative to `/admin/api/{version}/` and has no `.json` (`'orders/450789469'`).
 * `createAdminRestApiClient(…)` of `@shopify/admin-api-client` is one.
 */
export interface ShopifyRestClient {
  get: (path: string, options?: { searchParams?: Record<string, string | number> }) => Promise<ShopifyResponse>
}

/** Reaching the Admin API without the SDK: `fetch` with the shop's token. */
export interface ShopifyFetchConfig {
  /** The shop's domain, `example.myshopify.com`. */
  shop: string
  /** The Admin API access token (`shpat_…`), sent as `X-Shopify-Access-Token`. */
  accessToken: string
  /** The API version, `2025-01`. */
  apiVersion: string
  /** A `fetch` to use instead of the global one. @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch
  /** The API's origin, for a proxy or a local fake. @defaultValue `https://{shop}` */
  baseUrl?: string
}

/** The keys of {@link ShopifyFetchConfig}, accepted at the top level of the helpers' options. */
export const FETCH_KEYS = ['shop', 'accessToken', 'apiVersion', 'fetch', 'baseUrl'] as const

/** The failure policy: Shopify's 429 carries `Retry-After` in seconds (`2.0`); its call-limit header is informational. */
const POLICY: FailurePolicy = { provider: 'Shopify', defaultPauseMs: 2000 }

/**
 * The client the options name: the user's `client`, or a `fetch` client
 * built from the credentials. `shop` is the shop's domain when known.
 */
export function resolveClient (fn: string, o: Partial<ShopifyFetchConfig> & { client?: unknown }, invalid: OptionValidator): { client: ShopifyRestClient, shop: string | undefined } {
  const check = (problem: string | undefined): void => { if (problem !== undefined) invalid.fail(`${fn}: ${problem}`) }
  const credentials = FETCH_KEYS.filter((k) => o[k] !== undefined)
  if (o.shop !== undefined) check(checkString('shop', o.shop, /^[a-z0-9][a-z0-9.-]*(:\d+)?$/i, 'a shop domain such as `example.myshopify.com`'))
  if (o.client !== undefined) {
    const client = o.client as { get?: unknown }
    if (typeof client !== 'object' || client === null) check(expected('client', 'a REST client with get()', client))
    check(checkFunction('client.get', client.get))
    const extra = credentials.filter((k) => k !== 'shop')
    if (extra.length > 0) invalid.fail(`${fn}: pass either \`client\` or the credentials (shop, accessToken, apiVersion), not both (got ${extra.join(', ')})`)
    return { client: o.client as ShopifyRestClient, shop: o.shop }
  }
  if (o.shop === undefined) invalid.fail(`${fn}: needs a \`client\` (createAdminRestApiClient(…)), or \`shop\`, \`accessToken\` and \`apiVersion\``)
  check(checkString('accessToken', o.accessToken))
  check(checkString('apiVersion', o.apiVersion, /^(\d{4}-\d{2}|unstable)$/, 'an API version such as `2025-01`'))
  if (o.fetch !== undefined) check(checkFunction('fetch', o.fetch))
  if (o.baseUrl !== undefined) check(checkString('baseUrl', o.baseUrl, /^https?:\/\/[^/?#]+\/?$/, 'an origin such as `https://example.myshopify.com`'))
  return { client: fetchClient(o as ShopifyFetchConfig), shop: o.shop }
}

/** A {@link ShopifyRestClient} over `fetch`, the paths formed as the SDK forms them. */
function fetchClient (config: ShopifyFetchConfig): ShopifyRestClient {
  const origin = (config.baseUrl ?? `https://${config.shop}`).replace(/\/$/, '')
  const doFetch = config.fetch ?? globalThis.fetch
  return {
    async get (path, options = {}) {
      const url = new URL(`${origin}/admin/api/${config.apiVersion}/${path}.json`)
      for (const [k, v] of Object.entries(options.searchParams ?? {})) url.searchParams.set(k, String(v))
      const signal = (options as { signal?: AbortSignal }).signal
      return await doFetch(url, {
        headers: { accept: 'application/json', 'x-shopify-access-token': config.accessToken },
        ...(signal === undefined ? {} : { signal })
      })
    }
  }
}

/** A successful answer: its JSON body and the provider's clock (`Date`), or `'gone'` for a 404 or 410. */
export type ShopifyAnswer = { body: Record<string, unknown>, serverNow: number, headers: ShopifyResponse['headers'] } | 'gone'

/**
 * One GET, its failures mapped: 402 (shop frozen for an unpaid bill) and 423
 * (shop locked) are retried as unavailable, since they last until the
 * merchant acts and the request itself is right; the rest as `mapApiFailure`
 * maps them (401/403 permanent, 429 paused by `Retry-After`).
 */
export async function shopifyGet (client: ShopifyRestClient, path: string, searchParams: Record<string, string | number> | undefined, signal: AbortSignal): Promise<ShopifyAnswer> {
  const what = `GET ${path}`
  let response: ShopifyResponse
  try {
    // `signal` is for the fetch client; the SDK ignores options it does not know.
    response = await client.get(path, { ...(searchParams === undefined ? {} : { searchParams }), signal } as { searchParams?: Record<string, string | number> })
  } catch (err) {
    signal.throwIfAborted()
    throw asError(mapApiFailure(POLICY, what, { status: undefined, header: () => undefined, cause: err }))
  }
  const header = (name: string): string | undefined => response.headers.get(name) ?? undefined
  if (response.status >= 200 && response.status < 300) {
    const body = await response.json()
    if (typeof body !== 'object' || body === null) throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`Shopify answered ${what} with a body that is not a JSON object`)
    const date = Date.parse(header('date') ?? '')
    return { body: body as Record<string, unknown>, serverNow: Number.isNaN(date) ? Date.now() : date, headers: response.headers }
  }
  const failure: ApiFailure = { status: response.status, header, cause: await errorBody(response) }
  if (response.status === 402 || response.status === 423) {
    throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`Shopify answered ${response.status} to ${what}: the shop is ${response.status === 402 ? 'frozen (unpaid)' : 'locked'}; retried until it is back`, { cause: failure.cause })
  }
  const mapped = mapApiFailure(POLICY, what, failure)
  if (mapped === 'gone') return 'gone'
  throw mapped
}

function asError (mapped: 'gone' | Error): Error {
  return mapped === 'gone' ? new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE('Shopify gave no answer') : mapped
}

// Shopify's `{ errors: … }`, kept as the cause so a dead letter shows why.
async function errorBody (response: ShopifyResponse): Promise<unknown> {
  try {
    return { status: response.status, body: await response.json() }
  } catch {
    return { status: response.status }
  }
}

/** The `page_info` of the `Link` header's `rel="next"` URL, or `undefined` on the last page. */
export function nextPageInfo (link: string | null): string | undefined {
  if (link === null) return undefined
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part)
    if (m !== null) return new URL(m[1]!).searchParams.get('page_info') ?? undefined
  }
  return undefined
}

/** The options object, refusing unknown keys. */
export function checkOptions<T extends object> (fn: string, options: unknown, known: readonly string[], invalid: OptionValidator): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) invalid.fail(`${fn}: ${expected('options', 'an object', options)}`)
  const unknown = unknownKeys(options, known)
  if (unknown.length > 0) invalid.fail(`${fn}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `\`${k}\``).join(', ')} (known: ${known.join(', ')})`)
  return options as T
}

/** The `source` option, `'shopify'` by default. */
export function checkSource (fn: string, source: unknown, invalid: OptionValidator): string {
  if (source === undefined) return 'shopify'
  const problem = checkString('source', source, SOURCE_PATTERN)
  if (problem !== undefined) invalid.fail(`${fn}: ${problem}`)
  return source as string
}
