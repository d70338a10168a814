import t from 'tap'
import type { Test } from 'tap'
import { providers } from '../../providers/index.js'
import { createDeadLetters, createPoller, safeJobId, type WebhookEvent, type WorkerContext } from '../../worker/index.js'
import { stripePull, stripePoll, type PulledState, type StripeClient } from '../../pull/index.js'
import type { StripeEvent } from '../../scripts/fakes/stripe-api.mjs'
import { queueFixture, startWorker, waitFor, sleep, type QueueFixture } from '../helpers/worker.js'
import { buildApp, signed } from '../helpers/webhook.js'
import { fakeStripe, sdk } from '../helpers/stripe.js'

t.setTimeout(28_000)

/** A job as the Stripe route makes it. */
function job (event: StripeEvent, origin: WebhookEvent['origin'] = 'webhook'): WebhookEvent {
  return { v: 1, id: event.id, source: 'stripe', type: event.type, payload: event, headers: {}, receivedAt: Date.now(), origin }
}

interface Applies { byEvent: Map<string, number>, log: Array<{ id: string, state: PulledState | null, attempt: number, attemptsMade: number, origin: string }> }

function recorder (): Applies & { apply: (state: PulledState | null, event: WebhookEvent, ctx: WorkerContext) => void } {
  const byEvent = new Map<string, number>()
  const log: Applies['log'] = []
  return {
    byEvent,
    log,
    apply: (state, event, ctx) => {
      byEvent.set(event.id, (byEvent.get(event.id) ?? 0) + 1)
      log.push({ id: event.id, state, attempt: ctx.attempt, attemptsMade: ctx.job.attemptsMade, origin: ctx.origin })
    }
  }
}

function poller (t: Test, q: QueueFixture, fetch: ReturnType<typeof stripePoll>): ReturnType<typeof createPoller> {
  const p = createPoller({ connection: q.url, queueName: q.queueName, prefix: q.prefix, ...fetch, every: 200, runOnStart: true, logger: false, fetchBackoffMs: 10 })
  t.teardown(() => p.close())
  return p
}

t.test('poller and worker: pages with inserts and updates during the poll, each change applied once', async (t) => {
  const fake = await fakeStripe(t)
  const q = queueFixture(t, undefined, 'stripe-pages')
  const applies = recorder()
  await startWorker(t, q, { ...stripePull({ client: sdk(fake) }), apply: applies.apply, concurrency: 1, logger: false })
  const events = Array.from({ length: 8 }, (_, i) => fake.create(i % 2 === 0 ? 'customer' : 'invoice', { n: i }).event)
  const source = stripePoll({ client: sdk(fake), pageSize: 3, lookbackMs: 60_000 })
  let calls = 0
  // Changes land while the run pages: after its first and third page.
  const fetchChanges: typeof source.fetchChanges = async (cursor, ctx) => {
    const page = await source.fetchChanges(cursor, ctx)
    calls++
    if (calls === 1 || calls === 3) {
      events.push(fake.update('customer', events[0].data.object.id, { n: 100 + calls }).event)
      events.push(fake.create('price', { n: calls }).event)
    }
    return page
  }
  poller(t, q, { ...source, fetchChanges })
  await waitFor(() => events.every((e) => applies.byEvent.has(e.id)), 15_000, 'every event applied')
  await sleep(600)
  t.same([...applies.byEvent.keys()].sort(), events.map((e) => e.id).sort(), 'every change, nothing else')
  t.same([...applies.byEvent].filter(([, n]) => n !== 1), [], 'none applied twice')
  t.ok(applies.log.every((a) => a.origin === 'poll'))
  const last = applies.log.filter((a) => a.state?.id === events[0].data.object.id).at(-1)
  t.equal((last?.state?.object as { n: number }).n, 103, 'the customer ends in its latest state')
})

t.test('a 429 storm pauses hydration and spends no attempt', async (t) => {
  const fake = await fakeStripe(t)
  const q = queueFixture(t, undefined, 'stripe-429')
  const applies = recorder()
  await startWorker(t, q, { ...stripePull({ client: sdk(fake), rateLimitPauseMs: 100 }), apply: applies.apply, retry: { attempts: 2, baseDelayMs: 50 }, logger: false })
  const { event } = fake.create('customer')
  fake.rateLimit(6)
  await q.add(job(event))
  await waitFor(() => applies.log.length === 1, 15_000, 'the apply')
  t.equal(fake.count((r) => r.status === 429), 6, 'six 429 answers')
  t.equal(applies.log[0].attempt, 1, 'still the first attempt')
  t.equal(applies.log[0].attemptsMade, 0, 'no attempt spent')
  t.equal(applies.log[0].state?.id, event.data.object.id)
})

t.test('a deletion is a tombstone: an older state fetched before it and applied after it is skipped', async (t) => {
  const fake = await fakeStripe(t)
  const q = queueFixture(t, undefined, 'stripe-delete')
  const applies = recorder()
  const real = sdk(fake)
  // The customer fetch of the update event is answered before the deletion, and held until after it is applied.
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let fetched = false
  const client: StripeClient = {
    ...real,
    events: real.events,
    checkout: real.checkout,
    customers: {
      retrieve: async (id, params, options) => {
        const answer = await real.customers.retrieve(id, params, options)
        fetched = true
        await held
        return answer
      }
    }
  }
  // Two workers, as in production: one holds the update's state while the other applies the deletion.
  const holder = await startWorker(t, q, { ...stripePull({ client }), apply: applies.apply, concurrency: 1, logger: false })
  const customer = fake.create('customer').object
  fake.setClock(Math.floor(Date.now() / 1000) - 5)
  const update = fake.update('customer', customer.id, { name: 'before deletion' }).event
  fake.setClock(undefined)
  await q.add(job(update))
  await waitFor(() => fetched, 5000, 'the update\'s fetch')
  const deletion = fake.remove('customer', customer.id).event
  await startWorker(t, q, { ...stripePull({ client: real }), apply: applies.apply, concurrency: 1, logger: false })
  await q.add(job(deletion))
  await waitFor(() => applies.log.some((a) => a.id === deletion.id), 5000, 'the deletion')
  t.equal(applies.log.find((a) => a.id === deletion.id)?.state, null, 'null applied')
  release()
  await waitFor(() => holder.stats().stale === 1, 5000, 'the held state to be skipped')
  t.notOk(applies.byEvent.has(update.id), 'the older state never applied')
})

t.test('a signed webhook through the route and the poller for the same event: applied once', async (t) => {
  const fake = await fakeStripe(t)
  const provider = providers.stripe({ secret: 'whsec_test_secret' })
  const { app, queueName } = await buildApp(t, { provider })
  const q = { ...queueFixture(t, undefined, 'unused'), queueName }
  const applies = recorder()
  await startWorker(t, q, { ...stripePull({ client: sdk(fake) }), apply: applies.apply, logger: false })
  const events = [fake.create('customer').event, fake.create('payment_intent', { status: 'succeeded' }).event, fake.create('product').event]
  // Webhooks for the first two (one dropped), then the poller finds all three.
  for (const event of events.slice(0, 2)) {
    const { payload, headers } = signed(provider, event)
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload, headers })
    t.ok(res.statusCode >= 200 && res.statusCode < 300, `accepted: ${res.statusCode} ${res.body}`)
  }
  await waitFor(() => applies.log.length >= 2, 10_000, 'the webhooks')
  let polled = 0
  const p = poller(t, q, stripePoll({ client: sdk(fake), lookbackMs: 60_000 }))
  p.on('run', (r) => { if (!('skipped' in r)) polled += r.events })
  await waitFor(() => applies.byEvent.has(events[2].id) && polled >= 3, 10_000, 'the poll')
  await sleep(600)
  t.same([...applies.byEvent].sort(), events.map((e) => [e.id, 1]).sort(), 'each event applied once')
  t.same(applies.log.map((a) => a.origin), ['webhook', 'webhook', 'poll'])
})

t.test('a wrong key: dead-lettered at once with WEBHOOK_PULL_UNAUTHORIZED', async (t) => {
  const fake = await fakeStripe(t)
  const q = queueFixture(t, undefined, 'stripe-401')
  const applies = recorder()
  await startWorker(t, q, { ...stripePull({ client: sdk(fake, 'sk_test_revoked') }), apply: applies.apply, logger: false })
  const { event } = fake.create('customer')
  await q.add(job(event))
  const letters = createDeadLetters({ connection: q.url, queueName: q.queueName, prefix: q.prefix })
  t.teardown(() => letters.close())
  const letter = await waitFor(() => letters.get(safeJobId('stripe', event.id)), 10_000, 'the dead letter')
  t.equal(letter.stage, 'hydrate')
  t.equal(letter.error.code, 'WEBHOOK_PULL_UNAUTHORIZED')
  t.equal(letter.attemptsMade, 1, 'no retry')
  t.equal(fake.count((r) => r.status === 401), 1)
  t.equal(applies.log.length, 0)
})
