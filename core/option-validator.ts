/**
 * How every option check throws: the checks of `validate.ts` return a message
 * or `undefined`, and a validator turns a message into the coded `TypeError`
 * of its side (the plugin's, the worker's). One factory, so the plugin, the
 * worker, the poller, the dead letters and the presets cannot drift apart.
 */

/** A coded error class taking the whole message, as `@fastify/error`'s `'%s'` errors do. */
export type OptionErrorClass = new (message: string) => Error

/**
 * Throws option errors of one class. Keep the instance in a `const` typed
 * `OptionValidator`: TypeScript narrows after `invalid.fail(…)` only when the
 * name it is called through has an explicit type.
 */
export interface OptionValidator {
  /** Throws the error with this message. */
  fail (message: string): never
  /** Throws when a check found a problem (a message); does nothing for `undefined`. */
  failIf (problem: string | undefined): void
}

/** The validator throwing `ErrorClass`. */
export function optionValidator (ErrorClass: OptionErrorClass): OptionValidator {
  function fail (message: string): never {
    throw new ErrorClass(message)
  }
  return {
    fail,
    failIf (problem) {
      if (problem !== undefined) fail(problem)
    }
  }
}

/** The option's value, or `fallback` when it is `undefined` (only then: `null`, `0` and `false` are values to check). */
export function pick<T> (value: unknown, fallback: T): T {
  return (value === undefined ? fallback : value) as T
}
