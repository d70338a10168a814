/**
 * How `dlq` prints letters and runs a bulk replay, kept apart from its
 * argument handling.
 */
import type { DeadLetter, DeadLetterFilter, DeadLetters, ReplayResult } from '../worker/index.js'
import { EXIT, say, type CliIo } from './command.js'

const COLUMNS = [['ID', 34], ['STAGE', 8], ['TRIES', 5], ['DEAD AT', 20], ['SOURCE', 12], ['TYPE', 20], ['EVENT ID', 24]] as const

/** The header of `dlq list`. */
export const LIST_HEADER = [...COLUMNS.map(([title, width]) => title.padEnd(width)), 'ERROR'].join(' ')

/** One line of `dlq list`. */
export function letterRow (letter: DeadLetter): string {
  const event = eventOf(letter)
  const cells = [letter.id, letter.stage, String(letter.attemptsMade), isoSeconds(letter.deadAt), event.source, event.type, event.id]
  const error = `${letter.error.name}: ${letter.error.message}`.replace(/\s+/g, ' ')
  const replayed = letter.replayedAt === undefined ? '' : ` (replayed ${isoSeconds(letter.replayedAt)})`
  // The id is never cut: it is what `show` and `replay` take.
  return [...cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[0][1]) : fit(cell, COLUMNS[i][1]))), `${cut(error, 80)}${replayed}`].join(' ')
}

/** `dlq show`: the letter's facts, then its event as JSON. */
export function describeLetter (letter: DeadLetter): string {
  const event = eventOf(letter)
  const lines = [
    `id:            ${letter.id}`,
    `job id:        ${letter.jobId}`,
    `event:         ${event.source} ${event.type === '' ? '' : `${event.type} `}${event.id}`,
    `stage:         ${letter.stage}`,
    `error:         ${letter.error.name}: ${letter.error.message}` +
      (letter.error.code === undefined ? '' : ` (code ${letter.error.code})`) +
      (letter.error.status === undefined ? '' : ` (HTTP ${letter.error.status})`),
    `attempts:      ${letter.attemptsMade}`,
    `first attempt: ${isoSeconds(letter.firstAttemptAt)}`,
    `dead at:       ${isoSeconds(letter.deadAt)}`,
    `replayed:      ${letter.replayedAt === undefined ? 'no' : isoSeconds(letter.replayedAt)}`
  ]
  if (letter.error.stack !== undefined) lines.push('stack:', letter.error.stack)
  lines.push('event data:', JSON.stringify(letter.event, null, 2))
  return lines.join('\n')
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A point in time from `2h`, `30m`, `7d`, `45s`, an ISO date, or ms since epoch. */
export function parseTime (value: string, now: number, UsageError: new (message: string) => Error): number {
  const relative = /^(\d+)([smhd])$/.exec(value)
  if (relative !== null) return now - Number(relative[1]) * UNITS[relative[2]]
  if (/^\d{10,}$/.test(value)) return Number(value)
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN
  if (Number.isNaN(parsed)) throw new UsageError(`--since must be a duration such as 2h, 30m or 7d, an ISO date, or ms since epoch, got '${value}'`)
  return parsed
}

/**
 * Replays the letters matching `filter` one by one, printing a line per
 * letter and a summary. The ids are read first: a replayed letter leaves the
 * pending set, which would shift the pages of a listing under our feet.
 */
export async function replayLetters (dead: DeadLetters, filter: DeadLetterFilter, force: boolean, io: CliIo): Promise<number> {
  const ids: string[] = []
  for (let offset = 0; ; offset += 1000) {
    const page = await dead.list(filter, { offset, limit: 1000 })
    ids.push(...page.map((letter) => letter.id))
    if (page.length < 1000) break
  }
  if (ids.length === 0) {
    say(io.stdout, 'No pending dead letters to replay.')
    return EXIT.ok
  }
  say(io.stdout, `Replaying ${ids.length} dead letter${ids.length === 1 ? '' : 's'}${force ? ' (forced: events applied since are applied again)' : ''}`)
  const counts: Record<ReplayResult['status'], number> = { replayed: 0, 'already-replayed': 0, 'not-found': 0 }
  let failed = 0
  for (const [i, id] of ids.entries()) {
    const step = `[${i + 1}/${ids.length}]`
    try {
      const result = await dead.replay(id, { force })
      counts[result.status]++
      say(io.stdout, `${step} ${id}: ${result.status}${result.jobId === undefined ? '' : ` as job ${result.jobId}`}`)
    } catch (err) {
      failed++
      say(io.stderr, `${step} ${id}: failed: ${(err as Error).message}`)
    }
  }
  const parts = [`${counts.replayed} replayed`, `${counts['already-replayed']} already replayed`, `${counts['not-found']} gone`]
  if (failed > 0) parts.push(`${failed} failed`)
  say(io.stdout, `Done: ${parts.join(', ')}.`)
  return failed > 0 ? EXIT.refused : EXIT.ok
}

function eventOf (letter: DeadLetter): { source: string, type: string, id: string } {
  const event = (typeof letter.event === 'object' && letter.event !== null ? letter.event : {}) as Partial<Record<'source' | 'type' | 'id', unknown>>
  const text = (value: unknown): string => (typeof value === 'string' ? value : '?')
  return { source: text(event.source), type: event.type === '' ? '' : text(event.type), id: text(event.id) }
}

function isoSeconds (ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '?'
}

function fit (text: string, width: number): string {
  return cut(text, width).padEnd(width)
}

function cut (text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text
}
