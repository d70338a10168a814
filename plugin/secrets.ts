import type { Provider, SecretContext, SecretOption, SecretResolver } from './provider.js'
import { isSecretList, unusableSecret } from './provider-check.js'

/**
 * Why the secrets for a request could not be had. Each gives 503: the sender
 * retries, nothing is rejected for our fault. `secret_unusable`: the resolver
 * returned a secret the provider's `secretProblem` refuses.
 */
export type SecretFailureReason = 'secret_resolver_failed' | 'secret_resolver_timeout' | 'secret_resolver_invalid' | 'secret_unusable'

export type SecretOutcome =
  | { ok: true, secrets: readonly string[] }
  | { ok: false, reason: SecretFailureReason, cause?: unknown }

export interface SecretSourceOptions {
  cacheMs: number
  timeoutMs: number
  cacheKey: (ctx: SecretContext) => string
  /** Whose `secretProblem` judges each resolved secret. */
  provider?: Pick<Provider, 'secretProblem'>
}

/** Gives the secrets for a request. */
export type SecretSource = (ctx: SecretContext) => SecretOutcome | Promise<SecretOutcome>

// Per-tenant keys come from the request: bound the cache so a flood of made-up
// tenants cannot grow it without limit.
const MAX_CACHE_ENTRIES = 10_000

/** The constant outcome of a static secret or list; `undefined` for a resolver, which needs the request's context. */
export function staticSecretOutcome (secret: SecretOption): SecretOutcome | undefined {
  if (typeof secret === 'function') return undefined
  return { ok: true, secrets: Object.freeze(typeof secret === 'string' ? [secret] : [...secret]) }
}

/**
 * A static secret becomes a constant list; a resolver is called with a
 * deadline, its answers cached per key for `cacheMs` and concurrent lookups of
 * one key shared. Failures are never cached, and no secret is ever logged:
 * failures carry only a reason and the resolver's own error.
 */
export function createSecretSource (secret: SecretOption, options: SecretSourceOptions): SecretSource {
  const fixed = staticSecretOutcome(secret)
  if (fixed !== undefined) return function staticSecrets () { return fixed }
  const resolver = secret as SecretResolver
  const cache = new Map<string, { secrets: readonly string[], expiresAt: number }>()
  const pending = new Map<string, Promise<SecretOutcome>>()

  return function resolveSecrets (ctx) {
    let key: string
    try {
      key = options.cacheKey(ctx)
    } catch (err) {
      return { ok: false, reason: 'secret_resolver_failed', cause: err }
    }
    const hit = cache.get(key)
    if (hit !== undefined && hit.expiresAt > Date.now()) return { ok: true, secrets: hit.secrets }
    const running = pending.get(key)
    if (running !== undefined) return running
    const lookup = callResolver(ctx).then((outcome) => {
      pending.delete(key)
      if (outcome.ok && options.cacheMs > 0) remember(key, outcome.secrets)
      return outcome
    })
    pending.set(key, lookup)
    return lookup
  }

  function remember (key: string, secrets: readonly string[]): void {
    cache.delete(key)
    if (cache.size >= MAX_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string)
    cache.set(key, { secrets, expiresAt: Date.now() + options.cacheMs })
  }

  async function callResolver (ctx: SecretContext): Promise<SecretOutcome> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<SecretOutcome>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs, { ok: false, reason: 'secret_resolver_timeout' })
    })
    const answer = (async (): Promise<SecretOutcome> => {
      try {
        const value = await resolver(ctx)
        if (!isSecretList(value)) return { ok: false, reason: 'secret_resolver_invalid' }
        return usableOutcome(Object.freeze(typeof value === 'string' ? [value] : [...value]))
      } catch (err) {
        return { ok: false, reason: 'secret_resolver_failed', cause: err }
      }
    })()
    const outcome = await Promise.race([answer, deadline])
    clearTimeout(timer)
    return outcome
  }

  // A secret the scheme cannot use would fail every signature: a 401 tells
  // the sender the deliveries are forged (some disable the endpoint), when
  // the fault is ours. The error names the secret's index, never its value.
  function usableOutcome (secrets: readonly string[]): SecretOutcome {
    const unusable = options.provider === undefined ? undefined : unusableSecret(options.provider, secrets)
    if (unusable === undefined) return { ok: true, secrets }
    const cause = new Error(`the secret resolver returned a secret the provider cannot use (secret ${unusable.index} of ${secrets.length}): expected ${unusable.hint}`)
    return { ok: false, reason: 'secret_unusable', cause }
  }
}
