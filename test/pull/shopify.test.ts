import t from 'tap'
import type { Test } from 'tap'
import { createAdminRestApiClient } from '@shopify/admin-api-client'
import type { WebhookEvent } from '../../core/event.js'
import type { WorkerContext } from '../../worker/options.js'
import type { DeadLetter } from '../../dead-letters/dead-letter-record.js'
import { shopifyPoll, shopifyPull, type PulledState, type ShopifyRestClient } from '../../pull/index.js'
import { startShopifyFake, type ShopifyFake } from '../../scripts/fakes/shopify-api.mjs'
import { makeEvent, queueFixture, startWorker, waitFor } from '../helpers/worker.js'

t.setTimeout(60_000)

const API_VERSION = '2025-01'
const SHOP = 'fake-shop.myshopify.com'

async function fake (t: Test): Promise<ShopifyFake> {
  const f = await startShopifyFake()
  t.teardown(() => f.close())
  return f
}

/** The official SDK's REST client, pointed at the fake. */
function sdkClient (f: ShopifyFake, token = f.token): ShopifyRestClient {
  // The type-level check: the real SDK client is assignable to the structural interface.
  const client: ShopifyRestClient = createAdminRestApiClient({ storeDomain: f.host, apiVersion: API_VERSION, accessToken: token, scheme: 'http', logger: () => {} })
  return client
}

function webhook (type: string, payload: Record<string, unknown>, overrides: Partial<WebhookEvent> = {}): WebhookEvent {
  return makeEvent({ source: 'shopify', type, payload, headers: { 'x-shopify-topic': type, 'x-shopify-shop-domain': SHOP }, ...overrides })
}

function ctx (): WorkerContext {
  return { signal: new AbortController().signal } as unknown as WorkerContext
}

const old = (): number => Date.now() - 10_000

t.test('options are checked at creation, with coded errors naming the helper', async (t) => {
  const f = await fake(t)
  const client = sdkClient(f)
  const cases: Array<[() => unknown, RegExp]> = [
    [() => shopifyPull({}), /^shopifyPull\(\): needs a `client`/],
    [() => shopifyPull({ client, settle: 1 } as any), /^shopifyPull\(\): unknown option `settle`/],
    [() => shopifyPull({ client, accessToken: 'x' }), /^shopifyPull\(\): pass either `client` or the credentials/],
    [() => shopifyPull({ client, settleMs: -1 }), /^shopifyPull\(\): Expected `settleMs`/],
    [() => shopifyPull({ client, source: 'no spaces' }), /^shopifyPull\(\): Expected `source`/],
    [() => shopifyPull({ client: {} as any }), /^shopifyPull\(\): Expected `client.get`/],
    [() => shopifyPull({ shop: SHOP, accessToken: 'x', apiVersion: 'latest' }), /^shopifyPull\(\): Expected `apiVersion`/],
    [() => shopifyPull({ shop: SHOP, apiVersion: API_VERSION }), /^shopifyPull\(\): Expected `accessToken`/],
    [() => shopifyPull({ shop: 'https://x.myshopify.com', accessToken: 'x', apiVersion: API_VERSION }), /^shopifyPull\(\): Expected `shop`/],
    [() => shopifyPoll({ client, resource: 'refunds' as any }), /^shopifyPoll\(\): Expected `resource`/],
    [() => shopifyPoll({ client, resource: 'orders', overlapMs: 10 }), /^shopifyPoll\(\): Expected `overlapMs`/],
    [() => shopifyPoll({ client, resource: 'orders', pageSize: 251 }), /^shopifyPoll\(\): Expected `pageSize`/],
    [() => shopifyPoll(null as any), /^shopifyPoll\(\): Expected `options`/]
  ]
  for (const [make, message] of cases) {
    t.throws(make, { code: 'WEBHOOK_INVALID_OPTION', message }, String(message))
  }
  const pull = shopifyPull({ client })
  t.equal(pull.source, 'shopify')
  t.equal(pull.skipEqualVersion, true, 'settled versions name one state')
  t.equal(shopifyPull({ client, settleMs: 0 }).skipEqualVersion, false, 'without settling, equal versions may differ')
})

t.test('every mapped topic hydrates its object, through the SDK and through fetch', async (t) => {
  const f = await fake(t)
  const viaSdk = shopifyPull({ client: sdkClient(f) })
  const viaFetch = shopifyPull({ shop: SHOP, accessToken: f.token, apiVersion: API_VERSION, baseUrl: f.url })
  const order = f.create('orders', { name: '#1001' }, { at: old() })
  const objects: Array<[string, string, Record<string, unknown>]> = [
    ['orders/updated', 'orders', order],
    ['orders/paid', 'orders', order],
    ['products/update', 'products', f.create('products', { title: 'Hat' }, { at: old() })],
    ['customers/create', 'customers', f.create('customers', { email: 'a@example.com' }, { at: old() })],
    ['draft_orders/update', 'draft_orders', f.create('draft_orders', { name: '#D1' }, { at: old() })],
    ['collections/update', 'collections', f.create('collections', { title: 'Summer' }, { at: old() })],
    ['inventory_items/update', 'inventory_items', f.create('inventory_items', { sku: 'HAT-1' }, { at: old() })],
    ['locations/update', 'locations', f.create('locations', { name: 'Depot' }, { at: old() })],
    ['fulfillments/update', 'fulfillments', f.create('fulfillments', { order_id: order.id, status: 'success' }, { at: old() })],
    ['refunds/create', 'refunds', f.create('refunds', { order_id: order.id, note: 'damaged' }, { at: old() })]
  ]
  for (const pull of [viaSdk, viaFetch]) {
    for (const [topic, resource, object] of objects) {
      // The webhook's copy is stale on purpose: the state must come from the API.
      const event = webhook(topic, { ...object, stale: true })
      const state = await pull.hydrate(event, ctx()) as PulledState<Record<string, unknown>>
      t.same(state.object, object, `${topic}: the API's ${resource} object`)
      t.equal(state.kind, resource)
      t.equal(state.id, String(object.id))
      t.equal(state.version, Date.parse(String(object.updated_at ?? object.created_at)), `${topic}: version is the offset time in ms`)
      t.equal(pull.objectKey(event), pull === viaSdk ? `shopify:${resource}:${object.id}` : `shopify:${SHOP}:${resource}:${object.id}`)
    }
  }
  t.match(f.requests.map((r) => r.path), [/\/admin\/api\/2025-01\/orders\/\d+\.json$/], 'the SDK forms the documented path')
  t.ok(f.requests.some((r) => /\/orders\/\d+\/fulfillments\/\d+\.json$/.test(r.path)), 'a fulfillment is read through its order')
  t.ok(f.requests.some((r) => /\/orders\/\d+\/refunds\/\d+\.json$/.test(r.path)), 'a refund is read through its order')

  const before = f.count()
  t.equal(await viaSdk.hydrate(webhook('products/delete', { id: 7 }), ctx()), null, 'a delete topic is a tombstone')
  t.equal(f.count(), before, '…fetched from nowhere')
  t.equal(viaSdk.objectKey(webhook('products/delete', { id: 7 })), 'shopify:products:7', 'with the key of the object it deletes')
  t.equal(await viaSdk.hydrate(webhook('orders/updated', { id: 999 }), ctx()), null, 'a 404 is a tombstone')

  const unmapped = webhook('app/uninstalled', { id: 1, name: 'shop' })
  t.same(await viaSdk.hydrate(unmapped, ctx()), { kind: 'app', id: '1', object: { id: 1, name: 'shop' }, version: unmapped.receivedAt }, 'an unmapped topic hands its payload on')
  t.equal(viaSdk.objectKey(unmapped), undefined, '…unordered')

  await t.rejects(viaSdk.hydrate(webhook('orders/updated', { id: 2 ** 60 }), ctx()), { name: 'PermanentError', message: /no usable `id`/ }, 'a rounded id is refused, not fetched')
  t.equal(viaSdk.objectKey(webhook('orders/updated', { id: 2 ** 60, admin_graphql_api_id: 'gid://shopify/Order/1152921504606846977' })), 'shopify:orders:1152921504606846977', 'the gid keeps every digit')
  await t.rejects(viaFetch.hydrate(webhook('orders/updated', order, { headers: { 'x-shopify-shop-domain': 'other.myshopify.com' } }), ctx()),
    { code: 'WEBHOOK_PULL_REJECTED', message: /other\.myshopify\.com/ }, 'an event of another shop is not fetched with this shop\'s token')
})

t.test('402 and 423 are retried as unavailable; 401 and 403 are permanent', async (t) => {
  for (const [status, code] of [[402, 'WEBHOOK_PULL_UNAVAILABLE'], [423, 'WEBHOOK_PULL_UNAVAILABLE'], [401, 'WEBHOOK_PULL_UNAUTHORIZED'], [403, 'WEBHOOK_PULL_UNAUTHORIZED'], [500, 'WEBHOOK_PULL_UNAVAILABLE']] as const) {
    const pull = shopifyPull({ shop: SHOP, accessToken: 't', apiVersion: API_VERSION, fetch: async () => new Response('{"errors":"no"}', { status }) })
    await t.rejects(pull.hydrate(webhook('orders/updated', { id: 1 }), ctx()), { code }, String(status))
  }
})

t.test('settling: two changes in one second, the first webhook fetched between them, end with the second state applied', async (t) => {
  for (const settleMs of [2000, 0]) {
    await t.test(`settleMs ${settleMs}`, async (t) => {
      const f = await fake(t)
      const q = queueFixture(t)
      const order = f.create('orders', { note: 'created' }, { at: Date.now() - 60_000 })
      const pull = shopifyPull({ client: sdkClient(f), settleMs })
      const applied: Array<string | null> = []
      await startWorker(t, q, { ...pull, apply: async (state) => { applied.push((state as PulledState<{ note: string }> | null)?.object.note ?? null) } })
      const second = f.now()
      f.update('orders', order.id, { note: 'first' }, { at: second })
      let reads = 0
      f.afterResponse((r) => {
        if (r.path.endsWith(`/orders/${order.id}.json`) && ++reads === 1) f.update('orders', order.id, { note: 'second' }, { at: second })
      })
      await q.add(webhook('orders/updated', { ...f.get('orders', order.id)! }))
      await waitFor(() => applied.length === 1, 10_000)
      if (settleMs > 0) {
        t.same(applied, ['second'], 'the state of the end of the second')
        t.equal(reads, 2, 'fetched again once the second was over on Shopify\'s clock')
      } else {
        t.same(applied, ['first'], 'without settling, the state read mid-second (what skipEqualVersion must then not trust)')
      }
    })
  }
})

t.test('a 429 storm pauses hydration without spending an attempt', async (t) => {
  const f = await fake(t)
  const q = queueFixture(t)
  const order = f.create('orders', { note: 'x' }, { at: old() })
  const seen: Array<{ attempt: number, attemptsMade: number }> = []
  const w = await startWorker(t, q, {
    ...shopifyPull({ client: sdkClient(f) }),
    apply: async (_state, _event, c) => { seen.push({ attempt: c.attempt, attemptsMade: c.job.attemptsMade }) }
  })
  f.rateLimit(3, '0.2')
  await q.add(webhook('orders/updated', order))
  await waitFor(() => seen.length === 1, 20_000)
  t.same(seen, [{ attempt: 1, attemptsMade: 0 }], 'applied on its first attempt')
  t.equal(f.requests.filter((r) => r.status === 429).length, 3, 'through three 429s')
  t.ok(w.stats().hydrationPauses >= 1, 'paused hydration')
  t.equal(w.stats().retries, 0, 'no retry spent')
})

t.test('a bad token dead-letters the event at once with WEBHOOK_PULL_UNAUTHORIZED', async (t) => {
  const f = await fake(t)
  const q = queueFixture(t)
  const letters: DeadLetter[] = []
  let applies = 0
  const w = await startWorker(t, q, { ...shopifyPull({ client: sdkClient(f, 'shpat_wrong') }), apply: async () => { applies++ } })
  w.on('deadLetter', (letter) => letters.push(letter))
  await q.add(webhook('orders/updated', { id: 1 }))
  await waitFor(() => letters.length === 1, 10_000)
  t.equal(letters[0]!.error.code, 'WEBHOOK_PULL_UNAUTHORIZED')
  t.equal(letters[0]!.attemptsMade, 1, 'no retry')
  t.equal(applies, 0)
  t.equal(f.requests[0]!.status, 401)
})

t.test('a deleted object ends as a tombstone, and a state fetched before the deletion is skipped after it', async (t) => {
  const f = await fake(t)
  const q = queueFixture(t)
  const order = f.create('orders', { note: 'v1' }, { at: old() })
  const pull = shopifyPull({ client: sdkClient(f) })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let heldFetched = false
  const applied: Array<string | null> = []
  const apply = async (state: unknown): Promise<void> => { applied.push((state as PulledState<{ note: string }> | null)?.object.note ?? null) }
  // Two workers, as two processes: one process shares a hydrate call in flight per object.
  const held = await startWorker(t, q, {
    ...pull,
    concurrency: 1,
    hydrate: async (event, c) => {
      const state = await pull.hydrate(event, c)
      heldFetched = true
      await gate
      return state
    },
    apply
  })
  await q.add(webhook('orders/updated', order, { id: 'held' }))
  await waitFor(() => heldFetched, 10_000)
  f.remove('orders', order.id)
  await startWorker(t, q, { ...pull, apply })
  await q.add(webhook('orders/delete', { id: order.id }, { id: 'deleted' }))
  await waitFor(() => applied.length === 1, 10_000)
  t.same(applied, [null], 'the deletion applies as a null state')
  release()
  await waitFor(() => held.stats().stale === 1, 10_000)
  t.same(applied, [null], 'the state fetched before the deletion never applies')
})
