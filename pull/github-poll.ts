/**
 * `githubPoll`: a repository's issues and pull requests updated since a
 * cursor, for `createPoller`, shaped like the webhooks so `githubPull`'s
 * hydrate serves both.
 */
import type { FetchChanges, PollChange, PollContext } from '../poller/poll-page.js'
import { WebhookErrors } from '../core/errors.js'
import { checkString } from '../core/validate.js'
import { timeMs } from './common.js'
import { callGitHub, headerOf, integerOption, invalid, prefixed, resolveConnection, type GitHubConnectionOptions } from './github-api.js'
import { githubObjectKey } from './github-kinds.js'

/** Options of {@link githubPoll}. */
export interface GitHubPollOptions extends GitHubConnectionOptions {
  /** The repository's owner (user or organization). Required. */
  owner: string
  /** The repository's name. Required. */
  repo: string
  /**
   * How far back the very first run looks, in milliseconds. An integer from
   * 0 to 7776000000 (90 days).
   * @defaultValue `3600000` (1 hour)
   */
  lookbackMs?: number
  /**
   * Items per request, 1 to 100 (GitHub's maximum).
   * @defaultValue `100`
   */
  perPage?: number
}

/** What `githubPoll` returns: spread it into `createPoller`. */
export interface GitHubPoll {
  source: string
  fetchChanges: FetchChanges<Record<string, unknown>>
  initialCursor: () => string
}

/**
 * The cursor: the `updated_at` listed from (`since`, inclusive), the numbers
 * already emitted at that very second (so a run of items sharing one second,
 * longer than a page, is passed), and the ETag of a request that found
 * nothing new (its repeat costs GitHub no rate limit when it answers 304).
 */
interface Cursor { since: string, seen: number[], etag?: string }

const OWN_KEYS = ['owner', 'repo', 'lookbackMs', 'perPage'] as const
const LIST = 'GET /repos/{owner}/{repo}/issues'

/**
 * Polls `GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc&since=…`,
 * which lists pull requests too. Each item is a change with the id
 * `<objectKey>@<updated_at>` (`github:issue:octo/repo#12@2026-05-01T10:00:00Z`),
 * the type `issues` or `pull_request`, and the payload
 * `{ action: 'polled', issue | pull_request: <the listed item>, repository }`.
 * Every request starts again from the cursor's second, so an item updated
 * during the poll (it moves to the end of the order) shifts no page past
 * an unseen one.
 */
export function githubPoll (options: GitHubPollOptions): GitHubPoll {
  const fn = 'githubPoll()'
  const { source, client } = resolveConnection(fn, options, OWN_KEYS)
  invalid.failIf(prefixed(fn, checkString('owner', options.owner)))
  invalid.failIf(prefixed(fn, checkString('repo', options.repo)))
  const { owner, repo } = options
  const lookbackMs = integerOption(fn, 'lookbackMs', options.lookbackMs, 3_600_000, 0, 90 * 86_400_000)
  const perPage = integerOption(fn, 'perPage', options.perPage, 100, 1, 100)
  const repository = { full_name: `${owner}/${repo}`, name: repo, owner: { login: owner } }

  function toChange (item: Record<string, any>): PollChange<Record<string, unknown>> {
    const isPull = item.pull_request !== undefined && item.pull_request !== null
    const key = githubObjectKey(isPull ? 'pull_request' : 'issue', owner, repo, item.number)
    return {
      id: `${key}@${String(item.updated_at)}`,
      type: isPull ? 'pull_request' : 'issues',
      payload: { action: 'polled', [isPull ? 'pull_request' : 'issue']: item, repository }
    }
  }

  async function fetchChanges (text: string, ctx: PollContext): Promise<{ events: Array<PollChange<Record<string, unknown>>>, cursor: string, hasMore: boolean }> {
    const cursor = parseCursor(text)
    const c = await client()
    const sinceMs = timeMs(cursor.since)
    const seen = new Set(cursor.seen)
    const isSeen = (item: Record<string, any>): boolean => seen.has(item.number) && timeMs(item.updated_at) === sinceMs
    // Past a page of seen items, start a page early: items that left the cursor's second meanwhile shift the rest forward.
    let start = Math.max(1, Math.floor(seen.size / perPage))
    let page = start
    const fresh: Array<Record<string, any>> = []
    let hasNext: boolean
    let etag: string | undefined
    for (;;) {
      const conditional = page === start && cursor.etag !== undefined ? { headers: { 'if-none-match': cursor.etag } } : {}
      const res = await callGitHub(c, LIST, {
        owner, repo, state: 'all', sort: 'updated', direction: 'asc', since: cursor.since, per_page: perPage, page, ...conditional
      }, ctx.signal)
      if (res === 'not-modified') return { events: [], cursor: text, hasMore: false }
      if (res === 'gone') throw new WebhookErrors.WEBHOOK_PULL_UNAUTHORIZED(`GitHub answered 404 for the issues of ${owner}/${repo}: the repository was deleted, or the token cannot see it`)
      const items = Array.isArray(res.data) ? res.data as Array<Record<string, any>> : []
      if (page === start && start > 1 && items.length > 0 && !isSeen(items[0])) {
        // More than a page shifted: start over from the first page of the second.
        start = page = 1
        continue
      }
      if (page === start) etag = headerOf(res, 'etag')
      hasNext = /rel="next"/.test(headerOf(res, 'link') ?? '')
      fresh.push(...items.filter((item) => !isSeen(item)))
      if (fresh.length > 0 || !hasNext) break
      page++
    }
    if (fresh.length === 0) {
      // Nothing new: keep the ETag only if the request it answered is the whole listing, asked again as it is.
      const next: Cursor = page === start && etag !== undefined ? { ...cursor, etag } : { since: cursor.since, seen: cursor.seen }
      return { events: [], cursor: JSON.stringify(next), hasMore: false }
    }
    const last = String(fresh[fresh.length - 1].updated_at)
    const lastMs = timeMs(last)
    const atLast = fresh.filter((item) => timeMs(item.updated_at) === lastMs).map((item) => item.number as number)
    const next: Cursor = { since: last, seen: lastMs === sinceMs ? [...seen, ...atLast] : atLast }
    return { events: fresh.map(toChange), cursor: JSON.stringify(next), hasMore: hasNext }
  }

  return {
    source,
    fetchChanges,
    initialCursor: () => JSON.stringify({ since: isoSeconds(Date.now() - lookbackMs), seen: [] } satisfies Cursor)
  }
}

/** GitHub's `since` format: ISO 8601 in whole seconds. */
function isoSeconds (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

function parseCursor (text: string): Cursor {
  let value: unknown
  try { value = JSON.parse(text) } catch { value = undefined }
  const c = value as Partial<Cursor> | undefined
  if (typeof c !== 'object' || c === null || typeof c.since !== 'string' || timeMs(c.since) === undefined ||
    !Array.isArray(c.seen) || !c.seen.every((n) => typeof n === 'number')) {
    throw new WebhookErrors.WEBHOOK_PULL_REJECTED(`githubPoll(): the cursor is not one this helper wrote: ${text.slice(0, 80)}`)
  }
  return { since: c.since, seen: c.seen, ...(typeof c.etag === 'string' ? { etag: c.etag } : {}) }
}
