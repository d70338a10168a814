import t from 'tap'
import type { Test } from 'tap'
import { Octokit } from '@octokit/rest'
import { Octokit as CoreOctokit } from '@octokit/core'
import { githubPull, githubPoll, type GitHubClient } from '../../pull/index.js'
import { RateLimitedError } from '../../core/hook-errors.js'
import type { WebhookEvent } from '../../core/event.js'
import type { WorkerContext } from '../../worker/options.js'
import type { PollContext } from '../../poller/poll-page.js'
import { startGitHubApi, type GitHubFake } from '../../scripts/fakes/github-api.mjs'

t.setTimeout(30_000)

const REPO = 'Octo/Hello-World'

// The real SDKs fit the structural client: `@octokit/rest`'s Octokit and the core one.
const restClient: GitHubClient = new Octokit({ auth: 'x', baseUrl: 'http://127.0.0.1:1' })
const coreClient: GitHubClient = new CoreOctokit({ auth: 'x', baseUrl: 'http://127.0.0.1:1' })
t.test('the real Octokit clients fit GitHubClient', async (t) => {
  t.type(restClient.request, 'function')
  t.type(coreClient.request, 'function')
})

async function fake (t: Test): Promise<{ api: GitHubFake, client: Octokit }> {
  const api = await startGitHubApi()
  t.teardown(api.close)
  return { api, client: new Octokit({ auth: api.token, baseUrl: api.url, log: { debug () {}, info () {}, warn () {}, error () {} } }) }
}

let n = 0
function event (type: string, payload: Record<string, unknown>, fullName = REPO): WebhookEvent {
  const [owner, name] = fullName.split('/')
  return {
    v: 1,
    id: `1:delivery-${++n}`,
    source: 'github',
    type,
    headers: {},
    receivedAt: Date.now(),
    origin: 'webhook',
    payload: { repository: { full_name: fullName, name, owner: { login: owner } }, ...payload }
  }
}

const ctx = (): WorkerContext => ({ signal: new AbortController().signal } as unknown as WorkerContext)

t.test('options are checked at creation, with coded errors naming the helper', async (t) => {
  const client = new Octokit({ auth: 'x' })
  const cases: Array<[() => unknown, RegExp]> = [
    [() => githubPull(undefined as never), /^githubPull\(\): Expected `options` to be an object/],
    [() => githubPull({} as never), /^githubPull\(\): give `client`/],
    [() => githubPull({ client, settle: 5 } as never), /^githubPull\(\): unknown option `settle`/],
    [() => githubPull({ client, auth: 'x' }), /^githubPull\(\): give either `client` or `auth`/],
    [() => githubPull({ client: {} as never }), /^githubPull\(\): Expected `client` to be an Octokit/],
    [() => githubPull({ client, settleMs: -1 }), /^githubPull\(\): Expected `settleMs` to be an integer from 0 to 60000/],
    [() => githubPull({ client, source: 'no spaces' }), /^githubPull\(\): Expected `source` to be a string matching/],
    [() => githubPull({ auth: '' }), /^githubPull\(\): Expected `auth` to be a non-empty string/],
    [() => githubPoll({ client, repo: 'r' } as never), /^githubPoll\(\): Expected `owner` to be a non-empty string/],
    [() => githubPoll({ client, owner: 'o', repo: 'r', perPage: 101 }), /^githubPoll\(\): Expected `perPage` to be an integer from 1 to 100/],
    [() => githubPoll({ client, owner: 'o', repo: 'r', lookbackMs: 1.5 }), /^githubPoll\(\): Expected `lookbackMs` to be an integer/]
  ]
  for (const [make, message] of cases) {
    t.throws(make, { code: 'WEBHOOK_INVALID_OPTION', message }, message.source)
  }
  const pull = githubPull({ client })
  t.equal(pull.source, 'github')
  t.equal(pull.skipEqualVersion, true, 'settled versions name one state')
  t.equal(githubPull({ client, settleMs: 0 }).skipEqualVersion, false, 'without settling, equal versions may be two states')
  t.equal(githubPull({ auth: 'token', source: 'gh' }).source, 'gh', 'a token alone is enough: Octokit is made on first use')
})

t.test('every mapped event type hydrates its object, keyed and versioned', async (t) => {
  const { api, client } = await fake(t)
  const issue = api.createIssue(REPO, { title: 'bug' })
  const pull = api.createPull(REPO, { title: 'fix' })
  const base = `/repos/${REPO}`
  const put = (path: string, fields: Record<string, unknown> = {}): Record<string, any> => api.putObject(`${base}/${path}`, fields)
  const issueComment = put('issues/comments/501', { id: 501, body: 'hi' })
  const reviewComment = put('pulls/comments/502', { id: 502, body: 'nit' })
  const commitComment = put('comments/503', { id: 503, body: 'lgtm' })
  const milestone = put('milestones/4', { number: 4, title: 'v1' })
  const run = put('actions/runs/77', { id: 77, status: 'completed' })
  const suite = put('check-suites/88', { id: 88, status: 'queued' })
  const deployment = put('deployments/99', { id: 99, environment: 'prod' })
  const checkRun = api.putObject(`${base}/check-runs/66`, { id: 66, status: 'completed', started_at: '2026-01-01T00:00:00Z', completed_at: '2026-01-01T00:01:00Z' }, { stamp: false })
  const release = api.putObject(`${base}/releases/55`, { id: 55, tag_name: 'v1', created_at: '2026-01-02T00:00:00Z', published_at: '2026-01-02T00:05:00Z' }, { stamp: false })
  const label = api.putObject(`${base}/labels/bug`, { id: 44, name: 'bug', color: 'f00' }, { stamp: false })
  const repository = api.createRepo(REPO)
  // GitHub's clock moves on: every state is past its second and settled.
  api.clock.set(Date.now() + 5000)
  const hooks = githubPull({ client })
  const ms = (iso: string): number => Date.parse(iso)
  const cases: Array<[string, Record<string, unknown>, string, unknown, number, string | undefined]> = [
    ['issues', { action: 'edited', issue: { number: issue.number } }, 'issue', issue.number, ms(issue.updated_at), `github:issue:octo/hello-world#${issue.number}`],
    ['pull_request', { action: 'synchronize', pull_request: { number: pull.number } }, 'pull_request', pull.number, ms(pull.updated_at), `github:pull_request:octo/hello-world#${pull.number}`],
    ['pull_request_review', { action: 'submitted', review: { id: 1 }, pull_request: { number: pull.number } }, 'pull_request', pull.number, ms(pull.updated_at), `github:pull_request:octo/hello-world#${pull.number}`],
    ['pull_request_review_thread', { action: 'resolved', pull_request: { number: pull.number } }, 'pull_request', pull.number, ms(pull.updated_at), `github:pull_request:octo/hello-world#${pull.number}`],
    ['pull_request_review_comment', { action: 'edited', comment: { id: 502 }, pull_request: { number: pull.number } }, 'pull_request_review_comment', 502, ms(reviewComment.updated_at), 'github:pull_request_review_comment:octo/hello-world#502'],
    ['issue_comment', { action: 'created', comment: { id: 501 }, issue: { number: issue.number } }, 'issue_comment', 501, ms(issueComment.updated_at), 'github:issue_comment:octo/hello-world#501'],
    ['commit_comment', { action: 'created', comment: { id: 503 } }, 'commit_comment', 503, ms(commitComment.updated_at), 'github:commit_comment:octo/hello-world#503'],
    ['milestone', { action: 'edited', milestone: { number: 4 } }, 'milestone', 4, ms(milestone.updated_at), 'github:milestone:octo/hello-world#4'],
    ['workflow_run', { action: 'completed', workflow_run: { id: 77 } }, 'workflow_run', 77, ms(run.updated_at), 'github:workflow_run:octo/hello-world#77'],
    ['check_suite', { action: 'completed', check_suite: { id: 88 } }, 'check_suite', 88, ms(suite.updated_at), 'github:check_suite:octo/hello-world#88'],
    ['deployment', { action: 'created', deployment: { id: 99 } }, 'deployment', 99, ms(deployment.updated_at), 'github:deployment:octo/hello-world#99'],
    ['repository', { action: 'edited' }, 'repository', repository.id, ms(repository.updated_at), `github:repository:octo/hello-world#${String(repository.id)}`],
    ['check_run', { action: 'completed', check_run: { id: 66 } }, 'check_run', 66, ms(checkRun.completed_at), undefined],
    ['release', { action: 'edited', release: { id: 55 } }, 'release', 55, ms(release.published_at), undefined],
    ['label', { action: 'edited', label: { name: 'bug' } }, 'label', 'bug', Date.now(), undefined]
  ]
  for (const [type, payload, kind, id, version, key] of cases) {
    const e = event(type, { ...payload, repository: { ...repository } })
    const state = await hooks.hydrate(e, ctx())
    t.ok(state !== null, `${type}: a state`)
    t.equal(state?.kind, kind, `${type}: kind`)
    t.match(state?.object, kind === 'repository' ? { full_name: REPO } : kind === 'label' ? { name: 'bug' } : { [typeof id === 'number' && ['issue', 'pull_request', 'milestone'].includes(kind) ? 'number' : 'id']: id }, `${type}: the object named`)
    if (kind === 'label') t.ok(Math.abs((state?.version ?? 0) - e.receivedAt) < 1, 'label: no time of its own, the event\'s')
    else t.equal(state?.version, version, `${type}: version`)
    t.equal(hooks.objectKey(e), key, `${type}: object key`)
  }
  t.equal(label.id, 44)
  t.equal(api.count(`/repos/${REPO}/pulls/${pull.number}`), 3, 'reviews and threads refetch their pull request')
})

t.test('deletions, 404, 410, transfers and an invisible repository', async (t) => {
  const { api, client } = await fake(t)
  const hooks = githubPull({ client })
  const deletedIssue = api.createIssue(REPO)
  const transferred = api.createIssue(REPO)
  api.putObject(`/repos/${REPO}/issues/comments/7`, { id: 7 })
  api.clock.set(Date.now() + 5000)
  const before = api.requests.length
  t.equal(await hooks.hydrate(event('issues', { action: 'deleted', issue: { number: deletedIssue.number } }), ctx()), null, 'action deleted: a tombstone')
  t.equal(await hooks.hydrate(event('issue_comment', { action: 'deleted', comment: { id: 7 } }), ctx()), null)
  t.equal(api.requests.length, before, 'without a fetch')
  api.deleteIssue(REPO, deletedIssue.number)
  t.equal(await hooks.hydrate(event('issues', { action: 'edited', issue: { number: deletedIssue.number } }), ctx()), null, '410 after a deletion: a tombstone')
  api.removeObject(`/repos/${REPO}/issues/comments/7`)
  t.equal(await hooks.hydrate(event('issue_comment', { action: 'edited', comment: { id: 7 } }), ctx()), null, '404 in a visible repository: a tombstone')
  const moved = api.transferIssue(REPO, transferred.number, 'octo/elsewhere')
  t.equal(await hooks.hydrate(event('issues', { action: 'edited', issue: { number: transferred.number } }), ctx()), null, 'a transferred issue (301 to another repository): a tombstone')
  t.equal(api.requests.at(-1)?.path, `/repos/octo/elsewhere/issues/${moved.number}`, 'Octokit followed the redirect')
  await t.rejects(hooks.hydrate(event('issues', { action: 'edited', issue: { number: 1 } }, 'octo/invisible'), ctx()),
    { code: 'WEBHOOK_PULL_UNAUTHORIZED', name: 'PermanentError', message: /repository octo\/invisible: it was deleted, or the token cannot see it/ },
    'a 404 for the repository too is no deletion: the token may not see it')
  await t.rejects(hooks.hydrate(event('issues', { action: 'edited', issue: {} }), ctx()), { name: 'PermanentError', message: /without .* the issue's id/ })
})

t.test('unmapped types are not fetched: the payload is the state, unordered', async (t) => {
  const { api, client } = await fake(t)
  const hooks = githubPull({ client })
  const push = event('push', { ref: 'refs/heads/main', after: 'abc' })
  t.same(await hooks.hydrate(push, ctx()), { kind: 'push', id: push.id, object: push.payload, version: push.receivedAt })
  t.equal(hooks.objectKey(push), undefined)
  t.equal(hooks.objectKey(event('ping', { zen: 'hi' })), undefined)
  t.equal(api.requests.length, 0, 'no request')
})

t.test('failures map to the contract: rate limits pause, auth is permanent, 5xx retries', async (t) => {
  const { api, client } = await fake(t)
  const hooks = githubPull({ client, settleMs: 0 })
  const issue = api.createIssue(REPO)
  const e = (): WebhookEvent => event('issues', { action: 'edited', issue: { number: issue.number } })
  const reset = Math.floor(Date.now() / 1000) + 120
  const cases: Array<[Parameters<GitHubFake['failNext']>[1], (err: any) => void, string]> = [
    [{ status: 429, headers: { 'retry-after': '7' } }, (err) => { t.type(err, RateLimitedError); t.equal(err.retryAfterMs, 7000) }, '429 with retry-after'],
    [{ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, message: 'API rate limit exceeded for user' },
      (err) => { t.type(err, RateLimitedError); t.ok(err.retryAfterMs > 110_000 && err.retryAfterMs <= 120_000, `paused until the reset (${String(err.retryAfterMs)})`) }, 'primary limit spent'],
    [{ status: 403, message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' },
      (err) => { t.type(err, RateLimitedError); t.equal(err.retryAfterMs, 60_000) }, 'secondary limit by message'],
    [{ status: 403, headers: { 'retry-after': '30' }, message: 'secondary rate limit' }, (err) => { t.equal(err.retryAfterMs, 30_000) }, 'secondary limit with retry-after'],
    [{ status: 403, message: 'Resource not accessible by integration' }, (err) => { t.match(err, { name: 'PermanentError', code: 'WEBHOOK_PULL_UNAUTHORIZED' }) }, 'plain 403'],
    [{ status: 422, message: 'Validation Failed' }, (err) => { t.match(err, { name: 'PermanentError', code: 'WEBHOOK_PULL_REJECTED' }) }, '422'],
    [{ status: 502, message: 'Server Error' }, (err) => { t.match(err, { code: 'WEBHOOK_PULL_UNAVAILABLE' }); t.not(err.name, 'PermanentError') }, '502']
  ]
  for (const [failure, check, label] of cases) {
    api.failNext(1, failure)
    const err = await hooks.hydrate(e(), ctx()).then(() => undefined, (err: unknown) => err)
    t.ok(err !== undefined, `${label}: rejected`)
    check(err)
  }
  const wrong = githubPull({ client: new Octokit({ auth: 'wrong', baseUrl: api.url }) })
  await t.rejects(wrong.hydrate(e(), ctx()), { name: 'PermanentError', code: 'WEBHOOK_PULL_UNAUTHORIZED', message: /GitHub answered 401/ })
})

t.test('a fetch inside its second is settled: fetched again once GitHub\'s clock is settleMs past it', async (t) => {
  const { api, client } = await fake(t)
  const second = Math.floor(Date.now() / 1000) * 1000 + 10_000
  api.clock.freeze(second + 100)
  const issue = api.createIssue(REPO, { title: 'first' })
  const hooks = githubPull({ client, settleMs: 1000 })
  const path = `/repos/${REPO}/issues/${issue.number}`
  const hydrated = hooks.hydrate(event('issues', { action: 'opened', issue: { number: issue.number } }), ctx())
  while (api.count(path) === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  // A second change in the same second, after the first fetch.
  api.updateIssue(REPO, issue.number, { title: 'second' }, { at: second + 300 })
  api.clock.resume()
  const state = await hydrated
  t.match(state, { version: second, object: { title: 'second' } }, 'the last state of the second')
  t.ok(api.count(path) >= 2, 'fetched again')
  // An object that never settles (a clock stuck in its second) is a retryable failure, after a bounded number of fetches.
  api.clock.freeze(second + 100)
  const stuck = githubPull({ client, settleMs: 200 })
  const fetchesBefore = api.count(path)
  await t.rejects(stuck.hydrate(event('issues', { action: 'edited', issue: { number: issue.number } }), ctx()), { code: 'WEBHOOK_PULL_UNAVAILABLE', message: /kept changing for 4 fetches/ })
  t.equal(api.count(path) - fetchesBefore, 4)
  // An abort ends the wait at once.
  const controller = new AbortController()
  const waiting = stuck.hydrate(event('issues', { action: 'edited', issue: { number: issue.number } }), { signal: controller.signal } as unknown as WorkerContext)
  controller.abort(new Error('claim lost'))
  await t.rejects(waiting, { message: 'claim lost' })
})

interface Polled { id: string, type?: string, payload: any }

async function pollAll (t: Test, fetchChanges: ReturnType<typeof githubPoll>['fetchChanges'], cursor: string, between?: (page: number) => void): Promise<{ events: Polled[], cursor: string, pages: number }> {
  const events: Polled[] = []
  let pages = 0
  for (;;) {
    const page = await fetchChanges(cursor, { signal: new AbortController().signal, page: ++pages } as unknown as PollContext)
    if (page.hasMore) t.not(page.cursor, cursor, 'a page with more moves the cursor')
    events.push(...page.events)
    cursor = page.cursor
    between?.(pages)
    if (!page.hasMore) return { events, cursor, pages }
  }
}

t.test('polling: pages of one second longer than a page, updates and inserts during the poll: nothing skipped, nothing repeated', async (t) => {
  const { api, client } = await fake(t)
  const start = Math.floor(Date.now() / 1000) * 1000 - 60_000
  api.clock.freeze(start)
  const issues = Array.from({ length: 12 }, () => api.createIssue(REPO))
  api.clock.freeze(start + 1000)
  issues.push(...Array.from({ length: 5 }, () => api.createIssue(REPO)))
  const pulls = [api.createPull(REPO, { title: 'pr' })]
  api.clock.freeze(start + 2000)
  issues.push(...Array.from({ length: 3 }, () => api.createIssue(REPO)))
  const poll = githubPoll({ client, owner: 'octo', repo: 'hello-world', perPage: 5, lookbackMs: 120_000 })
  api.clock.resume()
  const initial = poll.initialCursor()
  t.match(JSON.parse(initial), { since: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, seen: [] })
  // During the poll: items already listed and items not yet listed are updated (they move to the end), new ones are opened.
  const changed: Array<Record<string, any>> = []
  api.clock.freeze(start + 3000)
  const { events } = await pollAll(t, poll.fetchChanges, initial, (page) => {
    if (page === 1) changed.push(api.updateIssue(REPO, issues[0].number, { title: 'listed, then edited' }))
    if (page === 2) changed.push(api.updateIssue(REPO, issues[10].number, { title: 'edited before it was listed' }))
    if (page === 3) changed.push(api.createIssue(REPO, { title: 'opened during the poll' }))
  })
  const ids = events.map((e) => e.id)
  t.same(ids.filter((id, i) => ids.indexOf(id) !== i), [], 'no id twice')
  const expected = new Set([
    ...[...issues, ...changed].map((i) => `github:issue:octo/hello-world#${String(i.number)}@${String(i.updated_at)}`),
    ...pulls.map((p) => `github:pull_request:octo/hello-world#${String(p.number)}@${String(p.updated_at)}`)
  ])
  const latest = new Set(events.map((e) => e.id))
  for (const id of expected) {
    // issues[10] changed before it was listed: its old version may never show; its new one must.
    if (id.includes(`#${String(issues[10].number)}@`) && !id.endsWith(String(changed[1].updated_at))) continue
    t.ok(latest.has(id), `listed ${id}`)
  }
  const pr = events.find((e) => e.type === 'pull_request')
  t.match(pr?.payload, { action: 'polled', pull_request: { number: pulls[0].number }, repository: { full_name: 'octo/hello-world', owner: { login: 'octo' }, name: 'hello-world' } })
  t.match(events.find((e) => e.type === 'issues')?.payload, { action: 'polled', issue: { number: Number } })
})

t.test('polling with nothing new asks again with If-None-Match: GitHub answers 304, free of rate limit', async (t) => {
  const { api, client } = await fake(t)
  api.clock.set(Date.now() - 10_000)
  api.createIssue(REPO)
  api.clock.set(Date.now())
  const poll = githubPoll({ client, owner: 'octo', repo: 'hello-world' })
  const first = await pollAll(t, poll.fetchChanges, poll.initialCursor())
  t.equal(first.events.length, 1)
  const quiet = await pollAll(t, poll.fetchChanges, first.cursor)
  t.equal(quiet.events.length, 0)
  t.ok(JSON.parse(quiet.cursor).etag, 'the ETag kept in the cursor')
  const remaining = api.rateLimit.remaining
  const again = await pollAll(t, poll.fetchChanges, quiet.cursor)
  t.same(again, { events: [], cursor: quiet.cursor, pages: 1 })
  t.equal(api.requests.at(-1)?.status, 304)
  t.equal(api.rateLimit.remaining, remaining, 'a 304 costs nothing')
  api.createIssue(REPO, { title: 'new' })
  const after = await pollAll(t, poll.fetchChanges, again.cursor)
  t.equal(after.events.length, 1, 'a change ends the 304s')
  await t.rejects(poll.fetchChanges('{"bad":1}', {} as PollContext), { code: 'WEBHOOK_PULL_REJECTED' })
  const gone = githubPoll({ client, owner: 'octo', repo: 'nope' })
  await t.rejects(gone.fetchChanges(gone.initialCursor(), {} as PollContext), { code: 'WEBHOOK_PULL_UNAUTHORIZED' })
})
