#!/usr/bin/env node
/**
 * `fastify-hybrid-webhooks <command> [options]`. A table of commands, each in
 * its own file, loaded only when it runs.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { EXIT, say, type CliIo, type Command } from './command.js'

const COMMANDS: Record<string, () => Promise<Command>> = {
  send: async () => (await import('./send.js')).sendCommand,
  dlq: async () => (await import('./dlq.js')).dlqCommand,
  queues: async () => (await import('./queues.js')).queuesCommand
}

/** Runs the CLI with `argv` (without `node` and the script); resolves to the exit code. */
export async function main (argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const lines = await Promise.all(Object.entries(COMMANDS).map(async ([n, load]) => `  ${n.padEnd(8)} ${(await load()).summary}`))
    say(name === undefined ? io.stderr : io.stdout, ['Usage: fastify-hybrid-webhooks <command> [options]', '', 'Commands:', ...lines, '',
      'Run `fastify-hybrid-webhooks <command> --help` for its options.'].join('\n'))
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (load === undefined) {
    say(io.stderr, `Unknown command '${name}'. Commands: ${Object.keys(COMMANDS).join(', ')}`)
    return EXIT.usage
  }
  return (await load()).run(rest, io)
}

// Run only as the program itself (npx resolves the bin symlink to this file).
function isProgram (): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isProgram()) {
  process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env })
}
