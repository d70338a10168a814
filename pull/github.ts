/**
 * GitHub: `githubPull` hydrates each webhook from the REST API (the issue,
 * pull request, comment… the event names, settled past its second-resolution
 * `updated_at`), and `githubPoll` lists a repository's issues and pull
 * requests updated since a cursor.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { WebhookEvent } from '../core/event.js'
import { WebhookErrors } from '../core/errors.js'
import { PermanentError, pulledVersion, pullHooks, type PulledState, type PullHooks } from './common.js'
import {
  callGitHub, headerOf, integerOption, resolveConnection, type GitHubClient, type GitHubConnectionOptions, type GitHubResponse
} from './github-api.js'
import { GITHUB_KINDS, githubObjectKey, objectTime, repositoryOf, type GitHubKind } from './github-kinds.js'

export type { GitHubClient, GitHubResponse, GitHubConnectionOptions } from './github-api.js'
export { githubPoll, type GitHubPollOptions, type GitHubPoll } from './github-poll.js'

/** Options of {@link githubPull}. */
export interface GitHubPullOptions extends GitHubConnectionOptions {
  /**
   * How long after an object's `updated_at` (GitHub's clock, the `Date`
   * header) a fetched state is taken as the last one of its second; a younger
   * one is fetched again after the remainder. `0` turns settling off, and with
   * it `skipEqualVersion`. An integer from 0 to 60000.
   * @defaultValue `2000`
   */
  settleMs?: number
}

/** The fetches of one hydrate spent waiting for a state to settle, the first included. */
const SETTLE_FETCHES = 4
const OWN_KEYS = ['settleMs'] as const

/**
 * The worker hooks for GitHub webhooks: spread them into `createWebhookWorker`.
 *
 * `hydrate` fetches the object the event names (see `GITHUB_KINDS`: an
 * `issues` event its issue, `pull_request` and its reviews the pull request,
 * `issue_comment` the comment, …) and returns `{ kind, id, object, version }`,
 * `version` being `updated_at` in ms. An event whose action is `deleted` or
 * `transferred`, an object that answers 404 or 410, or one that redirects to
 * another repository (a transferred issue) gives `null`, a tombstone. An
 * event of a type with no object to fetch (`push`, `ping`, `workflow_job`, …)
 * is not fetched: its payload is the state (`kind` its type, `version` its
 * receipt time) and it is unordered.
 *
 * `updated_at` has second resolution, so a state is used only once GitHub's
 * clock is `settleMs` past it: no later change can then share its version,
 * and `skipEqualVersion` lets a webhook and a poll of one change apply once.
 */
export function githubPull (options: GitHubPullOptions): PullHooks<unknown> {
  const fn = 'githubPull()'
  const { source, client } = resolveConnection(fn, options, OWN_KEYS)
  const settleMs = integerOption(fn, 'settleMs', options.settleMs, 2000, 0, 60_000)

  function objectKey (event: WebhookEvent): string | undefined {
    const kind = GITHUB_KINDS[event.type]
    const payload = asObject(event.payload)
    const repo = repositoryOf(payload)
    const id = kind?.idOf(payload)
    if (kind === undefined || !kind.ordered || repo === undefined || id === undefined) return undefined
    return githubObjectKey(kind.kind, repo.owner, repo.repo, id)
  }

  async function hydrate (event: WebhookEvent, ctx: { signal: AbortSignal }): Promise<PulledState | null> {
    const kind = GITHUB_KINDS[event.type]
    const payload = asObject(event.payload)
    if (kind === undefined) return { kind: event.type, id: event.id, object: payload, version: event.receivedAt }
    const repo = repositoryOf(payload)
    const id = kind.idOf(payload)
    if (repo === undefined || id === undefined) {
      throw new PermanentError(`${fn}: a '${event.type}' event without repository owner and name, or without the ${kind.kind}'s id`)
    }
    if (payload.action === 'deleted' || payload.action === 'transferred') return null
    const c = await client()
    const params = { owner: repo.owner, repo: repo.repo, ...(kind.param === '' ? {} : { [kind.param]: id }) }
    for (let fetch = 1; ; fetch++) {
      const res = await callGitHub(c, kind.route, params, ctx.signal)
      if (res === 'not-modified') throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`GitHub answered 304 to ${kind.route} without a conditional request`)
      if (res === 'gone') return await confirmGone(c, kind, repo, ctx.signal)
      if (movedAway(res, repo, kind)) return null
      const object = asObject(res.data)
      const state: PulledState = { kind: kind.kind, id: `${repo.owner}/${repo.repo}#${id}`, object, version: objectTime(object) ?? event.receivedAt }
      const wait = kind.ordered && settleMs > 0 ? state.version + settleMs - githubNow(res) : 0
      if (wait <= 0) return state
      if (fetch === SETTLE_FETCHES) {
        throw new WebhookErrors.WEBHOOK_PULL_UNAVAILABLE(`GitHub's ${kind.kind} ${state.id} kept changing for ${fetch} fetches; retrying later`)
      }
      await sleep(wait, undefined, { signal: ctx.signal })
    }
  }

  return pullHooks(source, { hydrate, objectKey, version: pulledVersion, skipEqualVersion: settleMs > 0 })
}

/**
 * A 404 from GitHub also means "you may not see this": it is a deletion only
 * if the repository itself is still visible. A repository that answers 404
 * too (deleted, or beyond the token's reach) is a permanent failure, so a
 * token without access dead-letters its events instead of tombstoning them.
 */
async function confirmGone (client: GitHubClient, kind: GitHubKind, repo: { owner: string, repo: string }, signal: AbortSignal): Promise<null> {
  if (kind.kind === 'repository') return null
  const res = await callGitHub(client, 'GET /repos/{owner}/{repo}', repo, signal)
  if (res === 'gone') {
    throw new WebhookErrors.WEBHOOK_PULL_UNAUTHORIZED(`GitHub answered 404 for the repository ${repo.owner}/${repo.repo}: it was deleted, or the token cannot see it`)
  }
  return null
}

/**
 * True when the answer came from another repository than the one asked
 * (GitHub redirects a transferred issue, and a renamed repository, with a
 * 301 that Octokit's fetch follows): the object under this key is gone.
 */
function movedAway (res: GitHubResponse, repo: { owner: string, repo: string }, kind: GitHubKind): boolean {
  if (kind.kind === 'repository' || res.url === undefined || res.url === '') return false
  const m = /\/repos\/([^/]+)\/([^/?#]+)/.exec(res.url)
  return m !== null && `${m[1]}/${m[2]}`.toLowerCase() !== `${repo.owner}/${repo.repo}`.toLowerCase()
}

/** GitHub's clock at the answer: its `Date` header, else ours. */
function githubNow (res: GitHubResponse): number {
  const date = Date.parse(headerOf(res, 'date') ?? '')
  return Number.isNaN(date) ? Date.now() : date
}

function asObject (value: unknown): Record<string, any> {
  return typeof value === 'object' && value !== null ? value as Record<string, any> : {}
}
