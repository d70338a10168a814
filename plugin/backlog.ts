import { within } from '../core/connection.js'

/** Load shedding for `maxBacklog`: says whether the queue is over its limit, from a count at most a second old. */
export interface BacklogGuard {
  /** True when the last count is fresh and over the limit. Never waits for Redis. */
  over: () => boolean
  /** The last count read (waiting plus delayed jobs), `undefined` before the first. */
  readonly last: number | undefined
}

/** How often the count may be read, at most. */
export const BACKLOG_CHECK_MS = 1000
// A count older than this (the route saw no traffic for a while) is not trusted
// to refuse anything; the next request reads a new one.
const STALE_MS = 5000

/**
 * A guard over `count` (waiting plus delayed jobs). The count is read in the
 * background, at most once per {@link BACKLOG_CHECK_MS} and only while
 * requests come, so a request never waits for it and never adds a round trip.
 */
export function createBacklogGuard (maxBacklog: number, count: () => Promise<number>, timeoutMs: number): BacklogGuard {
  let last: number | undefined
  let readAt = 0
  let startedAt = -Infinity
  let reading = false

  return {
    over,
    get last () { return last }
  }

  function over (): boolean {
    const now = Date.now()
    if (!reading && now - startedAt >= BACKLOG_CHECK_MS) refresh(now)
    return last !== undefined && now - readAt < STALE_MS && last > maxBacklog
  }

  function refresh (now: number): void {
    reading = true
    startedAt = now
    const read = count().then((value) => {
      last = value
      readAt = Date.now()
    }, () => {})
    // A frozen Redis must not keep the guard from trying again.
    within(read, timeoutMs).then(() => { reading = false }, () => {})
  }
}
