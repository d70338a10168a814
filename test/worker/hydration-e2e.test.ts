import t from 'tap'
import type { WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import type { WorkerContext } from '../../worker/options.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

// Hydration sharing and caching seen through a whole worker: events queued,
// states applied. The hydrate step's own decisions are tested in hydration.test.ts.

t.setTimeout(90_000)

interface State { objectId: string, version: number, fetchedAt: number }

const objectKey = (event: WebhookEvent): string => (event.payload as { object_id: string }).object_id

/** A fake provider API: the current version of each object, and a record of every call. */
function fakeApi (delayFor: (call: number) => number = () => 0) {
  const versions = new Map<string, number>()
  const calls: Array<{ objectId: string, at: number }> = []
  let active = 0
  let maxActive = 0
  async function hydrate (event: WebhookEvent): Promise<State> {
    const objectId = objectKey(event)
    const fetchedAt = Date.now()
    calls.push({ objectId, at: fetchedAt })
    const state = { objectId, version: versions.get(objectId) ?? 1, fetchedAt }
    active++
    maxActive = Math.max(maxActive, active)
    try {
      await sleep(delayFor(calls.length))
      return state
    } finally {
      active--
    }
  }
  return { versions, calls, hydrate, maxActive: () => maxActive }
}

function received (event: WebhookEvent, at: number): WebhookEvent {
  return { ...event, receivedAt: at }
}

t.test('event B received while A\'s hydrate for the same object is in flight gets a state fetched after B arrived', async (t) => {
  const q = queueFixture(t)
  const api = fakeApi((call) => (call === 1 ? 1000 : 0))
  const applied = new Map<string, State>()
  const w = await startWorker<State>(t, q, {
    objectKey,
    hydrate: api.hydrate,
    apply: async (state, event) => { applied.set(event.id, state as State) },
    concurrency: 5
  })
  const a = received(makeEvent({ payload: { object_id: 'o1' } }), Date.now() - 10_000)
  await q.add(a)
  await waitFor(() => api.calls.length === 1, 5000, 'A hydrating')
  const startedA = api.calls[0].at
  api.versions.set('o1', 2)
  // B happened after A's call started; C long before it.
  const b = makeEvent({ payload: { object_id: 'o1' } })
  const c = received(makeEvent({ payload: { object_id: 'o1' } }), startedA - 5000)
  await q.add(b)
  await q.add(c)
  await waitFor(() => applied.size === 3, 10_000, 'all three applied')

  t.equal(api.calls.length, 2, 'two calls: A\'s (shared with C) and the one after it, for B')
  t.equal(api.maxActive(), 1, 'never two calls for the object at once')
  const stateB = applied.get(b.id) as State
  t.ok(stateB.fetchedAt >= b.receivedAt, 'B\'s state was fetched after B was received')
  t.equal(stateB.version, 2, 'so it has the change B announced')
  t.equal(applied.get(c.id)?.fetchedAt, startedA, 'C shared A\'s call')
  t.equal(applied.get(a.id)?.version, 1)
  t.match(w.stats(), { hydrateCalls: 2, coalesced: 1, cacheHits: 0, retries: 0 })
})

t.test('an event received within the clock-skew margin before a call started does not share it', async (t) => {
  const q = queueFixture(t)
  const api = fakeApi((call) => (call === 1 ? 800 : 0))
  const applied = new Map<string, State>()
  const w = await startWorker<State>(t, q, {
    objectKey,
    hydrate: api.hydrate,
    apply: async (state, event) => { applied.set(event.id, state as State) },
    clockSkewMs: 3000,
    concurrency: 5
  })
  await q.add(received(makeEvent({ payload: { object_id: 'o2' } }), Date.now() - 60_000))
  await waitFor(() => api.calls.length === 1, 5000, 'first call')
  const near = received(makeEvent({ payload: { object_id: 'o2' } }), api.calls[0].at - 2000)
  await q.add(near)
  await waitFor(() => applied.has(near.id), 10_000, 'applied')
  t.ok((applied.get(near.id) as State).fetchedAt > api.calls[0].at, 'it waited for a call of its own')
  t.equal(api.calls.length, 2)
  t.equal(w.stats().coalesced, 0)
})

t.test('the cache serves only events received before its entry\'s fetch started, until it expires', async (t) => {
  const q = queueFixture(t)
  const api = fakeApi()
  const applied = new Map<string, State>()
  const w = await startWorker<State>(t, q, {
    objectKey,
    hydrate: api.hydrate,
    apply: async (state, event) => { applied.set(event.id, state as State) },
    hydrateCacheMs: 1500,
    concurrency: 1
  })
  async function run (event: WebhookEvent): Promise<State> {
    await q.add(event)
    return await waitFor(() => applied.get(event.id), 5000, `event ${event.id}`)
  }
  const first = await run(received(makeEvent({ payload: { object_id: 'o3' } }), Date.now() - 60_000))
  const older = await run(received(makeEvent({ payload: { object_id: 'o3' } }), first.fetchedAt - 2000))
  t.equal(older.fetchedAt, first.fetchedAt, 'an event from before the fetch is served from the cache')
  t.equal(api.calls.length, 1)

  api.versions.set('o3', 2)
  const newer = makeEvent({ payload: { object_id: 'o3' } })
  const fresh = await run(newer)
  t.ok(fresh.fetchedAt >= newer.receivedAt && fresh.version === 2, 'an event from after the fetch gets a new one')
  t.equal(api.calls.length, 2)
  const between = await run(received(makeEvent({ payload: { object_id: 'o3' } }), fresh.fetchedAt - 1500))
  t.equal(between.fetchedAt, fresh.fetchedAt, 'the newer entry replaced the older one')
  t.match(w.stats(), { hydrateCalls: 2, cacheHits: 2 })

  await sleep(1600)
  const late = await run(received(makeEvent({ payload: { object_id: 'o3' } }), first.fetchedAt - 5000))
  t.ok(late.fetchedAt > fresh.fetchedAt, 'an expired entry serves nobody')
  t.equal(api.calls.length, 3)
  t.equal(w.stats().cacheHits, 2)
})

t.test('a burst of 1,000 events over 20 objects, queued before the worker starts, costs at most 24 hydrate calls', async (t) => {
  const q = queueFixture(t)
  const api = fakeApi(() => 20)
  const events = Array.from({ length: 1000 }, (_, i) => makeEvent({ payload: { object_id: `obj_${i % 20}` } }))
  for (let i = 0; i < events.length; i += 200) {
    await q.queue.addBulk(events.slice(i, i + 200).map((e) => ({ name: 'webhook', data: e, opts: eventJobOptions(safeJobId(e.source, e.id)) })))
  }
  // A backlog: the worker starts after the events were received (more than the clock-skew margin ago).
  await sleep(Math.max(0, events[events.length - 1].receivedAt + 1100 - Date.now()))
  let applied = 0
  const w = await startWorker<State>(t, q, { objectKey, hydrate: api.hydrate, apply: async () => { applied++ }, hydrateCacheMs: 60_000 })
  await waitFor(() => applied === 1000, 60_000, 'all applied')
  t.ok(api.calls.length <= 24, `${api.calls.length} hydrate calls`)
  t.ok(api.calls.length >= 20, 'at least one per object')
  const s = w.stats()
  t.equal(s.hydrateCalls + s.coalesced + s.cacheHits, 1000, 'every event either called, shared a call, or hit the cache')
})

t.test('a failed call\'s error is shared; a call cut off by its starter\'s timeout is not', async (t) => {
  const q = queueFixture(t)
  const calls: Array<{ id: string, attempt: number }> = []
  const applied: string[] = []
  const w = await startWorker(t, q, {
    objectKey,
    hydrateTimeoutMs: 400,
    retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 100 },
    hydrate: async (event: WebhookEvent, ctx: WorkerContext) => {
      calls.push({ id: event.id, attempt: ctx.attempt })
      const kind = (event.payload as { kind: string }).kind
      if (calls.length === 1 && kind === 'fails') {
        await sleep(300)
        throw new Error('provider 500')
      }
      if (calls.length === 1 && kind === 'hangs') {
        await new Promise((resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
      }
      return { n: calls.length }
    },
    apply: async (_s, event) => { applied.push(event.id) },
    concurrency: 4
  })
  const old = Date.now() - 60_000
  const starter = received(makeEvent({ payload: { object_id: 'o5', kind: 'fails' } }), old)
  await q.add(starter)
  await waitFor(() => calls.length === 1, 5000, 'first call')
  const waiter = received(makeEvent({ payload: { object_id: 'o5', kind: 'fails' } }), old)
  await q.add(waiter)
  await waitFor(() => applied.length === 2, 10_000, 'both applied after a retry')
  t.equal(w.stats().retries, 2, 'both events spent an attempt on the one failed call')
  t.notOk(calls.some((c) => c.id === waiter.id && c.attempt === 1), 'the waiter made no call of its own in that attempt')

  calls.length = 0
  applied.length = 0
  const slow = received(makeEvent({ payload: { object_id: 'o6', kind: 'hangs' } }), old)
  await q.add(slow)
  await waitFor(() => calls.length === 1, 5000, 'slow call')
  await sleep(50)
  const patient = received(makeEvent({ payload: { object_id: 'o6', kind: 'hangs' } }), old)
  await q.add(patient)
  await waitFor(() => applied.length === 2, 10_000, 'both applied')
  t.ok(calls.some((c) => c.id === patient.id && c.attempt === 1), 'the waiter called again itself, in its first attempt')
  t.equal(w.stats().retries, 3, 'only the starter spent an attempt')
})

t.test('a hydrate call that never settles and ignores its signal is dropped at its deadline: later events of its object call hydrate again', async (t) => {
  const q = queueFixture(t)
  let calls = 0
  const applied: string[] = []
  const letters: unknown[] = []
  const w = await startWorker(t, q, {
    objectKey,
    hydrateTimeoutMs: 300,
    retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 100 },
    hydrate: async () => {
      if (++calls === 1) await new Promise(() => {})
      return { call: calls }
    },
    apply: async (_s, event) => { applied.push(event.id) },
    concurrency: 4
  })
  w.on('deadLetter', (letter) => letters.push(letter))
  const old = Date.now() - 60_000
  const first = received(makeEvent({ payload: { object_id: 'o7' } }), old)
  await q.add(first)
  await waitFor(() => calls === 1, 5000, 'the hung call')
  // Received long before the hung call started: it joins it.
  const second = received(makeEvent({ payload: { object_id: 'o7' } }), old)
  await q.add(second)
  await waitFor(() => applied.length === 2, 10_000, 'both applied')
  t.same(applied.slice().sort(), [first.id, second.id].sort())
  t.same(letters, [], 'nothing dead-lettered')
  t.ok(w.stats().hydrateCalls > 1, `hydrate called again (${w.stats().hydrateCalls} calls)`)
  t.equal(w.stats().deadLettered, 0)
})
