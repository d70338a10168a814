/**
 * How `dlq` prints letters and runs a bulk replay, kept apart from its
 * argument handling.
 */
import type { DeadLetter, DeadLetterFilter, DeadLetters, ReplayResult } from '../worker/index.js'
import { EXIT, say, type CliIo } from './command.js'

const COLUMNS = [['ID', 34], ['STAGE', 9], ['TRIES', 5], ['FAILS', 5], ['DEAD AT', 20], ['SOURCE', 12], ['TYPE', 20], ['EVENT ID', 24]] as const

/** The header of `dlq list`. */
export const LIST_HEADER = [...COLUMNS.map(([title, width]) => title.padEnd(width)), 'ERROR'].join(' ')

/** One line of `dlq list`. */
export function letterRow (letter: DeadLetter): string {
  const event = eventOf(letter)
  const cells = [letter.id, letter.stage, String(letter.attemptsMade), String(letter.failures), isoSeconds(letter.deadAt), event.source, event.type, event.id]
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
    `failures:      ${letter.failures}, first ${isoSeconds(letter.firstDeadAt)}`,
    ...letter.history.map((f) => `  ${isoSeconds(f.deadAt)} ${f.stage} after ${f.attemptsMade} attempt${f.attemptsMade === 1 ? '' : 's'}: ${f.error.name}: ${f.error.message}`),
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
 * letter and a summary. The ids are read first, page by page with a cursor,
 * which neither skips nor repeats a letter however the letters change.
 */
export async function replayLetters (dead: DeadLetters, filter: DeadLetterFilter, force: boolean, io: CliIo): Promise<number> {
  const ids: string[] = []
  let after: string | undefined
  do {
    const page = await dead.page(filter, { after, limit: 1000 })
    ids.push(...page.letters.map((letter) => letter.id))
    after = page.next
  } while (after !== undefined)
  if (ids.length === 0) {
    say(io.stdout, 'No pending dead letters to replay.')
    return EXIT.ok
  }
  say(io.stdout, `Replaying ${ids.length} dead letter${ids.length === 1 ? '' : 's'}${force ? ' (forced: events applied since are applied again)' : ''}`)
  const counts: Record<ReplayResult['status'], number> = { replayed: 0, 'not-queued': 0, 'already-replayed': 0, 'not-found': 0 }
  let failed = 0
  for (const [i, id] of ids.entries()) {
    const step = `[${i + 1}/${ids.length}]`
    try {
      const result = await dead.replay(id, { force })
      counts[result.status]++
      const detail = result.status === 'not-queued' ? ` (job ${String(result.jobId)} is ${String(result.jobState)})` : result.jobId === undefined ? '' : ` as job ${result.jobId}`
      say(io.stdout, `${step} ${id}: ${result.status}${detail}`)
    } catch (err) {
      failed++
      say(io.stderr, `${step} ${id}: failed: ${(err as Error).message}`)
    }
  }
  const parts = [`${counts.replayed} replayed`, `${counts['already-replayed']} already replayed`, `${counts['not-found']} gone`]
  if (counts['not-queued'] > 0) parts.push(`${counts['not-queued']} not queued (their job is still in the queue: replay them again later)`)
  if (failed > 0) parts.push(`${failed} failed`)
  say(io.stdout, `Done: ${parts.join(', ')}.`)
  return failed > 0 || counts['not-queued'] > 0 ? EXIT.refused : EXIT.ok
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
