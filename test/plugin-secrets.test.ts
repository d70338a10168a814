import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { providers } from '../plugin/providers/index.js'
import { webhookPlugin } from '../plugin/plugin.js'
import type { Provider } from '../plugin/provider.js'
import { redisUrl } from './helpers/redis.js'
import { buildApp, signed, testProvider, type LogLine } from './helpers/webhook.js'

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
  t.match(err, { code: 'FST_WEBHOOK_INVALID_OPTION', message: 'Expected `provider.secret` to be usable: a `k_` key' })

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
