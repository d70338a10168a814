/**
 * The default loggers of the worker and the poller: warnings and errors (dead
 * letters, repeated failures, lag) reach stderr without any setup; `false`
 * in their `logger` option silences them.
 */
import { pino, type Logger } from 'pino'

/**
 * Writes `warn` and above to stderr as JSON lines. Synchronous, so a warning
 * written just before the process dies is not lost; at `warn` there are few.
 */
export const DEFAULT_LOGGER: Logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }))

/** What `logger: false` stands for. */
export const SILENT_LOGGER: Logger = pino({ level: 'silent' })

/** The logger option resolved: the default when absent, silence for `false`, else the value (checked by the caller). */
export function loggerOption (value: unknown): unknown {
  if (value === undefined) return DEFAULT_LOGGER
  return value === false ? SILENT_LOGGER : value
}
