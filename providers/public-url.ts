/**
 * The public URL a sender called, for schemes that sign it (Twilio, Square,
 * HubSpot). Behind a proxy the URL the app sees is not the one the sender
 * used, and the `Host` header alone proves nothing: the URL comes from the
 * preset's option, or from the forwarded headers when the app trusts its
 * proxy, or verification refuses with `no_public_url`.
 */
import { WebhookErrors } from '../core/errors.js'
import { expected } from '../core/validate.js'
import { invalid } from './checks.js'
import type { RequestTarget, VerifyFailure } from './provider.js'
import { fail } from './util.js'

/**
 * Where the public URL comes from: a string, or a function of the request
 * (per-tenant hosts, a path a proxy rewrites) returning the full URL.
 */
export type PublicUrlOption = string | ((target: RequestTarget) => string)

/**
 * How a string option is read: `base` is the public origin (and any path
 * prefix a proxy strips), to which the path and query as received are
 * appended; `exact` is the whole URL, as the sender's console shows it.
 */
export type PublicUrlMode = 'base' | 'exact'

/** The resolved URL, or why there is none. */
export type PublicUrlResult = { ok: true, url: string } | VerifyFailure

/** Checks a public URL option at creation; a string must be an absolute http(s) URL. */
export function checkPublicUrl (name: string, value: unknown, mode: PublicUrlMode): PublicUrlOption | undefined {
  if (value === undefined || typeof value === 'function') return value as PublicUrlOption | undefined
  const what = mode === 'base'
    ? 'an absolute http(s) URL without a query (the public origin, and any path prefix a proxy strips), or a function of the request'
    : 'an absolute http(s) URL (exactly as the sender\'s console shows it), or a function of the request'
  if (typeof value !== 'string') return invalid.fail(expected(name, what, value))
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return invalid.fail(expected(name, what, value))
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || (mode === 'base' && (url.search !== '' || url.hash !== '' || value.includes('?')))) {
    return invalid.fail(expected(name, what, value))
  }
  // A base ends where the received path begins: one slash between them.
  return mode === 'base' ? value.replace(/\/+$/, '') : value
}

const HINT = 'set the preset\'s `publicUrl` to the URL the sender calls, or Fastify\'s `trustProxy` behind a proxy that sets X-Forwarded-Proto and X-Forwarded-Host'

/**
 * The URL the sender signed. Never throws: a function that throws or returns
 * a non-URL refuses the request, as no URL can be trusted then.
 */
export function publicUrlOf (option: PublicUrlOption | undefined, target: RequestTarget | undefined, mode: PublicUrlMode): PublicUrlResult {
  if (typeof option === 'string' && mode === 'exact') return { ok: true, url: option }
  if (target === undefined) return fail('no_public_url', 'no request target: verify was called outside the route')
  if (typeof option === 'string') return { ok: true, url: option + target.url }
  if (typeof option === 'function') {
    let url: unknown
    try {
      url = option(target)
    } catch (err) {
      return fail('no_public_url', `publicUrl threw: ${err instanceof Error ? err.message : String(err)}`)
    }
    return typeof url === 'string' && /^https?:\/\/[^/?#]/i.test(url) ? { ok: true, url } : fail('no_public_url', 'publicUrl returned no absolute http(s) URL')
  }
  let origin: string | undefined
  try {
    origin = target.origin
  } catch {
    origin = undefined
  }
  if (origin === undefined || !/^https?:\/\/[^/?#]+$/i.test(origin)) return fail('no_public_url', HINT)
  return { ok: true, url: origin + target.url }
}

/**
 * The URL without its port and with the scheme's default port: senders
 * differ on whether `:443` is part of what they sign, and Twilio's own
 * library accepts either form (a URL it cannot split is tried as it is).
 */
export function portVariants (url: string): string[] {
  const m = /^(https?:\/\/)([^/?#]*@)?(\[[^\]]*\]|[^/?#:]*)(:\d*)?(.*)$/is.exec(url)
  if (m === null) return [url]
  const [, scheme, user = '', host, port, rest] = m
  const without = `${scheme}${user}${host}${rest}`
  const withPort = port === undefined ? `${scheme}${user}${host}${scheme.toLowerCase() === 'https://' ? ':443' : ':80'}${rest}` : url
  return without === withPort ? [url] : [without, withPort]
}

/**
 * For `sign()`: the URL `verify` would check for a request posted to `url`,
 * as if a trusted proxy forwarded its origin. `undefined` when no URL can be
 * derived (no `url` given and no exact string option).
 */
export function signedUrlOf (option: PublicUrlOption | undefined, url: string | undefined, mode: PublicUrlMode): string | undefined {
  if (typeof option === 'string' && mode === 'exact') return option
  if (url === undefined) return undefined
  const m = /^(https?:\/\/[^/?#]+)([^#]*)/i.exec(url)
  if (m === null) throw new WebhookErrors.WEBHOOK_PROVIDER_BAD_SIGN_OPTIONS(`Expected an absolute http(s) URL to sign, got '${url}'`)
  const resolved = publicUrlOf(option, { method: 'POST', url: m[2] === '' ? '/' : m[2], origin: m[1] }, mode)
  return resolved.ok ? resolved.url : undefined
}
