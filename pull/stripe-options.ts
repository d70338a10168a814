/**
 * The option checks `stripePull` and `stripePoll` share: one message shape,
 * `stripePull(): Expected …`, and one error code.
 */
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { checkInteger, checkString, expected, unknownKeys } from '../core/validate.js'
import { STRIPE_DEFAULT_PAUSE_MS, type StripeAccess } from './stripe-client.js'

const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)
const SOURCE = /^[a-z][a-z0-9_-]{0,62}$/i

/** The checked options every Stripe helper has. */
export interface CheckedAccess extends StripeAccess {
  source: string
  rateLimitPauseMs: number
}

/** Checks the options object, its keys, and the options both helpers take; returns them with defaults. */
export function checkAccess (helper: string, options: unknown, known: readonly string[]): CheckedAccess & Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) invalid.fail(`${helper}: ${expected('options', 'an object', options)}`)
  const o = options as Record<string, unknown>
  const unknown = unknownKeys(o, known)
  if (unknown.length > 0) invalid.fail(`${helper}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `\`${k}\``).join(', ')} (known: ${known.join(', ')})`)
  if (o.client !== undefined && o.apiKey !== undefined) invalid.fail(`${helper}: give \`client\` or \`apiKey\`, not both`)
  if (o.client === undefined && o.apiKey === undefined) invalid.fail(`${helper}: give \`client\` (your Stripe instance) or \`apiKey\``)
  if (o.client !== undefined && (typeof o.client !== 'object' || o.client === null)) invalid.fail(`${helper}: ${expected('client', 'a Stripe client', o.client)}`)
  // The key is never echoed: an error message may be logged.
  if (o.apiKey !== undefined && (typeof o.apiKey !== 'string' || !/^(sk|rk)_\S+$/.test(o.apiKey))) {
    invalid.fail(`${helper}: Expected \`apiKey\` to be a Stripe secret or restricted key (sk_… or rk_…), got a ${typeof o.apiKey} that is not one`)
  }
  const source = o.source ?? 'stripe'
  fail(helper, checkString('source', source, SOURCE))
  const rateLimitPauseMs = o.rateLimitPauseMs ?? STRIPE_DEFAULT_PAUSE_MS
  fail(helper, checkInteger('rateLimitPauseMs', rateLimitPauseMs, 1, 3_600_000))
  return { ...o, source: source as string, rateLimitPauseMs: rateLimitPauseMs as number }
}

/** Throws a check's problem, prefixed with the helper's name. */
export function fail (helper: string, problem: string | undefined): void {
  if (problem !== undefined) invalid.fail(`${helper}: ${problem}`)
}
