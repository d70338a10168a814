import t from 'tap'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { providers } from 'fastify-hybrid-webhooks'
import { safeJobId } from 'fastify-hybrid-webhooks/worker'
import { start as startServer } from '../examples/server.js'
import { openStore, type Order } from '../examples/transactional-apply.js'
import { applied, start as startWorker } from '../examples/worker.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from './helpers/redis.js'

// The README's minimal pair, run for real: the example server on a real socket,
// the example worker on the shared test Redis, one signed event end to end.
process.env.LOG_LEVEL = 'silent'

t.test('examples/server.ts and examples/worker.ts: one signed event in, one apply out', async (t) => {
  const secret = 'examples-test-secret'
  const queueName = uniqueName('examples')
  const client = testClient(t)
  t.teardown(() => cleanQueue(client, 'bull', queueName))

  const app = await startServer({ secret, connection: redisUrl(), queueName, port: 0 })
  t.teardown(() => app.close())
  const worker = startWorker({ connection: redisUrl(), queueName })
  t.teardown(() => worker.close({ timeoutMs: 5000 }))
  await worker.waitUntilReady()

  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/events`
  const sender = providers.hmac({ secret })
  const payload = { event_id: 'evt_example_1', type: 'order.paid', order_id: 'ord_1' }
  const body = JSON.stringify(payload)

  const attempt = once(worker, 'attempt')
  const res = await fetch(url, { method: 'POST', headers: sender.sign(body), body })
  t.equal(res.status, 202)
  t.same(await res.json(), { received: true })
  const [report] = await attempt
  t.equal(report.outcome, 'applied')

  const key = safeJobId('hmac', 'evt_example_1')
  t.same([...applied.keys()], [key], 'applied once, under the event\'s idempotency key')
  t.same(applied.get(key), payload, 'without hydrate, the state is the payload')

  // The provider retries the same delivery: accepted again, applied no more.
  const again = await fetch(url, { method: 'POST', headers: sender.sign(body), body })
  t.equal(again.status, 202)
  t.equal(app.webhooks.get('hmac:/v1/events')?.stats.duplicates, 1, 'the copy was recognised at ingress')
  t.equal(worker.stats().applied, 1)

  // A forged delivery never reaches the worker.
  const forged = await fetch(url, { method: 'POST', headers: { ...sender.sign(body), 'x-provider-signature': 'AAAA' }, body })
  t.equal(forged.status, 401)
  t.equal(applied.size, 1)
})

t.test('examples/transactional-apply.ts: one effect per event, and ctx.fence refuses a late write', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'transactional-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { applyOnce, db } = openStore(join(dir, 'orders.db'))
  t.teardown(() => db.close())
  const order = (version: number, status: string): Order => ({ id: 'ord_1', status, amount_cents: 100, version })
  t.equal(applyOnce('acme.evt_1', 7, 'ord_1', order(2, 'paid')), 'applied', 'the newer attempt writes')
  t.equal(applyOnce('acme.evt_1', 5, 'ord_1', order(1, 'pending')), 'late', 'the late write of an older attempt is refused')
  t.equal(applyOnce('acme.evt_1', 9, 'ord_1', order(2, 'paid')), 'duplicate', 'a re-run after a crash is a no-op')
  t.equal(applyOnce('acme.evt_2', 3, 'ord_1', order(1, 'pending')), 'not-newer', 'fences are per event; versions per order')
  t.same(db.prepare('SELECT status, version FROM orders').all(), [{ status: 'paid', version: 2 }])
})
