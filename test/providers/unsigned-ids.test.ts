import t, { type Test } from 'tap'
import { PassThrough, Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { runSend } from '../../bin/send.js'
import type { CliIo } from '../../bin/command.js'
import { providers } from '../../providers/index.js'
import type { Provider } from '../../providers/provider.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { redisUrl } from '../helpers/redis.js'
import { buildApp, waitFor } from '../helpers/webhook.js'

// Unsigned ids: a captured delivery resent with a fresh id header
// verifies and is accepted (202), and the worker skips it as a replay.
async function replayFlow (t: Test, provider: Provider, idHeader: string, sign: (body: string) => Record<string, string>): Promise<void> {
  const { app, queueName } = await buildApp(t, { provider })
  const applied: string[] = []
  const reports: AttemptReport[] = []
  const worker = createWebhookWorker({
    connection: redisUrl(),
    queueName,
    lockDuration: 1000,
    stalledInterval: 500,
    apply: async (_state, event) => { applied.push(event.id) }
  })
  worker.on('attempt', (r) => reports.push(r))
  t.teardown(() => worker.close({ timeoutMs: 2000 }))
  await worker.waitUntilReady()

  const body = JSON.stringify({ id: 1001, action: 'created' })
  const captured = sign(body)
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: captured })).statusCode, 202)
  await waitFor(() => applied.length === 1, 10_000, 'first apply')

  const replayed = { ...captured, [idHeader]: 'fresh-id-chosen-by-an-attacker' }
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: replayed })).statusCode, 202, 'the replay verifies: no id header is signed')
  await waitFor(() => reports.some((r) => r.outcome === 'replay'), 10_000, 'replay outcome')
  t.equal(applied.length, 1, `${provider.name}: the replayed capture is not applied twice`)
  t.equal(worker.stats().replays, 1)

  const other = JSON.stringify({ id: 1002, action: 'created' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: other, headers: sign(other) })).statusCode, 202)
  await waitFor(() => applied.length === 2, 10_000, 'a different event is applied')
}

t.test('GitHub: a capture resent with a fresh X-GitHub-Delivery is skipped as a replay', async (t) => {
  const github = providers.github({ secret: 'gh' })
  await replayFlow(t, github, 'x-github-delivery', (body) => github.sign(body, { event: 'issues' }))
})

t.test('Shopify: a capture resent with a fresh X-Shopify-Webhook-Id is skipped as a replay', async (t) => {
  const shopify = providers.shopify({ secret: 'shpss' })
  await replayFlow(t, shopify, 'x-shopify-webhook-id', (body) => shopify.sign(body, { topic: 'orders/create' }))
})

t.test('generic HMAC with a header id: a capture resent with a fresh id is skipped as a replay', async (t) => {
  const hmac = providers.hmac({ secret: 'h', idHeader: 'x-delivery-id', typeHeader: 'x-event-type' })
  await replayFlow(t, hmac, 'x-delivery-id', (body) => hmac.sign(body, { type: 'thing.created' }))
})

t.test('the send CLI delivers to the real plugin over a socket', async (t) => {
  const stripe = providers.stripe({ secret: 'whsec_cli_e2e' })
  const { app, queueName } = await buildApp(t, { provider: stripe })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events`
  const dir = t.testdir({ 'event.json': JSON.stringify({ id: 'evt_cli_e2e', object: 'event', type: 'customer.created' }) })
  let out = ''
  let err = ''
  const stdout = new PassThrough().on('data', (c) => { out += String(c) })
  const stderr = new PassThrough().on('data', (c) => { err += String(c) })
  const io: CliIo = { stdin: Readable.from([]), stdout, stderr, env: { WEBHOOK_SECRET: 'whsec_cli_e2e' } }
  t.equal(await runSend(['--provider', 'stripe', '--url', url, '--file', `${dir}/event.json`], io), 0, err)
  t.equal(out, 'HTTP 202 Accepted\n{"received":true}\n')
  t.equal(app.webhooks.get('stripe:/v1/events')?.queueName, queueName)

  let out2 = ''
  const io2: CliIo = { ...io, env: { WEBHOOK_SECRET: 'whsec_wrong' }, stdout: new PassThrough().on('data', (c) => { out2 += String(c) }) }
  t.equal(await runSend(['--provider', 'stripe', '--url', url, '--file', `${dir}/event.json`], io2), 1)
  t.match(out2, /^HTTP 401 Unauthorized\n.*FST_WEBHOOK_UNAUTHORIZED/)
})
