/**
 * The shape every CLI command shares, so each lives in its own file and the
 * dispatcher in `cli.ts` stays a table.
 */
import type { Readable, Writable } from 'node:stream'

/** What a command may touch: injected, so tests run commands in-process. */
export interface CliIo {
  stdin: Readable & { isTTY?: boolean }
  stdout: Writable
  stderr: Writable
  env: Record<string, string | undefined>
}

/** One subcommand. `run` resolves to the process exit code and never throws for user errors. */
export interface Command {
  /** One line for the command list. */
  summary: string
  /** Full usage text for `--help`. */
  usage: string
  run: (argv: string[], io: CliIo) => Promise<number>
}

/** Exit codes: 0 success, 1 the request was made but refused, 2 a usage or local error. */
export const EXIT = Object.freeze({ ok: 0, refused: 1, usage: 2 })

/** Writes a line to a stream. */
export function say (stream: Writable, text: string): void {
  stream.write(`${text}\n`)
}
