import t from 'tap'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import { privateRedis } from '../helpers/redis.js'
import { signed, untilReady } from '../helpers/webhook.js'

// The readiness answer is bounded: whatever Redis does, `/healthz` answers
// within ackTimeoutMs plus a small margin, so a load balancer's probe never
// times out on it.
t.setTimeout(60_000)

const ACK_TIMEOUT_MS = 1000
const MARGIN_MS = 1000
const provider = providers.hmac({ secret: 'health-secret' })

t.test('Redis frozen (SIGSTOP): every health request, sequential or concurrent, is a 503 within ackTimeoutMs + 1 s', async (t) => {
  const server = await privateRedis(t)
  const app = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 15_000 })
  t.teardown(() => app.close())
  await app.register(webhookPlugin, { provider, connection: server.url, source: 'frozen', ackTimeoutMs: ACK_TIMEOUT_MS, healthRoute: '/healthz' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await untilReady(app, 'frozen:/v1/events')
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/healthz`
  t.equal((await fetch(url)).status, 200, 'healthy before the freeze')
  // A job in the queue, so the stats read has work to do.
  t.equal((await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: 'before' }) })).statusCode, 202)

  server.signal('SIGSTOP')
  t.teardown(() => server.signal('SIGCONT'))
  async function probe (label: string): Promise<void> {
    const started = Date.now()
    const res = await fetch(url)
    const ms = Date.now() - started
    const body = await res.json() as { registrations: Record<string, { checks: { redis: { status: string } } }> }
    t.equal(res.status, 503, `${label}: 503`)
    t.equal(body.registrations['frozen:/v1/events'].checks.redis.status, 'fail', `${label}: the redis check fails`)
    t.ok(ms < ACK_TIMEOUT_MS + MARGIN_MS, `${label}: answered in ${ms} ms`)
  }
  for (let n = 0; n < 3; n++) await probe(`sequential ${n}`)
  // Probes that overlap share one check: one PING waits on the frozen
  // connection, not one per probe, and a late probe gets the earlier answer.
  const intake = app.webhooks.get('frozen:/v1/events')!
  const started = Date.now()
  const reports = await Promise.all([intake.health(), intake.health(), intake.health()])
  t.ok(Date.now() - started < ACK_TIMEOUT_MS + MARGIN_MS, `health() calls answered in ${Date.now() - started} ms`)
  t.ok(reports.every((r) => r === reports[0]), 'concurrent health() calls share one check')
  t.equal(reports[0].status, 'fail')
  await Promise.all([0, 1, 2, 3, 4].map(async (n) => await probe(`concurrent ${n}`)))
  // Requests piling up on the frozen connection must not delay the next answer.
  await Promise.all([0, 1, 2].map(async (n) => await app.inject({ method: 'POST', url: '/v1/events', ...signed(provider, { event_id: `pile-${n}` }) })))
  await probe('after enqueues timed out')
  await probe('once more')
})
