import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { Provider, SecretResolver } from '../../providers/provider.js'
import { UnknownTenantError } from '../../plugin/index.js'
import { redisUrl } from '../helpers/redis.js'
import { buildApp, signed, testProvider, type LogLine } from '../helpers/webhook.js'

// Secrets through the whole route: a resolved secret the scheme cannot use,
// unknown tenants, and what the resolver cache key decides.

const GOOD_WHSEC = 'whsec_' + Buffer.from('a real standard webhooks key').toString('base64')

function lastLine (lines: () => LogLine[]): LogLine {
  const all = lines()
  return all[all.length - 1]
}

async function post (app: Awaited<ReturnType<typeof buildApp>>['app'], provider: Provider, id: string, secret: string, url = '/v1/events') {
  const res = await app.inject({ method: 'POST', url, ...signed(provider, { id, type: 't' }, { secret, id }) })
  return { status: res.statusCode, code: res.json().code as unknown, retryAfter: res.headers['retry-after'] }
}

function assertUnusable (t: Test, r: { status: number, code: unknown, retryAfter: unknown }, line: LogLine, what: string): void {
  t.same(r, { status: 503, code: 'FST_WEBHOOK_UNAVAILABLE', retryAfter: '5' }, `${what}: 503, never 401`)
  t.match(line, { outcome: 'unavailable', reason: 'secret_unusable', level: 50 }, `${what}: logged at error as secret_unusable`)
}

t.test('Standard Webhooks: a resolved secret that is not base64 is a 503 secret_unusable, logged at error, never cached', async (t) => {
  let answer: string | string[] = 'whsec_not*base64!'
  const provider = providers.standardWebhooks({ secret: () => answer })
  const { app, webhookLines, logText } = await buildApp(t, { provider, source: 'stdwh' })
  assertUnusable(t, await post(app, provider, 'msg_1', GOOD_WHSEC), lastLine(webhookLines), 'a non-base64 secret')
  answer = [GOOD_WHSEC, 'whsec_%%%']
  assertUnusable(t, await post(app, provider, 'msg_2', GOOD_WHSEC), lastLine(webhookLines), 'one unusable secret in a list')
  answer = GOOD_WHSEC
  t.equal((await post(app, provider, 'msg_3', GOOD_WHSEC)).status, 202, 'the failure was not cached')
  t.notMatch(logText(), /not\*base64|whsec_%%%|whsec_YSByZWFs/, 'no secret in the log')
})

t.test('a custom provider: its secretProblem refuses a static secret at registration and a resolved one with 503', async (t) => {
  const secretProblem = (s: string): string | undefined => s.startsWith('k_') ? undefined : 'a `k_` key'
  const fixed: Provider = { ...testProvider({ secret: 'plain' }), secretProblem }
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.register(webhookPlugin, { provider: fixed, connection: redisUrl() })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'WEBHOOK_INVALID_OPTION', message: 'Expected `provider.secret` to be usable: a `k_` key' })

  let answer = 'plain'
  const resolved: Provider = { ...testProvider({ secret: () => answer }), secretProblem }
  const { app: app2, webhookLines, logText } = await buildApp(t, { provider: resolved, source: 'custom' })
  assertUnusable(t, await post(app2, resolved, 'c1', 'plain'), lastLine(webhookLines), 'a resolved secret the provider refuses')
  t.match(lastLine(webhookLines), { err: { message: /secret 0 of 1.*a `k_` key/ } }, 'the log says which secret and what was expected')
  answer = 'k_good'
  t.equal((await post(app2, resolved, 'c2', 'k_good')).status, 202)
  t.notMatch(logText(), /"plain"|k_good/)
})

t.test('Stripe has no secret format: any non-empty resolved secret is used as it is', async (t) => {
  const provider = providers.stripe({ secret: () => 'not-a-whsec-secret' })
  const { app } = await buildApp(t, { provider, source: 'stripe_any' })
  const payload = JSON.stringify({ id: 'evt_any', type: 'invoice.paid' })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers: provider.sign(payload, { secret: 'not-a-whsec-secret' }) })
  t.equal(res.statusCode, 202)
  t.equal((provider as Provider).secretProblem, undefined, 'Stripe declares no secret check')
})

const TENANT_SECRETS: Record<string, string> = { acme: 'acme-secret', globex: 'globex-secret' }

t.test('unknown tenant (resolver returns null): 401 unknown_tenant, the resolver called once per window, not per request', async (t) => {
  const calls: string[] = []
  const provider = testProvider({
    secret: async (ctx) => {
      calls.push(ctx.params.tenant)
      return TENANT_SECRETS[ctx.params.tenant] ?? null
    }
  })
  const windowMs = 2000
  const { app, webhookLines } = await buildApp(t, { provider, source: 'tenants', path: '/hooks/:tenant', secretNegativeCacheMs: windowMs })
  const started = Date.now()
  const answers = []
  for (let n = 0; n < 5; n++) answers.push(await post(app, provider, `u${n}`, 'guess', '/hooks/initech'))
  const concurrent = await Promise.all([5, 6, 7].map(async (n) => await post(app, provider, `u${n}`, 'guess', '/hooks/initech')))
  t.ok(Date.now() - started < windowMs - 1000, 'all sent well within the window')
  for (const r of [...answers, ...concurrent]) t.same(r, { status: 401, code: 'FST_WEBHOOK_UNAUTHORIZED', retryAfter: undefined }, 'the generic 401')
  t.same(calls, ['initech'], 'one resolver call for 8 requests of an unknown tenant within the window')
  t.same(webhookLines().map((l) => [l.outcome, l.reason]), Array(8).fill(['rejected', 'unknown_tenant']))
  t.equal(app.webhooks.get('tenants:/hooks/:tenant')?.stats.rejected, 8, 'counted as rejected')

  t.equal((await post(app, provider, 'a1', 'acme-secret', '/hooks/acme')).status, 202, 'a known tenant is unaffected')
  await new Promise((resolve) => setTimeout(resolve, windowMs + 100))
  t.equal((await post(app, provider, 'u9', 'guess', '/hooks/initech')).status, 401)
  t.same(calls, ['initech', 'acme', 'initech'], 'asked again once the window passed')
})

t.test('UnknownTenantError, by class or by name, is an unknown tenant too; transient failures are never cached', async (t) => {
  let calls = 0
  let mode: 'class' | 'named' | 'transient' | 'empty' = 'class'
  const provider = testProvider({
    secret: () => {
      calls++
      if (mode === 'class') throw new UnknownTenantError('no such tenant')
      if (mode === 'named') throw Object.assign(new Error('from another copy'), { name: 'UnknownTenantError' })
      if (mode === 'transient') throw new Error('vault is down')
      return []
    }
  })
  const { app, webhookLines } = await buildApp(t, { provider, source: 'errs', path: '/hooks/:tenant' })
  t.equal((await post(app, provider, 'e1', 'x', '/hooks/one')).status, 401)
  t.equal((await post(app, provider, 'e2', 'x', '/hooks/one')).status, 401)
  t.equal(calls, 1, 'the thrown UnknownTenantError is cached for the window')
  mode = 'named'
  t.equal((await post(app, provider, 'e3', 'x', '/hooks/two')).status, 401, 'recognised by name')
  mode = 'transient'
  for (const id of ['e4', 'e5', 'e6']) t.equal((await post(app, provider, id, 'x', '/hooks/three')).status, 503, 'a transient failure is a 503')
  t.equal(calls, 5, 'a transient failure is asked again on every request')
  mode = 'empty'
  for (const id of ['e7', 'e8']) t.equal((await post(app, provider, id, 'x', '/hooks/four')).status, 503, 'an empty list is still invalid (503)')
  t.equal(calls, 7, 'and not cached')
  t.same(webhookLines().map((l) => l.reason), [
    'unknown_tenant', 'unknown_tenant', 'unknown_tenant',
    'secret_resolver_failed', 'secret_resolver_failed', 'secret_resolver_failed',
    'secret_resolver_invalid', 'secret_resolver_invalid'
  ])
})

t.test('secretCacheKey must cover every header the resolver reads: without the tenant header, tenant A\'s secret opens tenant B', async (t) => {
  // The resolver reads the tenant from a header; the route has no params.
  const byHeader: SecretResolver = (ctx) => TENANT_SECRETS[String(ctx.headers['x-tenant'])] ?? null
  const provider = testProvider({ secret: byHeader })
  const asTenant = async (app: Awaited<ReturnType<typeof buildApp>>['app'], tenant: string, id: string, secret: string): Promise<number> => {
    const { payload, headers } = signed(provider, { id }, { secret })
    return (await app.inject({ method: 'POST', url: '/v1/events', payload, headers: { ...headers, 'x-tenant': tenant } })).statusCode
  }

  const wrong = await buildApp(t, { provider, source: 'wrongkey' })
  t.equal(await asTenant(wrong.app, 'acme', 'w1', 'acme-secret'), 202)
  t.equal(await asTenant(wrong.app, 'globex', 'w2', 'acme-secret'), 202, 'the default key (route params) ignores x-tenant: globex is verified with acme\'s cached secret')

  const right = await buildApp(t, { provider, source: 'rightkey', secretCacheKey: (ctx) => String(ctx.headers['x-tenant']) })
  t.equal(await asTenant(right.app, 'acme', 'r1', 'acme-secret'), 202)
  t.equal(await asTenant(right.app, 'globex', 'r2', 'acme-secret'), 401, 'keyed on x-tenant: acme\'s secret does not open globex')
  t.equal(await asTenant(right.app, 'globex', 'r3', 'globex-secret'), 202)
})
