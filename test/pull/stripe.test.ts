import t from 'tap'
import Stripe from 'stripe'
import { pino } from 'pino'
import type { WebhookEvent } from '../../core/event.js'
import type { WorkerContext } from '../../worker/options.js'
import type { PollContext } from '../../poller/poll-page.js'
import { stripePull, stripePoll, STRIPE_PULLED_KINDS, type StripeClient } from '../../pull/index.js'
import { eventPrefix, STRIPE_PATHS, type StripeEvent } from '../../scripts/fakes/stripe-api.mjs'
import { captureLogs } from '../helpers/webhook.js'
import { fakeStripe, sdk } from '../helpers/stripe.js'

t.setTimeout(25_000)

// The real SDK instance is assignable to the structural interface the helpers take.
const typeCheck: StripeClient = new Stripe('sk_test_types')
t.ok(typeCheck.events, 'a real Stripe instance is a StripeClient')

const silent = pino({ level: 'silent' })
const ctx = { log: silent, attempt: 1 } as unknown as WorkerContext
const pollCtx = (log: PollContext['log'] = silent): PollContext => ({ log, signal: new AbortController().signal, page: 1, runId: 'r' })

/** A Stripe event as the webhook route turns it into a job. */
function asWebhook (event: StripeEvent): WebhookEvent {
  return { v: 1, id: event.id, source: 'stripe', type: event.type, payload: event, headers: {}, receivedAt: Date.now(), origin: 'webhook' }
}

t.test('every mapped kind hydrates its object\'s current state from its own path', async (t) => {
  const fake = await fakeStripe(t)
  const pull = stripePull({ client: sdk(fake) })
  t.same([...STRIPE_PULLED_KINDS].sort(), Object.values(STRIPE_PATHS).sort(), 'the fake serves every kind the helper maps')
  for (const [path, kind] of Object.entries(STRIPE_PATHS)) {
    const { object, event } = fake.create(kind, { metadata: { step: 'created' } })
    fake.update(kind, object.id, { metadata: { step: 'updated' } })
    const before = fake.requests.length
    const state = await pull.hydrate(asWebhook(event), ctx)
    t.same(state, { kind, id: object.id, object: fake.object(kind, object.id), version: event.created * 1000 }, `${event.type}: the current ${kind}`)
    t.equal((state?.object as { metadata: { step: string } }).metadata.step, 'updated', `${kind}: fetched, not the event's snapshot`)
    t.same(fake.requests.slice(before).map((r) => r.path), [`/v1/${path}/${object.id}`], `${kind}: one GET /v1/${path}/{id}`)
    t.equal(pull.objectKey(asWebhook(event)), `stripe:${kind}:${object.id}`)
    t.equal(event.type, `${eventPrefix(kind)}.created`)
  }
})

t.test('Connect: the event\'s account is sent as Stripe-Account and is part of the object key', async (t) => {
  const fake = await fakeStripe(t)
  const pull = stripePull({ client: sdk(fake) })
  fake.create('customer', { name: 'platform' }, { id: 'cus_same' })
  const { event } = fake.create('customer', { name: 'connected' }, { id: 'cus_same', account: 'acct_1' })
  const state = await pull.hydrate(asWebhook(event), ctx)
  t.equal((state?.object as { name: string }).name, 'connected', 'the connected account\'s customer, not the platform\'s')
  t.equal(fake.requests.at(-1)?.account, 'acct_1')
  t.equal(pull.objectKey(asWebhook(event)), 'stripe:acct_1:customer:cus_same')
})

t.test('deletions are tombstones: *.deleted without a fetch, a deleted: true object, a 404', async (t) => {
  const fake = await fakeStripe(t)
  const pull = stripePull({ client: sdk(fake) })
  const customer = fake.create('customer').object
  const updated = fake.update('customer', customer.id, { name: 'x' }).event
  const deleted = fake.remove('customer', customer.id).event
  let before = fake.requests.length
  t.equal(await pull.hydrate(asWebhook(deleted), ctx), null, 'customer.deleted')
  t.equal(fake.requests.length, before, 'no request for a .deleted event')
  t.same(fake.object('customer', customer.id), { id: customer.id, object: 'customer', deleted: true })
  t.equal(await pull.hydrate(asWebhook(updated), ctx), null, 'an older event of a deleted customer: { deleted: true } is null')
  const price = fake.create('price').object
  const priceEvent = fake.update('price', price.id, { active: false }).event
  fake.remove('price', price.id)
  t.equal(await pull.hydrate(asWebhook(priceEvent), ctx), null, 'a 404 is null')
  t.equal(fake.requests.at(-1)?.status, 404)
  // A subscription that ends is still there, canceled: its .deleted event is fetched.
  const sub = fake.create('subscription', { status: 'active' }).object
  const ended = fake.emit('customer.subscription.deleted', { ...sub, status: 'canceled' })
  fake.update('subscription', sub.id, { status: 'canceled' })
  before = fake.requests.length
  const state = await pull.hydrate(asWebhook(ended), ctx)
  t.equal((state?.object as { status: string }).status, 'canceled')
  t.equal(fake.requests.length, before + 1)
})

t.test('an unmapped kind: the event\'s own snapshot, not fetched, no object key', async (t) => {
  const fake = await fakeStripe(t)
  const pull = stripePull({ client: sdk(fake) })
  const discount = fake.emit('customer.discount.created', { id: 'di_1', object: 'discount', coupon: 'co_1' })
  const balance = fake.emit('balance.available', { object: 'balance', available: [] } as unknown as StripeEvent['data']['object'])
  const before = fake.requests.length
  t.same(await pull.hydrate(asWebhook(discount), ctx), { kind: 'discount', id: 'di_1', object: discount.data.object, version: discount.created * 1000 })
  t.same(await pull.hydrate(asWebhook(balance), ctx), { kind: 'balance', id: '', object: balance.data.object, version: balance.created * 1000 })
  t.equal(fake.requests.length, before, 'nothing fetched')
  t.equal(pull.objectKey(asWebhook(discount)), undefined)
  t.equal(pull.skipEqualVersion, false, 'two changes can share a second: equal versions apply')
  await t.rejects(pull.hydrate({ ...asWebhook(discount), payload: { id: 'x' } }, ctx), { name: 'PermanentError', message: /no data\.object/ })
})

t.test('failures: 429 pauses (Retry-After or the default), 401 and 403 are unauthorized, the SDK\'s own retries are welcome', async (t) => {
  const fake = await fakeStripe(t)
  const { event } = fake.create('customer')
  const pull = stripePull({ client: sdk(fake), rateLimitPauseMs: 1234 })
  fake.rateLimit(1)
  await t.rejects(pull.hydrate(asWebhook(event), ctx), { name: 'RateLimitedError', retryAfterMs: 1234 })
  fake.rateLimit(1, { retryAfterSec: 3 })
  await t.rejects(pull.hydrate(asWebhook(event), ctx), { name: 'RateLimitedError', retryAfterMs: 3000 })
  await t.rejects(stripePull({ client: sdk(fake, 'sk_test_wrong') }).hydrate(asWebhook(event), ctx), { name: 'PermanentError', code: 'WEBHOOK_PULL_UNAUTHORIZED', message: /401/ })
  fake.deny('/v1/customers')
  await t.rejects(pull.hydrate(asWebhook(event), ctx), { name: 'PermanentError', code: 'WEBHOOK_PULL_UNAUTHORIZED', message: /403/ })
  // With Stripe-Should-Retry: true the SDK retries by itself; the helper sees only the success.
  const other = fake.create('product').event
  fake.rateLimit(1, { shouldRetry: true })
  const state = await stripePull({ client: sdk(fake, fake.apiKey, 2) }).hydrate(asWebhook(other), ctx)
  t.equal(state?.kind, 'product')
  t.same(fake.requests.slice(-2).map((r) => r.status), [429, 200])
})

t.test('apiKey instead of a client: the SDK is loaded on first use', async (t) => {
  const pull = stripePull({ apiKey: 'sk_test_lazy' })
  t.equal(pull.source, 'stripe')
  // The default host is Stripe's: no call is made here, only the event without data.object is refused before any.
  await t.rejects(pull.hydrate({ ...asWebhook({ id: 'evt_1' } as unknown as StripeEvent), payload: {} }, ctx), { name: 'PermanentError' })
})

t.test('options errors are coded and name the helper', async (t) => {
  const fake = await fakeStripe(t)
  const client = sdk(fake)
  const cases: Array<[() => unknown, RegExp]> = [
    [() => stripePull(undefined as never), /^stripePull\(\): Expected `options` to be an object/],
    [() => stripePull({} as never), /^stripePull\(\): give `client`/],
    [() => stripePull({ client, apiKey: 'sk_test_x' }), /not both/],
    [() => stripePull({ client, sorce: 'x' } as never), /^stripePull\(\): unknown option `sorce`/],
    [() => stripePull({ client, source: '1bad' }), /`source`/],
    [() => stripePull({ apiKey: 'pk_live_secretish' }), /^stripePull\(\): Expected `apiKey` to be a Stripe secret or restricted key/],
    [() => stripePull({ client, rateLimitPauseMs: 0 }), /`rateLimitPauseMs`/],
    [() => stripePoll({ client, pageSize: 101 }), /^stripePoll\(\): Expected `pageSize`/],
    [() => stripePoll({ client, lookbackMs: 31 * 86_400_000 }), /^stripePoll\(\): Expected `lookbackMs`/],
    [() => stripePoll({ client, types: [] }), /^stripePoll\(\): Expected `types`/],
    [() => stripePoll({ client, types: 'customer.updated' as never }), /`types`/]
  ]
  for (const [make, message] of cases) t.throws(make, { code: 'WEBHOOK_INVALID_OPTION', message })
  try {
    stripePull({ apiKey: 'pk_live_secretish' })
    t.fail('refused')
  } catch (err) {
    t.notMatch((err as Error).message, /secretish/, 'the key is not echoed')
  }
  t.equal(stripePoll({ client, source: 'stripe-eu' }).source, 'stripe-eu')
})

t.test('poll: pages oldest first with Stripe\'s ids, types, inserts between pages neither skipped nor repeated', async (t) => {
  const fake = await fakeStripe(t)
  const poll = stripePoll({ client: sdk(fake), pageSize: 3 })
  t.match(poll.initialCursor(), /^since:\d+$/)
  const first = Array.from({ length: 7 }, (_, i) => fake.create('customer', { name: `c${i}` }).event)
  const seen: string[] = []
  let cursor = poll.initialCursor()
  let inserted: StripeEvent[] = []
  for (let page = 0; page < 20; page++) {
    const p = await poll.fetchChanges(cursor, pollCtx())
    for (const e of p.events) {
      t.equal(e.type, fake.event(e.id)?.type)
      t.same(e.payload, fake.event(e.id), 'the payload is the Event, as the webhook carries it')
    }
    seen.push(...p.events.map((e) => e.id))
    if (page === 0) inserted = [fake.update('customer', first[0].data.object.id, { name: 'again' }).event, fake.create('invoice').event]
    cursor = p.cursor
    if (!p.hasMore) break
  }
  const all = [...first, ...inserted].map((e) => e.id)
  t.same(seen, all, 'every event once, oldest first')
  const after = await poll.fetchChanges(cursor, pollCtx())
  t.same(after, { events: [], cursor, hasMore: false }, 'nothing new: the cursor stays')

  const typed = stripePoll({ client: sdk(fake), types: ['invoice.*'] })
  const p = await typed.fetchChanges(typed.initialCursor(), pollCtx())
  t.same(p.events.map((e) => e.type), ['invoice.created'])
})

t.test('poll: the first run starts lookbackMs back, walking back through pages', async (t) => {
  const fake = await fakeStripe(t)
  const now = Math.floor(Date.now() / 1000)
  fake.setClock(now - 7200)
  fake.create('customer', { name: 'too old' })
  fake.setClock(now - 1800)
  const recent = Array.from({ length: 5 }, () => fake.create('product').event)
  fake.setClock(undefined)
  const poll = stripePoll({ client: sdk(fake), pageSize: 2, lookbackMs: 3_600_000 })
  const p = await poll.fetchChanges(poll.initialCursor(), pollCtx())
  t.same(p.events.map((e) => e.id), recent.slice(0, 1).map((e) => e.id), 'the oldest page inside the lookback (one left after two full pages)')
  t.equal(p.hasMore, true)
  t.equal(p.cursor, `${recent[0].id}@${recent[0].created}`)
  const rest = await poll.fetchChanges(p.cursor, pollCtx())
  t.same(rest.events.map((e) => e.id), recent.slice(1, 3).map((e) => e.id))
})

t.test('poll: a cursor whose event expired restarts from its time, with a warning, and loses nothing', async (t) => {
  const fake = await fakeStripe(t)
  const poll = stripePoll({ client: sdk(fake) })
  const now = Math.floor(Date.now() / 1000)
  fake.setClock(now - 100)
  const old = fake.create('customer').event
  fake.setClock(now - 50)
  const newer = [fake.create('customer').event, fake.create('price').event]
  fake.setClock(undefined)
  fake.expireEvents(now - 60)
  const { logger, lines } = captureLogs()
  const p = await poll.fetchChanges(`${old.id}@${old.created}`, pollCtx(logger as unknown as PollContext['log']))
  t.same(p.events.map((e) => e.id), newer.map((e) => e.id))
  t.equal(p.hasMore, false)
  t.ok(lines.some((l) => l.level === 40 && /no longer lists the cursor/.test(String(l.msg))), 'a warning')
  t.ok(fake.requests.some((r) => r.status === 400), 'Stripe refused the unknown ending_before')
  // A rate limit while polling pauses the poller instead.
  fake.rateLimit(1)
  await t.rejects(poll.fetchChanges(p.cursor, pollCtx()), { name: 'RateLimitedError' })
  await t.rejects(poll.fetchChanges('nonsense', pollCtx()), { code: 'WEBHOOK_PULL_REJECTED' })
})
