import { checkBoolean, checkFunction, checkInteger, checkString, expected } from '../core/validate.js'
import type { Provider } from './provider.js'

const KINDS = ['json', 'form']
// Header names as Node gives them: lower-case tokens.
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/

/**
 * Checks that `provider` implements the `Provider` interface well enough to
 * be trusted with requests. Returns `undefined`, or a message in the house shape.
 */
export function providerProblem (provider: unknown): string | undefined {
  if (typeof provider !== 'object' || provider === null || Array.isArray(provider)) {
    return expected('provider', 'a Provider such as `providers.hmac({ secret })`', provider)
  }
  const p = provider as Partial<Provider>
  return checkString('provider.name', p.name) ??
    (p.secretProblem === undefined ? undefined : checkFunction('provider.secretProblem', p.secretProblem)) ??
    secretShapeProblem(p.secret) ??
    staticSecretProblem(p as Pick<Provider, 'secret' | 'secretProblem'>) ??
    contentTypesProblem(p.contentTypes) ??
    (p.bodyLimit === undefined ? undefined : checkInteger('provider.bodyLimit', p.bodyLimit, 1)) ??
    eventHeadersProblem(p.eventHeaders) ??
    checkFunction('provider.verify', p.verify) ??
    checkFunction('provider.toEvent', p.toEvent) ??
    checkFunction('provider.sign', p.sign) ??
    (p.respond === undefined ? undefined : checkFunction('provider.respond', p.respond)) ??
    (p.checkHeaders === undefined ? undefined : checkFunction('provider.checkHeaders', p.checkHeaders)) ??
    (p.challenge === undefined ? undefined : checkFunction('provider.challenge', p.challenge)) ??
    (p.jsonArrays === undefined ? undefined : checkBoolean('provider.jsonArrays', p.jsonArrays))
}

/** A secret value: a non-empty string or a non-empty list of them. Never echoes the secret. */
export function isSecretList (value: unknown): value is string | string[] {
  if (typeof value === 'string') return value !== ''
  return Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string' && s !== '')
}

/**
 * The first of `secrets` the provider's `secretProblem` refuses, and what it
 * expected; `undefined` when every one is usable. A check that throws refuses.
 */
export function unusableSecret (provider: Pick<Provider, 'secretProblem'>, secrets: readonly string[]): { index: number, hint: string } | undefined {
  if (provider.secretProblem === undefined) return undefined
  for (let index = 0; index < secrets.length; index++) {
    let hint: string | undefined
    try {
      hint = provider.secretProblem(secrets[index])
    } catch {
      hint = 'a secret the provider\'s `secretProblem` accepts (it threw)'
    }
    if (hint !== undefined) return { index, hint }
  }
  return undefined
}

// The presets check their static secrets themselves; this covers a provider written by hand.
function staticSecretProblem (p: Pick<Provider, 'secret' | 'secretProblem'>): string | undefined {
  if (typeof p.secret === 'function') return undefined
  const unusable = unusableSecret(p, typeof p.secret === 'string' ? [p.secret] : p.secret)
  // The value is a secret: the message names the problem, never the value.
  return unusable === undefined ? undefined : `Expected \`provider.secret\` to be usable: ${unusable.hint}`
}

function secretShapeProblem (secret: unknown): string | undefined {
  if (typeof secret === 'function' || isSecretList(secret)) return undefined
  // The value is a secret, or nearly one: describe only its type.
  const type = Array.isArray(secret) ? 'array' : secret === null ? 'null' : typeof secret
  return `Expected \`provider.secret\` to be a non-empty string, a non-empty array of them, or a resolver function, got a value of type ${type}`
}

function contentTypesProblem (kinds: unknown): string | undefined {
  if (Array.isArray(kinds) && kinds.length > 0 && kinds.every((k) => KINDS.includes(k))) return undefined
  return expected('provider.contentTypes', "a non-empty array of 'json' and 'form'", kinds)
}

function eventHeadersProblem (names: unknown): string | undefined {
  if (names === undefined) return undefined
  if (Array.isArray(names) && names.every((n) => typeof n === 'string' && HEADER_NAME.test(n))) return undefined
  return expected('provider.eventHeaders', 'an array of lower-case header names', names)
}
