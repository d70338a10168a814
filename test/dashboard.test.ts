import t from 'tap'
import type { AddressInfo } from 'node:net'
import { providers } from 'fastify-hybrid-webhooks'
import { start } from '../examples/dashboard.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from './helpers/redis.js'
import { untilReady } from './helpers/webhook.js'

// examples/dashboard.ts booted for real: Bull Board lists the event, dead-letter
// and poll queues behind its token; metrics and readiness answer next to it.
process.env.LOG_LEVEL = 'silent'

t.test('the dashboard example: Bull Board lists the three queues, behind a bearer token', async (t) => {
  const secret = 'dashboard-secret'
  const token = 'dashboard-token'
  const queueName = uniqueName('dashboard')
  const client = testClient(t)
  t.teardown(() => cleanQueue(client, 'bull', queueName))
  const app = await start({ secret, token, connection: redisUrl(), queueName, port: 0 })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const auth = { authorization: `Bearer ${token}` }
  await untilReady(app, 'hmac:/v1/events')

  const body = JSON.stringify({ event_id: 'evt_dash_1', type: 'order.paid' })
  t.equal((await fetch(`${base}/v1/events`, { method: 'POST', headers: providers.hmac({ secret }).sign(body), body })).status, 202)

  const api = await fetch(`${base}/admin/queues/api/queues`, { headers: auth })
  t.equal(api.status, 200)
  const { queues } = await api.json() as { queues: Array<{ name: string, readOnlyMode: boolean, counts: Record<string, number> }> }
  t.same(queues.map((q) => q.name).sort(), [queueName, `${queueName}-dlq`, `${queueName}-poll`].sort())
  const events = queues.find((q) => q.name === queueName)!
  t.equal(events.counts.waiting, 1, 'the accepted event waits in the event queue')
  t.equal(queues.find((q) => q.name === `${queueName}-dlq`)!.readOnlyMode, true, 'dead letters are replayed with the CLI, not the board')

  const page = await fetch(`${base}/admin/queues`, { headers: auth })
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)

  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }] as Array<Record<string, string>>) {
    const denied = await fetch(`${base}/admin/queues/api/queues`, { headers })
    t.equal(denied.status, 401, JSON.stringify(headers))
  }

  const metrics = await fetch(`${base}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /webhook_ingress_requests_total\{name="hmac:\/v1\/events",source="hmac",outcome="accepted",reason=""\} 1/)
  const ready = await fetch(`${base}/healthz/webhooks`)
  t.equal(ready.status, 200)
  t.equal((await ready.json() as { registrations: Record<string, { queueName: string }> }).registrations['hmac:/v1/events'].queueName, queueName)
})

t.test('without a token the board is not mounted', async (t) => {
  const queueName = uniqueName('dashboard')
  const app = await start({ secret: 's', token: '', connection: redisUrl(), queueName, port: 0 })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/admin/queues/api/queues' })
  t.equal(res.statusCode, 404)
})
