import t from 'tap'
import type { Test } from 'tap'
import { Octokit } from '@octokit/rest'
import { githubPull, githubPoll, type PulledState } from '../../pull/index.js'
import { providers } from '../../providers/index.js'
import { createPoller, type Poller } from '../../poller/poller.js'
import { safeJobId } from '../../core/job-id.js'
import type { WebhookEvent } from '../../core/event.js'
import type { WorkerContext } from '../../worker/options.js'
import { queueFixture, startWorker, waitFor, sleep, type QueueFixture } from '../helpers/worker.js'
import { buildApp } from '../helpers/webhook.js'
import { uniqueName } from '../helpers/redis.js'
import { startGitHubApi, type GitHubFake } from '../../scripts/fakes/github-api.mjs'

t.setTimeout(60_000)

const REPO = 'octo/hello-world'
const repository = { full_name: REPO, name: 'hello-world', owner: { login: 'octo' } }
const quiet = { debug () {}, info () {}, warn () {}, error () {} }

async function fake (t: Test): Promise<{ api: GitHubFake, client: Octokit }> {
  const api = await startGitHubApi()
  t.teardown(api.close)
  return { api, client: new Octokit({ auth: api.token, baseUrl: api.url, log: quiet }) }
}

let n = 0
function event (type: string, payload: Record<string, unknown>): WebhookEvent {
  return { v: 1, id: `1:e2e-${process.pid}-${++n}`, source: 'github', type, headers: {}, receivedAt: Date.now(), origin: 'webhook', payload: { repository, ...payload } }
}

interface Applied { state: PulledState<any> | null, event: WebhookEvent, attempt: number, attemptsMade: number }

function recorder (): { applied: Applied[], apply: (state: PulledState<any> | null, event: WebhookEvent, ctx: WorkerContext) => void } {
  const applied: Applied[] = []
  return { applied, apply: (state, event, ctx) => { applied.push({ state, event, attempt: ctx.attempt, attemptsMade: ctx.job.attemptsMade }) } }
}

async function drained (q: QueueFixture): Promise<void> {
  await waitFor(async () => {
    const c = await q.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized')
    return c.wait + c.active + c.delayed + c.prioritized === 0
  }, 20_000, 'an empty queue')
  await sleep(300)
}

function poller (t: Test, q: QueueFixture, hooks: ReturnType<typeof githubPoll>, extra: { maxPagesPerRun?: number } = {}): Poller {
  const p = createPoller({ connection: q.url, queueName: q.queueName, prefix: q.prefix, pollQueueName: uniqueName('poll'), runOnStart: false, logger: false, ...hooks, ...extra })
  t.teardown(async () => { await p.close() })
  return p
}

const versionKey = (a: Applied): string => a.state === null ? 'null' : `${a.state.kind}:${a.state.id}@${a.state.version}`

t.test('a signed webhook and a poll of the same change apply once', async (t) => {
  const { api, client } = await fake(t)
  api.clock.set(Date.now() - 10_000)
  const issue = api.createIssue(REPO, { title: 'once' })
  api.clock.set(Date.now())
  const provider = providers.github({ secret: 'hook secret' })
  const q = queueFixture(t)
  const { app } = await buildApp(t, { provider, source: 'github', path: '/github', queueName: q.queueName })
  const { applied, apply } = recorder()
  const handle = await startWorker(t, q, { ...githubPull({ client }), apply, logger: false })
  const payload = JSON.stringify({ action: 'opened', issue: { number: issue.number, title: 'once' }, repository })
  const res = await app.inject({ method: 'POST', url: '/github', payload, headers: provider.sign(payload, { event: 'issues' }) })
  t.equal(res.statusCode, 202, res.body)
  const p = poller(t, q, githubPoll({ client, owner: 'Octo', repo: 'Hello-World' }))
  const run = await p.runOnce()
  t.match(run, { events: 1 })
  await waitFor(() => applied.length >= 1, 15_000, 'an apply')
  await drained(q)
  t.equal(applied.length, 1, 'one apply for the change')
  t.match(applied[0].state, { kind: 'issue', object: { number: issue.number, title: 'once' } })
  t.equal(handle.stats().unchanged, 1, 'the other copy hydrated the same version and was skipped')
})

t.test('two changes in one second, the first webhook fetched between them: the second state is applied', async (t) => {
  const { api, client } = await fake(t)
  const second = Math.floor(Date.now() / 1000) * 1000 + 20_000
  api.clock.freeze(second + 100)
  const issue = api.createIssue(REPO, { title: 'first' })
  const q = queueFixture(t)
  const { applied, apply } = recorder()
  const handle = await startWorker(t, q, { ...githubPull({ client, settleMs: 1000 }), apply, logger: false })
  const path = `/repos/${REPO}/issues/${issue.number}`
  await q.add(event('issues', { action: 'opened', issue: { number: issue.number } }))
  await waitFor(() => api.count(path) >= 1, 10_000, 'the first fetch')
  api.updateIssue(REPO, issue.number, { title: 'second' }, { at: second + 400 })
  api.clock.resume()
  await q.add(event('issues', { action: 'edited', issue: { number: issue.number } }))
  await waitFor(() => applied.length >= 1, 15_000, 'an apply')
  await drained(q)
  t.same(applied.map((a) => a.state?.object.title), ['second'], 'the last state of the second, applied once')
  t.equal(handle.stats().unchanged, 1, 'the second webhook found it applied')
})

t.test('a 429 storm pauses hydration without spending attempts', async (t) => {
  const { api, client } = await fake(t)
  api.clock.set(Date.now() - 10_000)
  const issue = api.createIssue(REPO)
  api.clock.set(Date.now())
  api.failNext(3, { status: 429, headers: { 'retry-after': '1' } })
  const q = queueFixture(t)
  const { applied, apply } = recorder()
  const handle = await startWorker(t, q, { ...githubPull({ client }), apply, logger: false, retry: { attempts: 2 } })
  await q.add(event('issues', { action: 'edited', issue: { number: issue.number } }))
  await waitFor(() => applied.length >= 1, 20_000, 'the apply after the storm')
  t.equal(api.requests.filter((r) => r.status === 429).length, 3, 'three 429s answered')
  t.match(applied, [{ attempt: 1, attemptsMade: 0, state: { object: { number: issue.number } } }], 'applied on the first attempt')
  t.ok(handle.stats().rateLimited >= 3, 'given back without an attempt each time')
  t.equal(handle.stats().deadLettered, 0)
})

t.test('a deletion ends as a tombstone, and an older state fetched before it is skipped', async (t) => {
  const { api, client } = await fake(t)
  api.clock.set(Date.now() - 10_000)
  const issue = api.createIssue(REPO, { title: 'doomed' })
  api.clock.set(Date.now())
  const pull = githubPull({ client })
  const q = queueFixture(t)
  const { applied, apply } = recorder()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const handle = await startWorker(t, q, {
    ...pull,
    concurrency: 2,
    logger: false,
    // Distinct hydrate functions, so the deletion does not wait for the held edit's call.
    handlers: {
      github: {
        'issues.edited': { hydrate: async (e, ctx) => { const state = await pull.hydrate(e, ctx); await gate; return state } },
        'issues.deleted': { hydrate: async (e, ctx) => await pull.hydrate(e, ctx) }
      }
    },
    apply
  })
  await q.add(event('issues', { action: 'edited', issue: { number: issue.number } }))
  await waitFor(() => api.count(`/repos/${REPO}/issues/${issue.number}`) >= 1, 10_000, 'the edit fetched')
  api.deleteIssue(REPO, issue.number)
  await q.add(event('issues', { action: 'deleted', issue: { number: issue.number } }))
  await waitFor(() => applied.length >= 1, 10_000, 'the deletion applied')
  release()
  await waitFor(() => handle.stats().stale >= 1, 10_000, 'the older state skipped')
  await drained(q)
  t.same(applied.map((a) => a.state), [null], 'only the tombstone applied')
  // A later event finds the issue gone (410): another null, applied as a deletion.
  await q.add(event('issues', { action: 'labeled', issue: { number: issue.number } }))
  await waitFor(() => applied.length >= 2, 10_000, 'the later event')
  t.equal(applied[1].state, null)
})

t.test('a wrong token is dead-lettered at once with WEBHOOK_PULL_UNAUTHORIZED', async (t) => {
  const { api } = await fake(t)
  const issue = api.createIssue(REPO)
  const q = queueFixture(t)
  const { applied, apply } = recorder()
  const handle = await startWorker(t, q, { ...githubPull({ client: new Octokit({ auth: 'wrong', baseUrl: api.url, log: quiet }) }), apply, logger: false })
  const e = event('issues', { action: 'edited', issue: { number: issue.number } })
  await q.add(e)
  const letter = await waitFor(async () => await handle.deadLetters.get(safeJobId('github', e.id)), 10_000, 'the dead letter')
  t.match(letter, { stage: 'hydrate', attemptsMade: 1, error: { code: 'WEBHOOK_PULL_UNAUTHORIZED', message: /GitHub answered 401/ } })
  t.equal(applied.length, 0)
  t.equal(api.requests.filter((r) => r.status === 401).length, 1, 'no retry')
})

t.test('poller and worker: pages sharing a second, updates and inserts during the poll, each change applied once', async (t) => {
  const { api, client } = await fake(t)
  const start = Math.floor(Date.now() / 1000) * 1000 - 60_000
  api.clock.freeze(start)
  const numbers = Array.from({ length: 12 }, () => api.createIssue(REPO).number as number)
  api.clock.freeze(start + 1000)
  numbers.push(...Array.from({ length: 6 }, () => api.createIssue(REPO).number as number))
  numbers.push(api.createPull(REPO).number as number)
  api.clock.freeze(start + 5000)
  let listings = 0
  api.onRequest((r) => {
    if (!r.path.endsWith('/issues')) return
    listings++
    if (listings === 2) api.updateIssue(REPO, numbers[0], { title: 'listed, then edited' })
    if (listings === 3) api.updateIssue(REPO, numbers[15], { title: 'edited before listed' })
    if (listings === 4) numbers.push(api.createIssue(REPO, { title: 'opened during the poll' }).number as number)
  })
  api.clock.resume()
  api.clock.set(start + 10_000)
  const q = queueFixture(t)
  const { applied, apply } = recorder()
  await startWorker(t, q, { ...githubPull({ client }), apply, logger: false, concurrency: 4 })
  const p = poller(t, q, githubPoll({ client, owner: 'octo', repo: 'hello-world', perPage: 5, lookbackMs: 120_000 }), { maxPagesPerRun: 50 })
  const run = await p.runOnce()
  t.match(run, { hasMore: false })
  t.ok(listings >= 6, `paged (${listings} listings)`)
  await waitFor(() => new Set(applied.map((a) => a.state?.id)).size >= numbers.length, 20_000, 'every object applied')
  await drained(q)
  const keys = applied.map(versionKey)
  t.same(keys.filter((k, i) => keys.indexOf(k) !== i), [], 'no state applied twice')
  for (const number of numbers) {
    const mine = applied.filter((a) => a.state?.id === `${REPO}#${number}`)
    t.ok(mine.length >= 1, `#${number} applied`)
    t.match(mine.at(-1)?.state?.object, { number }, `#${number}: its current state last`)
  }
  t.equal(applied.find((a) => a.state?.object.number === numbers[0] && a.state.object.title === 'listed, then edited') !== undefined, true, 'the update during the poll applied')
})
