import t, { type Test } from 'tap'
import { Queue, type Job } from 'bullmq'
import Fastify from 'fastify'
import { webhookPlugin } from '../../plugin/index.js'
import { providers } from '../../providers/index.js'
import type { Provider } from '../../providers/provider.js'
import type { WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'
import { buildApp, untilReady } from '../helpers/webhook.js'

function queueOf (t: Test, queueName: string): Queue {
  const queue = new Queue(queueName, { connection: testClient(t), prefix: 'bull' })
  t.teardown(() => queue.close())
  return queue
}

async function jobs (queue: Queue): Promise<Array<Job<WebhookEvent>>> {
  return queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'])
}

function form (fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString()
}

t.test('GitHub: a form-encoded delivery is enqueued with the namespaced id, the event type and the payload field decoded', async (t) => {
  const provider = providers.github({ secret: 'gh secret' })
  const { app, queueName, webhookLines } = await buildApp(t, { provider })
  const queue = queueOf(t, queueName)
  const event = { action: 'opened', pull_request: { number: 7, title: 'Fix ✓' } }
  const payload = form({ payload: JSON.stringify(event) })
  const headers = provider.sign(payload, { contentType: 'form', event: 'pull_request', id: 'd7e8a9b0-0000-11ee-8000-000000000001', hookId: '42' })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers })
  t.equal(res.statusCode, 202, res.body)
  const job = await queue.getJob(safeJobId('github', '42:d7e8a9b0-0000-11ee-8000-000000000001'))
  t.ok(job, 'the job id is safeJobId(source, hookId:delivery)')
  t.match(job?.data, { v: 1, id: '42:d7e8a9b0-0000-11ee-8000-000000000001', source: 'github', type: 'pull_request', payload: event, origin: 'webhook', replayKey: /^[0-9a-f]{64}$/ })
  t.match(job?.data.headers, { 'x-github-event': 'pull_request', 'x-github-delivery': 'd7e8a9b0-0000-11ee-8000-000000000001', 'x-github-hook-id': '42' })
  t.notOk(Object.keys(job?.data.headers ?? {}).some((h) => h.startsWith('x-hub-signature')), 'no signature header in the event')
  t.equal(job?.data.sentAt, undefined, 'GitHub signs no timestamp')

  const json = JSON.stringify(event)
  const res2 = await app.inject({ method: 'POST', url: '/v1/events', payload: json, headers: provider.sign(json, { event: 'pull_request', id: 'guid-json', hookId: '42' }) })
  t.equal(res2.statusCode, 202)
  t.match((await queue.getJob(safeJobId('github', '42:guid-json')))?.data, { type: 'pull_request', payload: event })

  const noPayload = form({ other: '1' })
  const res3 = await app.inject({ method: 'POST', url: '/v1/events', payload: noPayload, headers: provider.sign(noPayload, { contentType: 'form' }) })
  t.equal(res3.statusCode, 400, 'a form without the payload field')
  t.equal(res3.json().code, 'FST_WEBHOOK_INVALID_JSON')
  t.equal((await jobs(queue)).length, 2)
  t.notMatch(JSON.stringify(webhookLines()), /sha256=/, 'no signature in the log')
  t.equal(provider.bodyLimit, 32 * 1024 * 1024)
})

t.test('Slack: url_verification answers its challenge and enqueues nothing; commands and interactivity get an empty 200 and are enqueued', async (t) => {
  const provider = providers.slack({ secret: '8f742231b10e8888abcd99yyyzzz85a5' })
  const { app, queueName } = await buildApp(t, { provider })
  const queue = queueOf(t, queueName)

  const challenge = JSON.stringify({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' })
  const hs = await app.inject({ method: 'POST', url: '/v1/events', payload: challenge, headers: provider.sign(challenge) })
  t.equal(hs.statusCode, 200)
  t.same(hs.json(), { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' })
  t.equal((await jobs(queue)).length, 0, 'the handshake is not an event')

  const command = form({ command: '/deploy', text: 'prod', user_id: 'U1', trigger_id: '13345224609.738474920.8088930838d88f008e0' })
  const cmd = await app.inject({ method: 'POST', url: '/v1/events', payload: command, headers: provider.sign(command, { contentType: 'form' }) })
  t.equal(cmd.statusCode, 200)
  t.equal(cmd.body, '', 'an empty body: Slack shows any body to the user')
  const cmdJob = await queue.getJob(safeJobId('slack', '13345224609.738474920.8088930838d88f008e0'))
  t.match(cmdJob?.data, { type: 'slash_command', payload: { command: '/deploy', text: 'prod' }, sentAt: Number })

  const action = { type: 'block_actions', trigger_id: '1234.5678.interactive', actions: [{ action_id: 'approve' }] }
  const interactive = form({ payload: JSON.stringify(action) })
  const act = await app.inject({ method: 'POST', url: '/v1/events', payload: interactive, headers: provider.sign(interactive, { contentType: 'form' }) })
  t.equal(act.statusCode, 200)
  t.equal(act.body, '')
  t.match((await queue.getJob(safeJobId('slack', '1234.5678.interactive')))?.data, { type: 'block_actions', payload: action })

  const envelope = JSON.stringify({ type: 'event_callback', event_id: 'Ev0PV52K25', event: { type: 'app_mention', text: 'hi' } })
  const retry = { ...provider.sign(envelope), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' }
  const ev = await app.inject({ method: 'POST', url: '/v1/events', payload: envelope, headers: retry })
  t.equal(ev.statusCode, 202)
  t.match((await queue.getJob(safeJobId('slack', 'Ev0PV52K25')))?.data, { type: 'app_mention', headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } })
  t.equal((await jobs(queue)).length, 3)
})

t.test('Stripe, Shopify and Standard Webhooks through the route', async (t) => {
  const stripe = providers.stripe({ secret: ['whsec_new', 'whsec_old'] })
  const s = await buildApp(t, { provider: stripe })
  const body = JSON.stringify({ id: 'evt_route_1', object: 'event', type: 'charge.succeeded' })
  const res = await s.app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: stripe.sign(body, { secret: 'whsec_old' }) })
  t.equal(res.statusCode, 202)
  t.match((await queueOf(t, s.queueName).getJob(safeJobId('stripe', 'evt_route_1')))?.data, { type: 'charge.succeeded', sentAt: Number })
  t.match(s.webhookLines().at(-1), { secretIndex: 1 }, 'the rotated secret that matched is logged by index')

  const shopify = providers.shopify({ secret: 'shpss_route' })
  const sh = await buildApp(t, { provider: shopify })
  const order = '{"id":820982911946154508,"email":"jon@example.com"}'
  const headers = shopify.sign(order, { id: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', topic: 'orders/create', shopDomain: 'acme.myshopify.com' })
  t.equal((await sh.app.inject({ method: 'POST', url: '/v1/events', payload: order, headers })).statusCode, 202)
  const job = await queueOf(t, sh.queueName).getJob(safeJobId('shopify', 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043'))
  t.match(job?.data, { type: 'orders/create', headers: { 'x-shopify-shop-domain': 'acme.myshopify.com', 'x-shopify-topic': 'orders/create' }, replayKey: /^[0-9a-f]{64}$/ })
  t.notOk('x-shopify-hmac-sha256' in (job?.data.headers ?? {}))

  const sw = providers.standardWebhooks({ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })
  const w = await buildApp(t, { provider: sw })
  const msg = JSON.stringify({ type: 'invoice.paid', data: { id: 'in_1' } })
  t.equal((await w.app.inject({ method: 'POST', url: '/v1/events', payload: msg, headers: sw.sign(msg, { id: 'msg_route_1', family: 'svix' }) })).statusCode, 202)
  t.match((await queueOf(t, w.queueName).getJob(safeJobId('standard-webhooks', 'msg_route_1')))?.data, { type: 'invoice.paid', headers: { 'svix-id': 'msg_route_1' } })
})

t.test('two presets in one app on two paths, each refusing the other\'s signatures', async (t) => {
  const app = Fastify({ connectionTimeout: 30_000, requestTimeout: 15_000 })
  const stripeQueue = uniqueName('stripe')
  const githubQueue = uniqueName('github')
  const redis = testClient(t)
  t.teardown(async () => {
    await app.close()
    await cleanQueue(redis, 'bull', stripeQueue)
    await cleanQueue(redis, 'bull', githubQueue)
  })
  const stripe = providers.stripe({ secret: 'whsec_shared' })
  const github = providers.github({ secret: 'whsec_shared' })
  await app.register(webhookPlugin, { provider: stripe, connection: redisUrl(), path: '/hooks/stripe', queueName: stripeQueue })
  await app.register(webhookPlugin, { provider: github, connection: redisUrl(), path: '/hooks/github', queueName: githubQueue })
  await app.ready()
  await untilReady(app, 'stripe:/hooks/stripe')
  await untilReady(app, 'github:/hooks/github')

  const body = JSON.stringify({ id: 'evt_two', type: 'x' })
  const asStripe = stripe.sign(body)
  const asGithub = github.sign(body, { id: 'guid-two' })
  const cases: Array<[string, Record<string, string>, number]> = [
    ['/hooks/stripe', asStripe, 202],
    ['/hooks/github', asGithub, 202],
    ['/hooks/stripe', asGithub, 401],
    ['/hooks/github', asStripe, 401],
    ['/hooks/stripe', { ...asStripe, ...asGithub }, 202],
    ['/hooks/github', { ...asGithub, 'x-hub-signature-256': `sha256=${asStripe['stripe-signature'].split('v1=')[1]}` }, 401]
  ]
  for (const [url, headers, status] of cases) {
    const res = await app.inject({ method: 'POST', url, payload: body, headers })
    t.equal(res.statusCode, status, `${url} with ${Object.keys(headers).filter((h) => /sig/.test(h)).join('+')}`)
    if (status === 401) t.same(res.json(), { statusCode: 401, code: 'FST_WEBHOOK_UNAUTHORIZED', error: 'Unauthorized', message: 'Webhook verification failed' })
  }
  t.equal((await jobs(queueOf(t, stripeQueue))).length, 1)
  t.equal((await jobs(queueOf(t, githubQueue))).length, 1)
})

interface FailureCase { name: string, headers: Record<string, string | string[]>, reason: string }

function failures (provider: Provider, body: string, now: number): FailureCase[] {
  const good = provider.sign(body, { timestampSec: Math.floor(now / 1000) })
  const old = provider.sign(body, { timestampSec: Math.floor(now / 1000) - 3600 })
  const future = provider.sign(body, { timestampSec: Math.floor(now / 1000) + 3600 })
  const other = provider.sign(body, { secret: provider.name === 'standard-webhooks' ? 'whsec_b3RoZXI=' : 'other', timestampSec: Math.floor(now / 1000) })
  const sigHeader = Object.keys(good).find((h) => /signature|hmac/.test(h) && h !== 'x-hub-signature') as string
  const cases: FailureCase[] = [
    { name: 'no signature', headers: omit(good, sigHeader), reason: 'missing_header' },
    { name: 'signature twice', headers: { ...good, [sigHeader]: [good[sigHeader], good[sigHeader]] }, reason: 'duplicate_header' },
    { name: 'another secret', headers: { ...good, [sigHeader]: other[sigHeader] }, reason: 'no_match' },
    { name: 'truncated signature', headers: { ...good, [sigHeader]: good[sigHeader].slice(0, -3) }, reason: 'no_match' }
  ]
  const malformed: Record<string, [string, string]> = {
    stripe: ['v1=abc', 'malformed_header'],
    github: ['deadbeef', 'malformed_header'],
    slack: ['v0abc', 'malformed_header'],
    'standard-webhooks': ['v1a,abc', 'unsupported_version']
  }
  const versions: Record<string, string> = { stripe: `t=${Math.floor(now / 1000)},v0=${'0'.repeat(64)}`, github: `sha1=${'0'.repeat(40)}`, slack: `v1=${'0'.repeat(64)}` }
  const m = malformed[provider.name]
  if (m !== undefined) cases.push({ name: 'malformed', headers: { ...good, [sigHeader]: m[0] }, reason: m[1] })
  if (versions[provider.name] !== undefined) cases.push({ name: 'other version', headers: { ...good, [sigHeader]: versions[provider.name] }, reason: 'unsupported_version' })
  if (old[sigHeader] !== good[sigHeader] && provider.name !== 'shopify') {
    cases.push({ name: 'an hour old', headers: old, reason: 'timestamp_too_old' }, { name: 'an hour ahead', headers: future, reason: 'timestamp_too_new' })
  }
  return cases
}

function omit (headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers }
  delete copy[name]
  return copy
}

t.test('every preset failure path answers 401, never 500, and enqueues nothing', async (t) => {
  const presets: Provider[] = [
    providers.stripe({ secret: 'whsec_x' }),
    providers.github({ secret: 'g' }),
    providers.shopify({ secret: 's' }),
    providers.slack({ secret: 'k' }),
    providers.standardWebhooks({ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
    providers.hmac({ secret: 'h', timestampHeader: 'x-timestamp' }),
    // Catalogue presets whose sign() needs nothing more (the others are in catalogue-route.test.ts).
    providers.paddle({ secret: 'pdl_ntfset_x' }),
    providers.linear({ secret: 'l' }),
    providers.zoom({ secret: 'z' }),
    providers.meta({ secret: 'm' })
  ]
  // Linear signs its time in the body: a fresh one keeps the valid delivery inside the window.
  const body = JSON.stringify({ id: 'evt_f', event_id: 'evt_f', type: 't', webhookTimestamp: Date.now() })
  for (const provider of presets) {
    const { app, queueName, webhookLines } = await buildApp(t, { provider })
    const queue = queueOf(t, queueName)
    const cases = failures(provider, body, Date.now())
    t.ok(cases.length >= 4, `${provider.name}: ${cases.length} cases`)
    for (const c of cases) {
      const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: c.headers })
      t.equal(res.statusCode, 401, `${provider.name}: ${c.name}`)
      t.equal(res.json().code, 'FST_WEBHOOK_UNAUTHORIZED')
      t.match(webhookLines().at(-1), { reason: c.reason }, `${provider.name}: ${c.name} is logged as ${c.reason}`)
    }
    t.equal((await jobs(queue)).length, 0, `${provider.name}: nothing enqueued`)
    const ok = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body) })
    t.equal(ok.statusCode, 202, `${provider.name}: a valid delivery is still served`)
  }
})
