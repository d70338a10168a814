import t from 'tap'
import type { Test } from 'tap'
import { pino } from 'pino'
import { createAdminRestApiClient } from '@shopify/admin-api-client'
import { createPoller, type Poller } from '../../poller/poller.js'
import type { PollContext } from '../../poller/poll-page.js'
import { providers } from '../../providers/index.js'
import { shopifyPoll, shopifyPull, type PulledState, type ShopifyRestClient } from '../../pull/index.js'
import { startShopifyFake, type ShopifyFake } from '../../scripts/fakes/shopify-api.mjs'
import { buildApp } from '../helpers/webhook.js'
import { queueFixture, SHORT_LOCKS, startWorker, waitFor, type QueueFixture } from '../helpers/worker.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { redisUrl } from '../helpers/redis.js'

t.setTimeout(60_000)

async function fake (t: Test): Promise<ShopifyFake> {
  const f = await startShopifyFake()
  t.teardown(() => f.close())
  return f
}

function sdkClient (f: ShopifyFake): ShopifyRestClient {
  return createAdminRestApiClient({ storeDomain: f.host, apiVersion: '2025-01', accessToken: f.token, scheme: 'http', logger: () => {} })
}

function pollCtx (): PollContext {
  return { signal: new AbortController().signal, log: pino({ level: 'silent' }), page: 1, runId: 'r' }
}

function poller (t: Test, queueName: string, options: Parameters<typeof shopifyPoll>[0]): Poller {
  const p = createPoller({ connection: redisUrl(), queueName, ...shopifyPoll(options), every: 60_000, runOnStart: false, maxPagesPerRun: 100, logger: false, ...SHORT_LOCKS })
  t.teardown(() => p.close())
  return p
}

/** Applies counted per object and version: a change is one (id, version). */
function counter (): { apply: (state: unknown) => Promise<void>, counts: Map<string, number>, last: Map<string, number> } {
  const counts = new Map<string, number>()
  const last = new Map<string, number>()
  return {
    counts,
    last,
    apply: async (state) => {
      const s = state as PulledState
      const key = `${s.id}@${s.version}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
      last.set(s.id, s.version)
    }
  }
}

t.test('fetchChanges: windows by updated_at, pages by page_info, a page boundary inside one second, status=any', async (t) => {
  const f = await fake(t)
  const base = Date.now() - 30_000
  // Five orders share one second: page boundaries of 2 fall inside it.
  const orders = [0, 0, 0, 0, 0, 5000, 6000].map((d, i) => f.create('orders', { n: i, ...(i === 1 ? { closed_at: f.format(base) } : {}) }, { at: base + d }))
  f.create('orders', { n: 'too old' }, { at: base - 10 * 86_400_000 })
  const poll = shopifyPoll({ client: sdkClient(f), resource: 'orders', pageSize: 2, lookbackMs: 86_400_000 })
  let cursor = poll.initialCursor()
  const ids: string[] = []
  for (let pages = 0; ; pages++) {
    const page = await poll.fetchChanges(cursor, pollCtx())
    ids.push(...page.events.map((e) => e.id))
    t.ok(page.events.every((e) => e.type === 'orders/updated'), 'typed as the webhook topic')
    cursor = page.cursor
    if (!page.hasMore) break
    t.ok(pages < 10, 'ends')
  }
  t.same(ids, orders.map((o) => `orders/${o.id}@${new Date(Date.parse(String(o.updated_at))).toISOString().replace('.000Z', 'Z')}`), 'every order once, oldest first, the closed one too')
  const lists = f.requests.filter((r) => r.path.endsWith('/orders.json'))
  t.equal(lists.length, 4)
  t.match(lists[0]!.query, { status: 'any', order: 'updated_at asc', limit: '2', updated_at_min: /Z$/, updated_at_max: /Z$/ })
  t.ok(lists.slice(1).every((r) => Object.keys(r.query).sort().join() === 'limit,page_info'), 'later pages send only limit and page_info')
  t.ok(lists.every((r) => r.status === 200))
  t.same(JSON.parse(cursor), { v: 1, from: JSON.parse(cursor).from }, 'between windows the cursor is only where the next starts')

  // The next window overlaps the last: what it reads again has the same ids.
  const again = await poll.fetchChanges(cursor, pollCtx())
  t.ok(again.events.length > 0, 'the overlap reads the last window\'s end again')
  t.ok(again.events.every((e) => ids.includes(e.id)), '…under the same ids, so the queue dedupes them')
  f.rateLimit(1, '2.0')
  await t.rejects(poll.fetchChanges(cursor, pollCtx()), { name: 'RateLimitedError', retryAfterMs: 2000 }, 'a 429 pauses the poller for Retry-After')
  await t.rejects(poll.fetchChanges('{"v":2}', pollCtx()), { name: 'PermanentError' }, 'a foreign cursor is refused')
})

t.test('the poller with inserts and updates during the poll: every change applied, each once', async (t) => {
  const f = await fake(t)
  const q: QueueFixture = queueFixture(t)
  const base = Date.now() - 20_000
  const orders = Array.from({ length: 9 }, (_, i) => f.create('orders', { n: i }, { at: base + Math.floor(i / 3) * 1000 }))
  const { apply, counts, last } = counter()
  await startWorker(t, q, { ...shopifyPull({ client: sdkClient(f) }), concurrency: 4, apply })
  const p = poller(t, q.queueName, { client: sdkClient(f), resource: 'orders', pageSize: 2, lookbackMs: 60_000, overlapMs: 5000 })
  // While the first window is paged: an order already read changes, one not read yet changes, and one is created.
  let lists = 0
  let added: number | undefined
  f.afterResponse((r) => {
    if (!r.path.endsWith('/orders.json') || ++lists !== 2) return
    f.update('orders', orders[0]!.id, { n: 'changed after read' })
    f.update('orders', orders[8]!.id, { n: 'changed before read' })
    added = f.create('orders', { n: 'new' }).id
  })
  await p.runOnce()
  // The changes during the first window are in the next one.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  await p.runOnce()
  const all = [...orders.map((o) => o.id), added!]
  await waitFor(() => all.every((id) => last.get(String(id)) === Date.parse(String(f.get('orders', id)!.updated_at))), 15_000)
  await new Promise((resolve) => setTimeout(resolve, 700))
  const twice = [...counts].filter(([, n]) => n !== 1)
  t.same(twice, [], 'no change applied twice')
  t.ok(f.requests.every((r) => r.status === 200), 'no refused request')
})

t.test('a signed webhook and a poll of the same change apply once', async (t) => {
  const f = await fake(t)
  const provider = providers.shopify({ secret: 'shpss_test' })
  const { app, queueName } = await buildApp(t, { provider, source: 'shopify' })
  const order = f.create('orders', { note: 'paid' }, { at: Date.now() - 5000 })
  const { apply, counts } = counter()
  const worker = createWebhookWorker({ connection: redisUrl(), queueName, ...SHORT_LOCKS, logger: false, ...shopifyPull({ client: sdkClient(f) }), apply })
  t.teardown(() => worker.close({ timeoutMs: 2000 }))
  const body = JSON.stringify(order)
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: provider.sign(body, { topic: 'orders/updated' }) })
  t.equal(res.statusCode, 202)
  await poller(t, queueName, { client: sdkClient(f), resource: 'orders' }).runOnce()
  await waitFor(() => worker.stats().applied + worker.stats().unchanged === 2, 15_000)
  t.same([...counts.values()], [1], 'applied once')
  t.equal(worker.stats().unchanged, 1, 'the other event of the change found it applied')
})
