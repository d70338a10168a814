import type { Test } from 'tap'
import { randomBytes, randomInt } from 'node:crypto'
import type { IncomingHeaders, Provider, RequestTarget, VerifyFailure, VerifyResult } from '../../providers/provider.js'

const PIECES = ['', ' ', ',', '=', '.', ':', 'v1', 'v0', 'v1,', 't=', 'sha256=', 'whsec_', '==', '\u0000', '\uFFFD', '\uD800', '1e9', '-1',
  '0x1f', '1614265330', '99999999999999999999', 'NaN', 'Infinity', '%00', 'A'.repeat(300), '\r\n', 'v0=', 'v1=', 'sha1=', 'ÿ']

/** A random hostile string: pieces, random bytes as latin1, or valid-looking fragments. */
export function hostileString (): string {
  const n = randomInt(0, 6)
  let s = ''
  for (let i = 0; i < n; i++) {
    s += randomInt(0, 3) === 0 ? randomBytes(randomInt(0, 40)).toString(randomInt(0, 2) === 0 ? 'latin1' : 'base64') : PIECES[randomInt(0, PIECES.length)]
  }
  return s
}

/** Random headers over the given names: missing, a string, an array, odd casing. */
export function hostileHeaders (names: readonly string[]): IncomingHeaders {
  const headers: IncomingHeaders = {}
  for (const name of names) {
    const pick = randomInt(0, 6)
    if (pick === 0) continue
    if (pick === 1) headers[name] = [hostileString(), hostileString()].slice(0, randomInt(0, 3))
    else if (pick === 2) headers[name.toUpperCase()] = hostileString()
    else headers[name] = hostileString()
  }
  return headers
}

/**
 * Runs `count` random requests through `verify` and `toEvent`; returns the
 * reasons seen. Throws if anything throws. `target` is the request line, for
 * schemes that sign the URL.
 */
export function fuzz (provider: Provider, names: readonly string[], count: number, valid?: () => IncomingHeaders, target?: RequestTarget): Map<string, number> {
  const reasons = new Map<string, number>()
  for (let i = 0; i < count; i++) {
    const base = valid !== undefined && randomInt(0, 2) === 0 ? valid() : {}
    const headers = { ...base, ...hostileHeaders(names.filter(() => randomInt(0, 2) === 0)) }
    const rawBody = randomInt(0, 4) === 0 ? Buffer.alloc(0) : randomBytes(randomInt(0, 200))
    const nowMs = Date.now()
    const result = provider.verify({ headers, rawBody, ...(target === undefined ? {} : { target }) }, ['s3cret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], nowMs)
    checkAgreement(provider.checkHeaders?.(headers, nowMs), result, provider.checkHeaders !== undefined)
    const key = result.ok ? 'ok' : result.reason
    reasons.set(key, (reasons.get(key) ?? 0) + 1)
    for (const value of [{}, { id: hostileString(), type: 7, event_id: 3.5, payload: hostileString() }]) {
      provider.toEvent({ kind: 'json', value }, { headers, rawBody }, { ok: true, secretIndex: 0 })
      provider.respond?.({ kind: 'form', value }, { headers, rawBody })
      provider.respond?.({ kind: 'json', value }, { headers, rawBody }, 's3cret')
    }
    provider.toEvent({ kind: 'json', value: {}, items: [{ id: hostileString() }, hostileString(), null, 7, []] }, { headers, rawBody }, { ok: true, secretIndex: 0 })
    provider.challenge?.({ headers, query: hostileString() })
  }
  return reasons
}

/**
 * The pre-check and `verify` agree: a header failure is exactly what `verify`
 * answers for any body, and headers that pass leave only the signature
 * comparison (`no_match` without a detail) to fail.
 */
function checkAgreement (pre: VerifyFailure | undefined, result: VerifyResult, defined: boolean): void {
  if (!defined) return
  const agrees = pre === undefined
    ? result.ok || (result.reason === 'no_match' && result.detail === undefined)
    : !result.ok && result.reason === pre.reason && result.detail === pre.detail
  if (!agrees) throw new Error(`checkHeaders ${JSON.stringify(pre)} disagrees with verify ${JSON.stringify(result)}`)
}

/** A secrets list whose index reads are counted: proves every secret is tried. */
export function countingSecrets (secrets: string[]): { secrets: readonly string[], reads: Set<number> } {
  const reads = new Set<number>()
  const proxy = new Proxy(secrets, {
    get (target, prop, receiver) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) reads.add(Number(prop))
      return Reflect.get(target, prop, receiver)
    }
  })
  return { secrets: proxy, reads }
}

/** Asserts `fn` throws the coded option `TypeError` with a message matching `message`. */
export function throwsOption (t: Test, fn: () => unknown, message: RegExp, name?: string): void {
  try {
    fn()
    t.fail(`${name ?? 'options'}: expected a throw`)
  } catch (err) {
    t.ok(err instanceof TypeError, `${name ?? ''} is a TypeError`)
    t.match(err, { code: 'WEBHOOK_PROVIDER_INVALID_OPTION', message }, name ?? 'coded')
  }
}
