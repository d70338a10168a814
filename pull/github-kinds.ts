/**
 * Which object each GitHub webhook event names, and where the REST API keeps
 * its current state.
 */
import { timeMs } from './common.js'

/** One kind of object a GitHub event can name. */
export interface GitHubKind {
  /** The object's kind in the object key (`issue`, `pull_request`, …). */
  kind: string
  /** The REST route of one object. */
  route: string
  /** The route parameter naming the object. */
  param: string
  /** Reads the object's id (the route parameter) from the event's payload. */
  idOf: (payload: Record<string, any>) => string | number | undefined
  /**
   * True when the object has an `updated_at` (second resolution, settled
   * before use) and so a key and a version the worker can order by; false
   * leaves its events unordered (`objectKey` undefined).
   */
  ordered: boolean
}

const issue: GitHubKind = { kind: 'issue', route: 'GET /repos/{owner}/{repo}/issues/{issue_number}', param: 'issue_number', idOf: (p) => p.issue?.number, ordered: true }
const pull: GitHubKind = { kind: 'pull_request', route: 'GET /repos/{owner}/{repo}/pulls/{pull_number}', param: 'pull_number', idOf: (p) => p.pull_request?.number, ordered: true }

/** The kinds by `X-GitHub-Event`. Events not listed here are not fetched (see `githubPull`). */
export const GITHUB_KINDS: Readonly<Record<string, GitHubKind>> = Object.freeze({
  issues: issue,
  pull_request: pull,
  // A review and a review thread are read through their pull request, whose `updated_at` they move.
  pull_request_review: pull,
  pull_request_review_thread: pull,
  pull_request_review_comment: { kind: 'pull_request_review_comment', route: 'GET /repos/{owner}/{repo}/pulls/comments/{comment_id}', param: 'comment_id', idOf: (p) => p.comment?.id, ordered: true },
  issue_comment: { kind: 'issue_comment', route: 'GET /repos/{owner}/{repo}/issues/comments/{comment_id}', param: 'comment_id', idOf: (p) => p.comment?.id, ordered: true },
  commit_comment: { kind: 'commit_comment', route: 'GET /repos/{owner}/{repo}/comments/{comment_id}', param: 'comment_id', idOf: (p) => p.comment?.id, ordered: true },
  milestone: { kind: 'milestone', route: 'GET /repos/{owner}/{repo}/milestones/{milestone_number}', param: 'milestone_number', idOf: (p) => p.milestone?.number, ordered: true },
  workflow_run: { kind: 'workflow_run', route: 'GET /repos/{owner}/{repo}/actions/runs/{run_id}', param: 'run_id', idOf: (p) => p.workflow_run?.id, ordered: true },
  check_suite: { kind: 'check_suite', route: 'GET /repos/{owner}/{repo}/check-suites/{check_suite_id}', param: 'check_suite_id', idOf: (p) => p.check_suite?.id, ordered: true },
  deployment: { kind: 'deployment', route: 'GET /repos/{owner}/{repo}/deployments/{deployment_id}', param: 'deployment_id', idOf: (p) => p.deployment?.id, ordered: true },
  repository: { kind: 'repository', route: 'GET /repos/{owner}/{repo}', param: '', idOf: (p) => p.repository?.id, ordered: true },
  // No `updated_at` (a check run has `started_at`/`completed_at`, a release an optional one, a label none): unordered.
  check_run: { kind: 'check_run', route: 'GET /repos/{owner}/{repo}/check-runs/{check_run_id}', param: 'check_run_id', idOf: (p) => p.check_run?.id, ordered: false },
  release: { kind: 'release', route: 'GET /repos/{owner}/{repo}/releases/{release_id}', param: 'release_id', idOf: (p) => p.release?.id, ordered: false },
  label: { kind: 'label', route: 'GET /repos/{owner}/{repo}/labels/{name}', param: 'name', idOf: (p) => p.label?.name, ordered: false }
})

/** The owner and name of the event's repository, as the payload spells them. */
export function repositoryOf (payload: Record<string, any>): { owner: string, repo: string } | undefined {
  const r = payload.repository
  const owner = r?.owner?.login ?? (typeof r?.full_name === 'string' ? r.full_name.split('/')[0] : undefined)
  const repo = r?.name ?? (typeof r?.full_name === 'string' ? r.full_name.split('/')[1] : undefined)
  return typeof owner === 'string' && typeof repo === 'string' && owner !== '' && repo !== '' ? { owner, repo } : undefined
}

/**
 * `github:<kind>:<owner>/<repo>#<id>`, owner and repository lower-cased:
 * GitHub's names are case-insensitive, and a poller configured as `Octo/Repo`
 * must key the same objects as webhooks that say `octo/repo`.
 */
export function githubObjectKey (kind: string, owner: string, repo: string, id: string | number): string {
  return `github:${kind}:${owner.toLowerCase()}/${repo.toLowerCase()}#${id}`
}

/** The best time an object has, in ms: its `updated_at`, else when it last moved, else `undefined`. */
export function objectTime (object: Record<string, any>): number | undefined {
  return timeMs(object.updated_at) ?? timeMs(object.completed_at) ?? timeMs(object.published_at) ??
    timeMs(object.started_at) ?? timeMs(object.created_at)
}
