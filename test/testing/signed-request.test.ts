import t, { type Test } from 'tap'
import { Queue } from 'bullmq'
import Fastify, { type FastifyInstance } from 'fastify'
import { webhookPlugin } from '../../plugin/plugin.js'
import { providers } from '../../providers/index.js'
import type { Provider } from '../../providers/provider.js'
import { ready, signedRequest } from '../../testing/index.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'

// signedRequest() against the real route, for every preset: what it builds is
// what the route verifies and enqueues.
t.setTimeout(60_000)

const svixSecret = `whsec_${Buffer.from('signed-request-test-secret-32byt').toString('base64')}`

async function appFor (t: Test, provider: Provider, path?: string): Promise<{ app: FastifyInstance, queue: Queue }> {
  const queueName = uniqueName('signed-request')
  const redis = testClient(t)
  const app = Fastify()
  const queue = new Queue(queueName, { connection: redis })
  t.teardown(async () => {
    await app.close()
    await queue.close()
    await cleanQueue(redis, 'bull', queueName)
  })
  await app.register(webhookPlugin, { provider, connection: redisUrl(), queueName, ...(path === undefined ? {} : { path }) })
  await ready(app)
  return { app, queue }
}

const cases: Array<{ name: string, provider: Provider, payload: unknown, options?: Record<string, unknown>, id: string }> = [
  { name: 'hmac', provider: providers.hmac({ secret: 'hmac secret' }), payload: { event_id: 'e1', type: 'order.paid' }, id: 'e1' },
  { name: 'stripe', provider: providers.stripe({ secret: 'whsec_stripe' }), payload: { id: 'evt_1', type: 'invoice.paid' }, id: 'evt_1' },
  { name: 'github (JSON)', provider: providers.github({ secret: 'gh secret' }), payload: { action: 'opened' }, options: { event: 'issues', id: 'guid-1', hookId: '7' }, id: '7:guid-1' },
  { name: 'github (form)', provider: providers.github({ secret: 'gh secret' }), payload: { payload: { action: 'opened' } }, options: { contentType: 'form', event: 'issues', id: 'guid-2', hookId: '7' }, id: '7:guid-2' },
  { name: 'shopify', provider: providers.shopify({ secret: 'shpss_secret' }), payload: { id: 1 }, options: { topic: 'orders/create', id: 'sh-1' }, id: 'sh-1' },
  { name: 'slack (events API)', provider: providers.slack({ secret: 'slack-signing-secret' }), payload: { type: 'event_callback', event_id: 'Ev1', event: { type: 'message' } }, id: 'Ev1' },
  { name: 'standard webhooks', provider: providers.standardWebhooks({ secret: svixSecret }), payload: { type: 'user.created' }, options: { id: 'msg_1' }, id: 'msg_1' },
  { name: 'svix', provider: providers.standardWebhooks({ secret: svixSecret }), payload: { type: 'user.created' }, options: { id: 'msg_2', family: 'svix' }, id: 'msg_2' }
]

for (const c of cases) {
  t.test(`${c.name}: the signed request is accepted and enqueued under its id`, async (t) => {
    const { app, queue } = await appFor(t, c.provider)
    const request = signedRequest(c.provider, c.payload, c.options)
    t.equal(request.method, 'POST')
    t.equal(request.url, '/v1/events', "the plugin's default path")
    t.ok(Buffer.isBuffer(request.payload))
    t.ok(c.provider.verify({ headers: request.headers, rawBody: request.payload }, [typeof c.provider.secret === 'string' ? c.provider.secret : ''], Date.now()).ok,
      'the signature covers exactly the bytes sent')
    const res = await app.inject(request)
    t.equal(res.statusCode, 202, res.body)
    const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed', 'active'])
    t.same(jobs.map((job) => job.data.id), [c.id])
  })
}

t.test('strings and bytes are sent as they are; a form object is encoded field by field', async (t) => {
  const provider = providers.hmac({ secret: 's', contentTypes: ['json', 'form'] })
  const text = '{"event_id": "spaced",  "type":"x"}'
  t.equal(signedRequest(provider, text).payload.toString('utf8'), text, 'no re-serialization')
  const bytes = Buffer.from(text)
  t.equal(signedRequest(provider, bytes).payload, bytes)
  t.equal(signedRequest(provider, new Uint8Array(bytes)).payload.toString('utf8'), text)
  const form = signedRequest(provider, { event_id: 'f1', nested: { a: 1 } }, { contentType: 'form' })
  t.equal(form.payload.toString('utf8'), 'event_id=f1&nested=%7B%22a%22%3A1%7D')
  t.match(form.headers['content-type'], /^application\/x-www-form-urlencoded/)
  const formFirst = providers.hmac({ secret: 's', contentTypes: ['form'] })
  t.equal(signedRequest(formFirst, { event_id: 'f2' }).payload.toString('utf8'), 'event_id=f2', 'a form-only provider gets a form by default')
  t.throws(() => signedRequest(provider, undefined), TypeError)
})

t.test("a preset's own sign options are typed through", async (t) => {
  const github = providers.github({ secret: 'gh' })
  const request = signedRequest(github, { action: 'opened' }, { event: 'issues', hookId: '9', id: 'guid-9' })
  t.match(request.headers, { 'x-github-event': 'issues', 'x-github-hook-id': '9', 'x-github-delivery': 'guid-9' })
  // @ts-expect-error an option no sign() takes
  signedRequest(github, {}, { evnt: 'issues' })
})

t.test('url and extra headers: a tenant route with a header the app reads', async (t) => {
  const provider = providers.hmac({ secret: 'tenant secret' })
  const { app, queue } = await appFor(t, provider, '/hooks/:tenant')
  const request = signedRequest(provider, { event_id: 't1' }, { url: '/hooks/acme', headers: { 'X-Trace': 'abc', 'Content-Type': 'application/json' } })
  t.equal(request.url, '/hooks/acme')
  t.equal(request.headers['x-trace'], 'abc', 'names are lower-cased, as Node gives them')
  t.equal(request.headers['content-type'], 'application/json', 'an override replaces the signed header, never duplicates it')
  t.equal((await app.inject(request)).statusCode, 202)
  t.equal(await queue.getWaitingCount(), 1)
  const forged = signedRequest(provider, { event_id: 't2' }, { secret: 'another secret' })
  t.equal((await app.inject({ ...forged, url: '/hooks/acme' })).statusCode, 401, 'sign options reach sign(): another secret does not verify')
})
