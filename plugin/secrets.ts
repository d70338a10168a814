import type { FastifyError } from 'fastify'
import { deadline } from '../core/deadline.js'
import { WebhookErrors } from '../core/errors.js'
import type { OutcomeFields } from './outcome.js'
import type { Provider, SecretContext, SecretOption, SecretResolver } from '../providers/provider.js'
import { isSecretList, unusableSecret } from '../providers/provider-check.js'

/**
 * Thrown by a secret resolver when the request names no tenant it knows, the
 * same as returning `null`: the sender gets the generic 401, and the answer is
 * cached for `secretNegativeCacheMs`. Recognised by `name` too, since an app
 * can hold two copies of this package.
 */
export class UnknownTenantError extends Error {
  override name = 'UnknownTenantError'
}

/**
 * Why the secrets for a request could not be had. Each gives 503: the sender
 * retries, nothing is rejected for our fault. `secret_unusable`: the resolver
 * returned a secret the provider's `secretProblem` refuses.
 */
export type SecretFailureReason = 'secret_resolver_failed' | 'secret_resolver_timeout' | 'secret_resolver_invalid' | 'secret_unusable'

export type SecretOutcome =
  | { ok: true, secrets: readonly string[] }
  | { ok: false, reason: SecretFailureReason, cause?: unknown }
  | { ok: false, reason: 'unknown_tenant', cause?: undefined }

export interface SecretSourceOptions {
  cacheMs: number
  /** How long an unknown tenant is remembered. */
  negativeCacheMs: number
  timeoutMs: number
  cacheKey: (ctx: SecretContext) => string
  /** Whose `secretProblem` judges each resolved secret. */
  provider: Pick<Provider, 'secretProblem'>
}

/** Gives the secrets for a request. */
export type SecretSource = (ctx: SecretContext) => SecretOutcome | Promise<SecretOutcome>

// Per-tenant keys come from the request: bound the cache so a flood of made-up
// tenants cannot grow it without limit.
const MAX_CACHE_ENTRIES = 10_000

const UNKNOWN_TENANT: SecretOutcome = Object.freeze({ ok: false, reason: 'unknown_tenant' })

function timedOut (): SecretOutcome {
  return { ok: false, reason: 'secret_resolver_timeout' }
}

/**
 * How the route answers a request without secrets: an unknown tenant is an
 * authentication failure like any other (the generic 401); every other
 * failure is ours, so the sender is told to retry (503).
 */
export function secretRefusal (failure: SecretOutcome & { ok: false }): [FastifyError, OutcomeFields] {
  if (failure.reason === 'unknown_tenant') return [new WebhookErrors.FST_WEBHOOK_UNAUTHORIZED(), { outcome: 'rejected', reason: failure.reason }]
  return [new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: failure.reason, err: failure.cause }]
}

/** The constant outcome of a static secret or list; `undefined` for a resolver, which needs the request's context. */
export function staticSecretOutcome (secret: SecretOption): SecretOutcome | undefined {
  if (typeof secret === 'function') return undefined
  return { ok: true, secrets: Object.freeze(typeof secret === 'string' ? [secret] : [...secret]) }
}

/**
 * A static secret becomes a constant list; a resolver is called with a
 * deadline, its answers cached per key for `cacheMs` (an unknown tenant for
 * `negativeCacheMs`) and concurrent lookups of one key shared. Failures are
 * never cached, and no secret is ever logged: failures carry only a reason
 * and the resolver's own error.
 */
export function createSecretSource (secret: SecretOption, options: SecretSourceOptions): SecretSource {
  const fixed = staticSecretOutcome(secret)
  if (fixed !== undefined) return function staticSecrets () { return fixed }
  const resolver = secret as SecretResolver
  const cache = new Map<string, { secrets: readonly string[], expiresAt: number }>()
  // Apart from the secrets: a flood of made-up tenants cannot evict known ones.
  const unknown = new Map<string, { secrets: readonly string[], expiresAt: number }>()
  const pending = new Map<string, Promise<SecretOutcome>>()

  return function resolveSecrets (ctx) {
    let key: string
    try {
      key = options.cacheKey(ctx)
    } catch (err) {
      return { ok: false, reason: 'secret_resolver_failed', cause: err }
    }
    const now = Date.now()
    const hit = cache.get(key)
    if (hit !== undefined && hit.expiresAt > now) return { ok: true, secrets: hit.secrets }
    if ((unknown.get(key)?.expiresAt ?? 0) > now) return UNKNOWN_TENANT
    const running = pending.get(key)
    if (running !== undefined) return running
    const lookup = callResolver(ctx).then((outcome) => {
      pending.delete(key)
      if (outcome.ok && options.cacheMs > 0) remember(cache, key, outcome.secrets, options.cacheMs)
      if (outcome === UNKNOWN_TENANT && options.negativeCacheMs > 0) remember(unknown, key, [], options.negativeCacheMs)
      return outcome
    })
    pending.set(key, lookup)
    return lookup
  }

  function remember (map: typeof cache, key: string, secrets: readonly string[], ttlMs: number): void {
    cache.delete(key)
    unknown.delete(key)
    if (map.size >= MAX_CACHE_ENTRIES) map.delete(map.keys().next().value as string)
    map.set(key, { secrets, expiresAt: Date.now() + ttlMs })
  }

  async function callResolver (ctx: SecretContext): Promise<SecretOutcome> {
    return await deadline(options.timeoutMs, undefined, async () => await answer(ctx), { fallback: timedOut })
  }

  async function answer (ctx: SecretContext): Promise<SecretOutcome> {
    try {
      const value = await resolver(ctx)
      if (value === null) return UNKNOWN_TENANT
      if (!isSecretList(value)) return { ok: false, reason: 'secret_resolver_invalid' }
      return usableOutcome(Object.freeze(typeof value === 'string' ? [value] : [...value]))
    } catch (err) {
      if (err instanceof UnknownTenantError || (err as Error | null)?.name === 'UnknownTenantError') return UNKNOWN_TENANT
      return { ok: false, reason: 'secret_resolver_failed', cause: err }
    }
  }

  // A secret the scheme cannot use would fail every signature: a 401 tells
  // the sender the deliveries are forged (some disable the endpoint), when
  // the fault is ours. The error names the secret's index, never its value.
  function usableOutcome (secrets: readonly string[]): SecretOutcome {
    const unusable = unusableSecret(options.provider, secrets)
    if (unusable === undefined) return { ok: true, secrets }
    const cause = new Error(`the secret resolver returned a secret the provider cannot use (secret ${unusable.index} of ${secrets.length}): expected ${unusable.hint}`)
    return { ok: false, reason: 'secret_unusable', cause }
  }
}
