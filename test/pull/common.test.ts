import t from 'tap'
import Stripe from 'stripe'
import { Octokit } from '@octokit/rest'
import { combinePulls, githubPull, mapApiFailure, retryAfterMs, stripePull, type PulledState, type PullHooks } from '../../pull/index.js'
import { optionalSdk, pullHooks, timeMs } from '../../pull/common.js'
import { isPermanentError, isRateLimitedError, type RateLimitedError } from '../../core/hook-errors.js'
import type { WebhookEvent } from '../../core/event.js'
import { queueFixture, startWorker, waitFor } from '../helpers/worker.js'
import { createFakeStripe } from '../../scripts/fakes/stripe-api.mjs'
import { startGitHubApi } from '../../scripts/fakes/github-api.mjs'

t.setTimeout(28_000)

const policy = { provider: 'Acme', defaultPauseMs: 1500 }
const failure = (status: number | undefined, headers: Record<string, string> = {}): Parameters<typeof mapApiFailure>[2] =>
  ({ status, header: (name) => headers[name], cause: new Error('answer') })

t.test('mapApiFailure: gone, rate limited, permanent or retried, by status', async (t) => {
  t.equal(mapApiFailure(policy, 'GET /x', failure(404)), 'gone')
  t.equal(mapApiFailure(policy, 'GET /x', failure(410)), 'gone')
  const limited = mapApiFailure(policy, 'GET /x', failure(429, { 'retry-after': '2.5' }))
  t.ok(isRateLimitedError(limited))
  t.equal((limited as RateLimitedError).retryAfterMs, 2500, 'Retry-After in (decimal) seconds')
  t.equal((mapApiFailure(policy, 'GET /x', failure(429)) as RateLimitedError).retryAfterMs, 1500, 'the default pause')
  for (const status of [401, 403]) {
    const err = mapApiFailure(policy, 'GET /x', failure(status)) as Error & { code: string }
    t.equal(err.code, 'WEBHOOK_PULL_UNAUTHORIZED')
    t.ok(isPermanentError(err), 'no retry helps a wrong key')
    t.match(err.message, new RegExp(`Acme answered ${status} to GET /x`))
  }
  const rejected = mapApiFailure(policy, 'GET /x', failure(422)) as Error & { code: string }
  t.equal(rejected.code, 'WEBHOOK_PULL_REJECTED')
  t.ok(isPermanentError(rejected))
  for (const status of [500, 503, undefined]) {
    const err = mapApiFailure(policy, 'GET /x', failure(status)) as Error & { code: string, cause: unknown }
    t.equal(err.code, 'WEBHOOK_PULL_UNAVAILABLE')
    t.notOk(isPermanentError(err), 'retried')
    t.ok(err.cause instanceof Error, 'the cause is kept')
  }
  const own = mapApiFailure({ ...policy, rateLimitMs: (f) => f.header('x-left') === '0' ? 9000 : undefined }, 'GET /x', failure(403, { 'x-left': '0' }))
  t.equal((own as RateLimitedError).retryAfterMs, 9000, "a provider's own signal wins over its status")
})

t.test('retryAfterMs and timeMs read what providers send', async (t) => {
  t.equal(retryAfterMs('3'), 3000)
  t.equal(retryAfterMs('2.0'), 2000)
  t.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z')), 10_000)
  t.equal(retryAfterMs(undefined), undefined)
  t.equal(retryAfterMs(''), undefined)
  t.equal(retryAfterMs('-1'), undefined)
  t.equal(retryAfterMs('soon'), undefined)
  t.equal(timeMs('2026-01-01T10:00:00-05:00'), Date.parse('2026-01-01T15:00:00Z'))
  t.equal(timeMs(1_700_000_000), 1_700_000_000_000, 'Unix seconds')
  t.equal(timeMs('never'), undefined)
  t.equal(timeMs(null), undefined)
})

t.test('optionalSdk: a missing package fails at creation, naming it', async (t) => {
  t.throws(() => optionalSdk('no-such-sdk-package', 'acmePull()'), { code: 'WEBHOOK_MISSING_DEPENDENCY', message: /acmePull\(\) needs the 'no-such-sdk-package' package/ })
  const load = optionalSdk<{ Octokit: unknown }>('@octokit/rest', 'githubPull()')
  t.equal(typeof (await load()).Octokit, 'function', 'loaded on first use')
})

function hooks (source: string, state: (event: WebhookEvent) => PulledState | null, skipEqualVersion = true): PullHooks {
  return pullHooks(source, {
    hydrate: async (event) => state(event),
    objectKey: (event) => `${source}:${event.id}`,
    version: (s) => s.version,
    skipEqualVersion
  })
}

t.test('pullHooks: the source is readable but not spread', async (t) => {
  const h = hooks('acme', () => null)
  t.equal(h.source, 'acme')
  t.notOk('source' in { ...h }, 'a spread leaves it out')
  t.same(Object.keys(h).sort(), ['hydrate', 'objectKey', 'skipEqualVersion', 'version'])
})

t.test('combinePulls: by source, one flag, refusals coded', async (t) => {
  const a = hooks('a', (e) => ({ kind: 'thing', id: e.id, object: 'from a', version: 1 }))
  const b = hooks('b', (e) => ({ kind: 'thing', id: e.id, object: 'from b', version: 2 }), false)
  const both = combinePulls(a, b)
  const event = (source: string): WebhookEvent => ({ v: 1, id: 'e1', source, type: 't', payload: {}, headers: {}, receivedAt: 0, origin: 'webhook' })
  const ctx = {} as never
  t.equal((await both.hydrate(event('a'), ctx))?.object, 'from a')
  t.equal((await both.hydrate(event('b'), ctx))?.object, 'from b')
  t.equal(both.objectKey(event('b')), 'b:e1')
  t.equal(both.objectKey(event('c')), undefined)
  t.equal(both.skipEqualVersion, false, 'equal versions are skipped only when every helper allows it')
  t.equal(combinePulls(a, hooks('c', () => null)).skipEqualVersion, true)
  await t.rejects(both.hydrate(event('c'), ctx), { code: 'WEBHOOK_PULL_UNKNOWN_SOURCE', name: 'PermanentError' })
  t.throws(() => combinePulls(a, hooks('a', () => null)), { code: 'WEBHOOK_INVALID_OPTION', message: /two helpers read the source 'a'/ })
  t.notOk('source' in { ...both })
})

t.test('Stripe and GitHub helpers spread into one real worker, combined', async (t) => {
  const stripeApi = createFakeStripe()
  await stripeApi.listen()
  t.teardown(() => stripeApi.close())
  const githubApi = await startGitHubApi()
  t.teardown(githubApi.close)
  const stripe = new Stripe(stripeApi.apiKey, { host: '127.0.0.1', port: stripeApi.port, protocol: 'http', maxNetworkRetries: 0 })
  const octokit = new Octokit({ auth: githubApi.token, baseUrl: githubApi.url, log: { debug () {}, info () {}, warn () {}, error () {} } })

  const q = queueFixture(t, undefined, 'pull-combined')
  const applied: Array<{ source: string, kind: string | undefined, object: unknown }> = []
  await startWorker(t, q, {
    ...combinePulls(stripePull({ client: stripe }), githubPull({ client: octokit, settleMs: 0 })),
    apply: (state: PulledState<any> | null, event: WebhookEvent) => { applied.push({ source: event.source, kind: state?.kind, object: state?.object }) },
    logger: false
  })

  const { event: stripeEvent } = stripeApi.create('customer', { email: 'a@example.com' })
  githubApi.createRepo('octo/hello')
  const issue = githubApi.createIssue('octo/hello', { title: 'now' })
  await q.add({ v: 1, id: stripeEvent.id, source: 'stripe', type: stripeEvent.type, payload: stripeEvent, headers: {}, receivedAt: Date.now(), origin: 'webhook' })
  await q.add({
    v: 1,
    id: '1:combined',
    source: 'github',
    type: 'issues',
    headers: {},
    receivedAt: Date.now(),
    origin: 'webhook',
    payload: { action: 'edited', issue: { number: issue.number }, repository: { full_name: 'octo/hello', name: 'hello', owner: { login: 'octo' } } }
  })
  await waitFor(() => applied.length >= 2, 15_000, 'both applies')
  const bySource = Object.fromEntries(applied.map((a) => [a.source, a]))
  t.equal(bySource.stripe.kind, 'customer')
  t.equal((bySource.stripe.object as { email: string }).email, 'a@example.com', "Stripe's state, fetched")
  t.equal(bySource.github.kind, 'issue')
  t.equal((bySource.github.object as { title: string }).title, 'now', "GitHub's state, fetched")
})
