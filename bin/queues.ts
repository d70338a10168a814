/**
 * `queues stats`: a queue's jobs by state, its dead letters, the age of its
 * oldest waiting job and its pollers' cursor lag, read from Redis.
 */
import { parseArgs } from 'node:util'
import { QueueProbe } from '../core/queue-stats.js'
import { EXIT, say, type CliIo, type Command } from './command.js'
import { connectRedis, disconnect, REDIS_OPTIONS, REDIS_USAGE, redisTarget, RedisUnreachable, UsageError } from './redis-args.js'

const USAGE = `Usage: fastify-hybrid-webhooks queues stats [options]

Prints the event queue's jobs by state, its dead letters, how long ago the job
a worker takes next was added, and each poller's cursor lag.

Options:
  --json                 machine-readable output

${REDIS_USAGE}`

const OPTIONS = {
  ...REDIS_OPTIONS,
  json: { type: 'boolean' as const, default: false },
  help: { type: 'boolean' as const, short: 'h', default: false }
}

/** The `queues` command. */
export const queuesCommand: Command = {
  summary: 'print queue depths, dead letters, the oldest waiting job and poller lag',
  usage: USAGE,
  run: runQueues
}

/** Runs `queues` with its arguments; resolves to the exit code. */
export async function runQueues (argv: string[], io: CliIo): Promise<number> {
  let client: Awaited<ReturnType<typeof connectRedis>> | undefined
  let probe: QueueProbe | undefined
  try {
    const { values: args, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true })
    if (args.help || positionals.length === 0) {
      say(args.help ? io.stdout : io.stderr, USAGE)
      return args.help ? EXIT.ok : EXIT.usage
    }
    if (positionals.length !== 1 || positionals[0] !== 'stats') throw new UsageError(`unknown action '${positionals.join(' ')}'; the action is stats`)
    const target = redisTarget(args, io)
    client = await connectRedis(target)
    probe = new QueueProbe(client, { queueName: target.queueName, prefix: target.prefix })
    const [stats, lags] = await Promise.all([probe.stats(), probe.cursorLags()])
    if (args.json) {
      say(io.stdout, JSON.stringify({ queue: target.queueName, prefix: target.prefix, ...stats, cursorLagMs: Object.fromEntries(lags) }, null, 2))
      return EXIT.ok
    }
    const rows: Array<[string, string]> = [
      ['queue', `${target.queueName} (prefix ${target.prefix})`],
      ['waiting', String(stats.waiting)],
      ['active', String(stats.active)],
      ['delayed', String(stats.delayed)],
      ['failed', String(stats.failed)],
      ['completed', String(stats.completed)],
      ['dead letters', `${stats.deadLetters} pending, ${stats.replayed} replayed`],
      ['oldest waiting', stats.oldestWaitingAgeMs === null ? 'none' : `${duration(stats.oldestWaitingAgeMs)} ago`]
    ]
    for (const [source, lagMs] of lags) rows.push([`poller ${source}`, lagMs === null ? 'not synced yet' : `cursor lag ${duration(lagMs)}`])
    for (const [label, value] of rows) say(io.stdout, `${label.padEnd(16)} ${value}`)
    return EXIT.ok
  } catch (err) {
    const code = (err as { code?: string }).code
    const usage = err instanceof UsageError || code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
    say(io.stderr, `queues: ${(err as Error).message}`)
    if (usage) say(io.stderr, 'Run `fastify-hybrid-webhooks queues --help` for the options.')
    return usage || err instanceof RedisUnreachable ? EXIT.usage : EXIT.refused
  } finally {
    await probe?.close()
    if (client !== undefined) await disconnect(client)
  }
}

function duration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}
