import t from 'tap'
import { optionValidator, pick, type OptionValidator } from '../../core/option-validator.js'
import { WebhookErrors } from '../../core/errors.js'

// The one way option checks throw: the class, code and message are exactly
// those asked for, a check that found nothing throws nothing, and a default
// replaces only a missing value.

const plugin: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)
const provider: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION)

function thrown (fn: () => void): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('fail throws the given coded class with the message as it is', async (t) => {
  const message = 'Expected `x` to be a `thing` with 100% of %s, got `1` (number)'
  const fromPlugin = thrown(() => plugin.fail(message))
  t.type(fromPlugin, WebhookErrors.WEBHOOK_INVALID_OPTION)
  t.type(fromPlugin, TypeError)
  t.match(fromPlugin, { code: 'WEBHOOK_INVALID_OPTION', statusCode: 500 })
  t.equal((fromPlugin as Error).message, message, 'byte for byte, `%s` and `%` included')

  const fromProvider = thrown(() => provider.fail(message))
  t.type(fromProvider, WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION)
  t.type(fromProvider, TypeError)
  t.notOk(fromPlugin instanceof WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION, 'each validator keeps its own class')
  t.match(fromProvider, { code: 'WEBHOOK_PROVIDER_INVALID_OPTION' })
  t.equal((fromProvider as Error).message, message)
})

t.test('failIf throws only for a problem', async (t) => {
  t.equal(thrown(() => plugin.failIf(undefined)), undefined, 'undefined: no problem, nothing thrown')
  const err = thrown(() => provider.failIf('Unknown option `foo`'))
  t.type(err, WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION)
  t.equal((err as Error).message, 'Unknown option `foo`')
  // An empty message is still a problem: only `undefined` means none.
  t.type(thrown(() => plugin.failIf('')), WebhookErrors.WEBHOOK_INVALID_OPTION)
})

t.test('any error class taking a message will do', async (t) => {
  class Custom extends RangeError {}
  const err = thrown(() => optionValidator(Custom).fail('too far'))
  t.type(err, Custom)
  t.equal((err as Error).message, 'too far')
})

t.test('fail narrows like a throw', async (t) => {
  // Compiled by the typecheck: without the narrowing, `value.length` would not type.
  function length (value: unknown): number {
    if (typeof value !== 'string') plugin.fail('not a string')
    return value.length
  }
  t.equal(length('abc'), 3)
  t.type(thrown(() => length(3)), WebhookErrors.WEBHOOK_INVALID_OPTION)
})

t.test('pick uses the fallback for undefined only', async (t) => {
  t.equal(pick(undefined, 5), 5)
  t.equal(pick(0, 5), 0)
  t.equal(pick(false, true), false)
  t.equal(pick(null, 'x'), null)
  t.equal(pick('', 'x'), '')
  const given = { a: 1 }
  t.equal(pick(given, {}), given, 'the value itself, not a copy')
})
