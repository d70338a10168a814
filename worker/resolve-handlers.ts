/**
 * Checks the worker's `handlers` option and turns it into the router's table.
 * Part of `validateWorkerOptions`: a bad value throws
 * `WEBHOOK_INVALID_OPTION` with a message naming the handler.
 */
import { SOURCE_PATTERN } from '../core/event.js'
import type { OptionValidator } from '../core/option-validator.js'
import { checkFunction, expected, unknownKeys } from '../core/validate.js'
import type { HandlerTable, Route } from './router.js'

const HANDLER_KEYS = ['hydrate', 'apply'] as const

/**
 * The handlers by source and route key, each step bound to its handler
 * object (so a handler written with methods keeps its `this`).
 */
export function resolveHandlers (value: unknown, invalid: OptionValidator): HandlerTable {
  const sources = objectOf('handlers', value, 'an object of handlers by source', invalid)
  const table = new Map<string, Map<string, Route<unknown, unknown>>>()
  for (const [source, byKey] of Object.entries(sources)) {
    if (!SOURCE_PATTERN.test(source)) {
      invalid.fail(expected('handlers', `keyed by sources matching ${String(SOURCE_PATTERN)}`, source))
    }
    const keys = objectOf(`handlers.${source}`, byKey, 'an object of handlers by event type', invalid)
    const routes = new Map<string, Route<unknown, unknown>>()
    for (const [key, handler] of Object.entries(keys)) routes.set(key, resolveHandler(`handlers.${source}[${JSON.stringify(key)}]`, handler, invalid))
    table.set(source, routes)
  }
  return table
}

function resolveHandler (name: string, value: unknown, invalid: OptionValidator): Route<unknown, unknown> {
  const handler = objectOf(name, value, 'a handler `{ hydrate?, apply? }`', invalid)
  // A literal is checked for typos (`aply`); an instance of a class of yours may carry what its methods use.
  const plain = [Object.prototype, null].includes(Object.getPrototypeOf(handler))
  const unknown = plain ? unknownKeys(handler, HANDLER_KEYS) : []
  if (unknown.length > 0) invalid.fail(`Unknown option \`${name}.${unknown[0]}\`; known options are ${HANDLER_KEYS.map((k) => `${name}.${k}`).join(', ')}`)
  if (handler.hydrate === undefined && handler.apply === undefined) {
    invalid.fail(expected(name, 'a handler with a `hydrate` or an `apply` function', value))
  }
  for (const key of HANDLER_KEYS) if (handler[key] !== undefined) invalid.failIf(checkFunction(`${name}.${key}`, handler[key]))
  const { hydrate, apply } = handler as { hydrate?: (...args: unknown[]) => unknown, apply?: (...args: unknown[]) => unknown }
  return {
    hydrate: hydrate === undefined ? undefined : hydrate.bind(handler) as Route<unknown, unknown>['hydrate'],
    apply: apply === undefined ? undefined : apply.bind(handler) as Route<unknown, unknown>['apply']
  }
}

function objectOf (name: string, value: unknown, what: string, invalid: OptionValidator): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid.fail(expected(name, what, value))
  return value as Record<string, unknown>
}
