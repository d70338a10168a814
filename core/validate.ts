/**
 * Small checks shared by the plugin's and the worker's `validate…Options()`.
 * Each returns `undefined` when the value is fine, or the tail of a message in
 * the house shape: ``Expected `name` to be …, got `value` (type)``.
 */

/** ``\`value\` (type)`` for error messages; long strings are cut, functions named. */
export function describeValue (value: unknown): string {
  let shown: string
  if (typeof value === 'string') shown = value.length > 60 ? `${value.slice(0, 57)}...` : value
  else if (typeof value === 'function') shown = value.name === '' ? 'function' : `function ${value.name}`
  else if (typeof value === 'bigint') shown = `${value}n`
  else if (typeof value === 'object' && value !== null) {
    try { shown = JSON.stringify(value) ?? String(value) } catch { shown = String(value) }
    if (shown.length > 60) shown = `${shown.slice(0, 57)}...`
  } else shown = String(value)
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  return `\`${shown}\` (${type})`
}

/** The full message: ``Expected `name` to be what, got `value` (type)``. */
export function expected (name: string, what: string, value: unknown, hint?: string): string {
  return `Expected \`${name}\` to be ${what}, got ${describeValue(value)}${hint === undefined ? '' : `. ${hint}`}`
}

/** An integer in [min, max]. */
export function checkInteger (name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return undefined
  const range = max === Number.MAX_SAFE_INTEGER ? `from ${min} and up` : `from ${min} to ${max}`
  return expected(name, `an integer ${range}`, value)
}

/** A non-empty string, optionally matching a pattern. */
export function checkString (name: string, value: unknown, pattern?: RegExp, what?: string): string | undefined {
  if (typeof value === 'string' && value !== '' && (pattern === undefined || pattern.test(value))) return undefined
  return expected(name, what ?? (pattern === undefined ? 'a non-empty string' : `a string matching ${String(pattern)}`), value)
}

/** A function. */
export function checkFunction (name: string, value: unknown): string | undefined {
  return typeof value === 'function' ? undefined : expected(name, 'a function', value)
}

/** A boolean. */
export function checkBoolean (name: string, value: unknown): string | undefined {
  return typeof value === 'boolean' ? undefined : expected(name, 'a boolean', value)
}

/** One of a fixed set of strings. */
export function checkOneOf (name: string, value: unknown, choices: readonly string[]): string | undefined {
  return typeof value === 'string' && choices.includes(value)
    ? undefined
    : expected(name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value)
}

/** A BullMQ queue name or key prefix: non-empty, no `:` (BullMQ joins keys with it). */
export function checkRedisName (name: string, value: unknown, hint?: string): string | undefined {
  if (typeof value === 'string' && value !== '' && !value.includes(':')) return undefined
  return expected(name, 'a non-empty string without `:`', value, hint)
}

/** Keys of `options` not in `known`, for a clear error on typos. */
export function unknownKeys (options: object, known: readonly string[]): string[] {
  return Object.keys(options).filter((k) => !known.includes(k))
}
