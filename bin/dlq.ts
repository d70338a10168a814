/**
 * `dlq`: list, show, replay and purge the dead letters of a queue, through
 * the dead-letter API (`createDeadLetters`), without writing code.
 */
import { parseArgs } from 'node:util'
import { createDeadLetters, type DeadLetterFilter, type DeadLetters, type DeadLetterStage } from '../worker/index.js'
import { EXIT, say, type CliIo, type Command } from './command.js'
import { describeLetter, letterRow, LIST_HEADER, parseTime, replayLetters } from './dlq-format.js'
import { connectRedis, disconnect, REDIS_OPTIONS, REDIS_USAGE, redisTarget, RedisUnreachable, UsageError } from './redis-args.js'

const USAGE = `Usage: fastify-hybrid-webhooks dlq <action> [options]

Actions:
  list                   dead letters, one per event, oldest first (--limit, --after, filters)
  show <id>              one dead letter in full, as JSON
  replay <id>            queue one dead letter again (a second replay says so)
  replay --all           queue every pending dead letter again, with progress and a summary
  replay --since <time>  the same, for letters dead since <time>: 2h, 30m, 7d, or an ISO date
  purge --yes            delete dead letters (all, or those matching the filters)

Options:
  --force                replay even events applied since (clears their done markers)
  --stage <stage>        only this stage: decode, hydrate, apply, stalled, internal, unhandled
  --source <source>      only events of this source
  --type <type>          only events of this type
  --pending | --replayed only letters not replayed yet, or only replayed ones
  --since <time>         only letters dead since then
  --limit <n>            list at most n (default 50, up to 1000)
  --after <cursor>       list the page after the cursor that the previous page printed
  --offset <n>           skip n (deprecated: pages shift while letters change; use --after)
  --json                 machine-readable output
  --yes                  confirm a purge

${REDIS_USAGE}`

const S = 'string' as const
const B = 'boolean' as const
const OPTIONS = {
  ...REDIS_OPTIONS,
  all: { type: B, default: false },
  force: { type: B, default: false },
  stage: { type: S },
  source: { type: S },
  type: { type: S },
  pending: { type: B, default: false },
  replayed: { type: B, default: false },
  since: { type: S },
  limit: { type: S, default: '50' },
  offset: { type: S },
  after: { type: S },
  json: { type: B, default: false },
  yes: { type: B, default: false },
  help: { type: B, short: 'h', default: false }
}

type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS, allowPositionals: true }>>['values']

const STAGES: readonly DeadLetterStage[] = ['decode', 'hydrate', 'apply', 'stalled', 'internal', 'unhandled']

/** The `dlq` command. */
export const dlqCommand: Command = {
  summary: 'list, show, replay or purge dead letters',
  usage: USAGE,
  run: runDlq
}

/** Runs `dlq` with its arguments; resolves to the exit code. */
export async function runDlq (argv: string[], io: CliIo): Promise<number> {
  let dead: DeadLetters | undefined
  let client: Awaited<ReturnType<typeof connectRedis>> | undefined
  try {
    const { values: args, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true })
    if (args.help || positionals.length === 0) {
      say(args.help ? io.stdout : io.stderr, USAGE)
      return args.help ? EXIT.ok : EXIT.usage
    }
    const [action, ...rest] = positionals
    const run = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined
    if (run === undefined) throw new UsageError(`unknown action '${action}'; actions are ${Object.keys(ACTIONS).join(', ')}`)
    const filter = filterOf(args)
    const target = redisTarget(args, io)
    client = await connectRedis(target)
    dead = createDeadLetters({ connection: client, queueName: target.queueName, prefix: target.prefix })
    return await run({ args, rest, filter, dead, io, queueName: target.queueName })
  } catch (err) {
    return failure(err, io)
  } finally {
    await dead?.close().catch(() => {})
    if (client !== undefined) await disconnect(client)
  }
}

interface ActionContext {
  args: Args
  rest: string[]
  filter: DeadLetterFilter
  dead: DeadLetters
  io: CliIo
  queueName: string
}

const ACTIONS: Record<string, (ctx: ActionContext) => Promise<number>> = { list, show, replay, purge }

async function list ({ args, rest, filter, dead, io, queueName }: ActionContext): Promise<number> {
  noPositionals(rest, 'list')
  const limit = integer(args.limit, '--limit', 1, 1000)
  if (args.offset !== undefined && args.after !== undefined) throw new UsageError('--offset and --after exclude each other')
  const offset = args.offset === undefined ? undefined : integer(args.offset, '--offset', 0)
  const after = args.after
  if (after !== undefined && !/^\d{15}:./.test(after)) throw new UsageError(`--after takes the cursor a previous page printed, got '${after}'`)
  const [page, total, pending] = await Promise.all([
    offset === undefined ? dead.page(filter, { limit, after }) : dead.list(filter, { limit, offset }).then((letters) => ({ letters, next: undefined })),
    dead.count(filter),
    dead.count({ ...filter, replayed: false })
  ])
  const { letters, next } = page
  if (args.json) {
    say(io.stdout, JSON.stringify({ total, pending, letters, ...(next === undefined ? {} : { next }) }, null, 2))
    return EXIT.ok
  }
  const where = `${queueName}-dlq${isFiltered(filter) ? ' matching the filters' : ''}`
  if (letters.length === 0) {
    say(io.stdout, `No dead letters${total > 0 && (after !== undefined || (offset ?? 0) > 0) ? ' on this page' : ''} in ${where}.`)
    return EXIT.ok
  }
  say(io.stdout, LIST_HEADER)
  for (const letter of letters) say(io.stdout, letterRow(letter))
  const first = after === undefined ? (offset ?? 0) + 1 : undefined
  const range = first === undefined ? `${letters.length} more` : `${first}-${first + letters.length - 1}`
  say(io.stdout, `${range} of ${total} dead letters (${pending} pending) in ${queueName}-dlq`)
  if (next !== undefined) say(io.stdout, `next page: --after ${next}`)
  return EXIT.ok
}

async function show ({ args, rest, dead, io, queueName }: ActionContext): Promise<number> {
  const id = oneId(rest, 'show')
  const letter = await dead.get(id)
  if (letter === undefined) return unknownId(id, queueName, io)
  say(io.stdout, args.json ? JSON.stringify(letter, null, 2) : describeLetter(letter))
  return EXIT.ok
}

async function replay ({ args, rest, filter, dead, io, queueName }: ActionContext): Promise<number> {
  const bulk = args.all || args.since !== undefined
  if (bulk && rest.length > 0) throw new UsageError('replay takes an id, or --all / --since, not both')
  if (!bulk) {
    const id = oneId(rest, 'replay', 'replay <id>, replay --all or replay --since <time>')
    const result = await dead.replay(id, { force: args.force })
    if (result.status === 'not-found') return unknownId(id, queueName, io)
    if (result.status === 'already-replayed') {
      say(io.stdout, `${id} was already replayed; nothing queued`)
      return EXIT.refused
    }
    if (result.status === 'not-queued') {
      say(io.stdout, `${id}: job ${String(result.jobId)} of the event is still in the queue (${String(result.jobState)}); nothing queued, the letter stays pending. Replay it again once that job is done`)
      return EXIT.refused
    }
    say(io.stdout, `replayed ${id} as job ${String(result.jobId)}${args.force ? ' (forced)' : ''}`)
    return EXIT.ok
  }
  if (args.replayed) throw new UsageError('--replayed cannot be replayed again: a letter is replayed again only once its event fails again')
  return await replayLetters(dead, { ...filter, replayed: false }, args.force, io)
}

async function purge ({ args, rest, filter, dead, io, queueName }: ActionContext): Promise<number> {
  noPositionals(rest, 'purge')
  const count = await dead.count(filter)
  if (!args.yes) {
    say(io.stderr, `dlq: purge deletes ${count} dead letter${count === 1 ? '' : 's'} from ${queueName}-dlq for good; run it again with --yes`)
    return EXIT.usage
  }
  const removed = await dead.purge(filter)
  say(io.stdout, `purged ${removed} dead letter${removed === 1 ? '' : 's'} from ${queueName}-dlq`)
  return EXIT.ok
}

function filterOf (args: Args): DeadLetterFilter {
  const filter: DeadLetterFilter = {}
  if (args.stage !== undefined) {
    if (!STAGES.includes(args.stage as DeadLetterStage)) throw new UsageError(`--stage must be one of ${STAGES.join(', ')}, got '${args.stage}'`)
    filter.stage = args.stage as DeadLetterStage
  }
  if (args.source !== undefined) filter.source = args.source
  if (args.type !== undefined) filter.type = args.type
  if (args.pending && args.replayed) throw new UsageError('--pending and --replayed exclude each other')
  if (args.pending) filter.replayed = false
  if (args.replayed) filter.replayed = true
  if (args.since !== undefined) filter.deadAfter = parseTime(args.since, Date.now(), UsageError)
  return filter
}

function isFiltered (filter: DeadLetterFilter): boolean {
  return Object.keys(filter).length > 0
}

function oneId (rest: string[], action: string, hint = `${action} <id>`): string {
  if (rest.length !== 1 || rest[0] === '') throw new UsageError(`${action} takes one dead letter id: ${hint}`)
  return rest[0]
}

function noPositionals (rest: string[], action: string): void {
  if (rest.length > 0) throw new UsageError(`${action} takes no arguments, got '${rest.join(' ')}'`)
}

function integer (value: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got '${value}'`)
  return n
}

function unknownId (id: string, queueName: string, io: CliIo): number {
  say(io.stderr, `dlq: no dead letter '${id}' in ${queueName}-dlq. \`dlq list\` shows the ids`)
  return EXIT.refused
}

function failure (err: unknown, io: CliIo): number {
  const code = (err as { code?: string }).code
  if (err instanceof UsageError || code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    say(io.stderr, `dlq: ${(err as Error).message}`)
    say(io.stderr, 'Run `fastify-hybrid-webhooks dlq --help` for the options.')
    return EXIT.usage
  }
  if (err instanceof RedisUnreachable) {
    say(io.stderr, `dlq: ${err.message}`)
    return EXIT.usage
  }
  say(io.stderr, `dlq: ${(err as Error).message}`)
  return EXIT.refused
}
