import t from 'tap'
import type { WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { queueKeyBase } from '../../core/keys.js'
import type { ObjectVersion, WorkerContext } from '../../worker/options.js'
import type { StaleInfo } from '../../worker/reporter.js'
import type { DeadLetter } from '../../dead-letters/dead-letter-record.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

t.setTimeout(90_000)

interface Doc { id: string, version: ObjectVersion, body?: string }

const objectKey = (event: WebhookEvent): string => `acme:${(event.payload as { object_id: string }).object_id}`

function orderEvent (objectId: string): WebhookEvent {
  return makeEvent({ payload: { object_id: objectId } })
}

t.test('v1 and v2 for one object, v1\'s hydrate delayed: v2 is applied, v1 is counted as stale and never applied', async (t) => {
  const q = queueFixture(t)
  let providerVersion = 1
  let release = (): void => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  let calls = 0
  const db = new Map<string, number>()
  const appliedVersions: number[] = []
  const hydrate = async (event: WebhookEvent): Promise<Doc> => {
    const snapshot = { id: objectKey(event), version: providerVersion }
    if (++calls === 1) await released // the first answer comes back late, with what was current when it was asked
    return snapshot
  }
  const apply = async (doc: Doc | null): Promise<void> => {
    appliedVersions.push(doc?.version as number)
    db.set(doc?.id as string, doc?.version as number)
  }
  // Two workers, one job each at a time: v2 is picked by the worker not stuck in v1's hydrate.
  const options = { hydrate, apply, objectKey, version: (doc: Doc) => doc.version, concurrency: 1 }
  const w1 = await startWorker<Doc>(t, q, options)
  const w2 = await startWorker<Doc>(t, q, options)
  const stale: StaleInfo[] = []
  w1.on('stale', (info) => stale.push(info))
  w2.on('stale', (info) => stale.push(info))

  const v1 = orderEvent('ord_1')
  await q.add(v1)
  await waitFor(() => calls === 1, 5000, 'v1 hydrating')
  providerVersion = 2
  const v2 = orderEvent('ord_1')
  await q.add(v2)
  await waitFor(() => appliedVersions.length === 1, 5000, 'v2 applied')
  release()
  await waitFor(() => w1.stats().stale + w2.stats().stale === 1, 5000, 'v1 found stale')
  await waitFor(async () => await q.queue.getCompletedCount() === 2, 5000, 'both jobs completed')

  t.same(appliedVersions, [2], 'only v2 was applied')
  t.equal(db.get('acme:ord_1'), 2, 'final state v2')
  t.match(stale, [{ eventId: v1.id, objectKey: 'acme:ord_1', decision: 'stale', version: 1, lastAppliedVersion: 2 }])
  const base = queueKeyBase(q.prefix, q.queueName)
  t.equal(await q.redis.get(`${base}version:acme:ord_1`), 'n:2', 'the committed version stays v2')
  t.equal(await q.redis.exists(`${base}done:${safeJobId(v1.source, v1.id)}`), 1, 'the stale event is done')
  t.equal(await q.redis.exists(`${base}object:acme:ord_1`), 0, 'the object lease is released')
  t.equal(w1.stats().applied + w2.stats().applied, 1)
})

t.test('an equal version is applied, with ctx.lastAppliedVersion; skipEqualVersion skips it as unchanged', async (t) => {
  const q = queueFixture(t)
  const seen: Array<{ stage: string, last: ObjectVersion | undefined }> = []
  let applies = 0
  const options = {
    objectKey,
    version: (doc: Doc) => doc.version,
    hydrate: async (event: WebhookEvent, ctx: WorkerContext): Promise<Doc> => {
      seen.push({ stage: 'hydrate', last: ctx.lastAppliedVersion })
      return { id: objectKey(event), version: 5 }
    },
    apply: async (_doc: Doc | null, _e: WebhookEvent, ctx: WorkerContext) => {
      applies++
      seen.push({ stage: 'apply', last: ctx.lastAppliedVersion })
    }
  }
  const w = await startWorker<Doc>(t, q, options)
  await q.add(orderEvent('ord_2'))
  await waitFor(() => applies === 1, 5000, 'first applied')
  await q.add(orderEvent('ord_2'))
  await waitFor(() => applies === 2, 5000, 'equal version applied')
  t.same(seen, [
    { stage: 'hydrate', last: undefined }, { stage: 'apply', last: undefined },
    { stage: 'hydrate', last: 5 }, { stage: 'apply', last: 5 }
  ], 'undefined before the first commit, then the committed version, from the claim and under the lease')
  await waitFor(() => w.stats().applied === 2, 5000, 'the second commit counted')
  t.match(w.stats(), { applied: 2, stale: 0, unchanged: 0 })
  await w.close()

  const skipping = await startWorker<Doc>(t, q, { ...options, skipEqualVersion: true })
  const skipped: StaleInfo[] = []
  skipping.on('stale', (info) => skipped.push(info))
  await q.add(orderEvent('ord_2'))
  await waitFor(() => skipping.stats().unchanged === 1, 5000, 'equal version skipped')
  t.equal(applies, 2, 'not applied')
  t.match(skipped, [{ decision: 'unchanged', version: 5, lastAppliedVersion: 5 }])
  await waitFor(async () => await q.queue.getCompletedCount() === 3, 5000, 'completed as done')
})

t.test('bigint versions compare exactly; string versions lexicographically; a change of kind is applied with a warning', async (t) => {
  const q = queueFixture(t)
  const answers: ObjectVersion[] = [2n ** 64n + 1n, 2n ** 64n, 2n ** 64n + 2n, '2026-03-01T10:00:00.000Z', '2026-02-28T23:00:00.000Z', '2026-03-01T10:00:00.001Z']
  const applied: ObjectVersion[] = []
  const lastSeen: Array<ObjectVersion | undefined> = []
  let calls = 0
  const w = await startWorker<Doc>(t, q, {
    objectKey: (event) => String((event.payload as { kind: string }).kind),
    version: (doc) => doc.version,
    hydrate: async (event) => ({ id: 'x', version: answers[calls++] }),
    apply: async (doc, _e, ctx) => {
      applied.push((doc as Doc).version)
      lastSeen.push(ctx.lastAppliedVersion)
    },
    concurrency: 1
  })
  for (let i = 0; i < 3; i++) {
    await q.add(makeEvent({ payload: { kind: 'big' } }))
    await waitFor(() => applied.length + w.stats().stale === i + 1, 5000, `bigint event ${i}`)
  }
  for (let i = 3; i < 6; i++) {
    await q.add(makeEvent({ payload: { kind: 'iso' } }))
    await waitFor(() => applied.length + w.stats().stale === i + 1, 5000, `string event ${i}`)
  }
  t.same(applied, [2n ** 64n + 1n, 2n ** 64n + 2n, '2026-03-01T10:00:00.000Z', '2026-03-01T10:00:00.001Z'])
  t.same(lastSeen, [undefined, 2n ** 64n + 1n, undefined, '2026-03-01T10:00:00.000Z'], 'lastAppliedVersion keeps its type')
  t.equal(w.stats().stale, 2)
  const base = queueKeyBase(q.prefix, q.queueName)
  t.equal(await q.redis.get(`${base}version:big`), `b:${String(2n ** 64n + 2n)}`)
  const ttl = await q.redis.pttl(`${base}version:iso`)
  t.ok(ttl > 13 * 86_400_000 && ttl <= 14 * 86_400_000, 'a version lives as long as the done marker (dedupe.ttlMs)')

  // The user switched from strings to numbers: nothing to compare with, so the state is applied.
  answers.push(7)
  await q.add(makeEvent({ payload: { kind: 'iso' } }))
  await waitFor(() => applied.length === 5, 5000, 'number after string applied')
  t.equal(await q.redis.get(`${base}version:iso`), 'n:7')
})

t.test('applies for one object never overlap: a job whose object is busy waits without spending an attempt', async (t) => {
  const q = queueFixture(t)
  let active = 0
  let maxActive = 0
  const attempts: number[] = []
  const options = {
    objectKey,
    version: () => 1,
    hydrate: async (event: WebhookEvent) => ({ id: objectKey(event), version: 1 }),
    apply: async (_doc: unknown, _e: WebhookEvent, ctx: WorkerContext) => {
      attempts.push(ctx.attempt)
      active++
      maxActive = Math.max(maxActive, active)
      await sleep(150)
      active--
    },
    concurrency: 3
  }
  const w1 = await startWorker(t, q, options)
  const w2 = await startWorker(t, q, options)
  for (let i = 0; i < 6; i++) await q.add(orderEvent('ord_busy'))
  await waitFor(async () => await q.queue.getCompletedCount() === 6, 20_000, 'all six applied')
  t.equal(maxActive, 1, 'never two applies of the object at once')
  t.equal(attempts.length, 6)
  t.ok(attempts.every((a) => a === 1), 'no attempt spent waiting')
  t.ok(w1.stats().objectBusy + w2.stats().objectBusy > 0, 'some jobs found the object busy')
  t.equal(w1.stats().retries + w2.stats().retries, 0)
})

t.test('an object lease held elsewhere delays the job; null states are applied and commit a tombstone carrying the version', async (t) => {
  const q = queueFixture(t)
  const base = queueKeyBase(q.prefix, q.queueName)
  await q.redis.set(`${base}version:acme:ord_gone`, 'n:3')
  await q.redis.set(`${base}object:acme:ord_gone`, 'another-token', 'PX', 500)
  const applied: unknown[] = []
  const held = Date.now()
  const w = await startWorker(t, q, {
    objectKey,
    version: () => 9,
    hydrate: async () => null,
    apply: async (state, _e, ctx) => { applied.push({ state, attempt: ctx.attempt, last: ctx.lastAppliedVersion }) }
  })
  await q.add(orderEvent('ord_gone'))
  await waitFor(() => applied.length === 1, 5000, 'applied')
  t.ok(Date.now() - held >= 450, 'not before the other lease ended')
  t.same(applied, [{ state: null, attempt: 1, last: 3 }])
  t.ok(w.stats().objectBusy >= 1)
  t.match(await q.redis.get(`${base}version:acme:ord_gone`), /^d:\d{16}:n:3$/, 'a tombstone, with the version committed before the deletion')
})

t.test('objectKey or version returning nonsense fails the attempt at stage hydrate with a coded error', async (t) => {
  const q = queueFixture(t)
  const letters: DeadLetter[] = []
  const w = await startWorker(t, q, {
    objectKey: (event) => ((event.payload as { object_id: string }).object_id === 'bad-key' ? 42 : 'k') as string,
    version: () => Number.NaN,
    apply: async () => {},
    retry: { attempts: 1 }
  })
  w.on('deadLetter', (letter) => letters.push(letter))
  await q.add(orderEvent('bad-key'))
  await q.add(orderEvent('bad-version'))
  await waitFor(() => letters.length === 2, 5000, 'both dead-lettered')
  const byCode = letters.map((l) => [l.stage, l.error.code, l.error.message]).sort((a, b) => String(a[2]).localeCompare(String(b[2])))
  t.match(byCode, [
    ['hydrate', 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE', /objectKey\(event\)/],
    ['hydrate', 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE', /version\(state\)/]
  ])
})

/** A fake provider and a fake database for one object; hydrate calls can be held by event id. */
function deletionFixture (objectId: string) {
  const provider: { doc: Doc | null } = { doc: null }
  const db = new Map<string, Doc>()
  const holds = new Map<string, Promise<void>>()
  const applied: Array<{ eventId: string, version: ObjectVersion | null, last: ObjectVersion | undefined }> = []
  const hydrated: string[] = []
  const options = {
    objectKey,
    version: (doc: Doc) => doc.version,
    concurrency: 1,
    hydrate: async (event: WebhookEvent): Promise<Doc | null> => {
      const snapshot = provider.doc === null ? null : { ...provider.doc }
      hydrated.push(event.id)
      await holds.get(event.id)
      return snapshot
    },
    apply: async (doc: Doc | null, event: WebhookEvent, ctx: WorkerContext) => {
      applied.push({ eventId: event.id, version: doc?.version ?? null, last: ctx.lastAppliedVersion })
      if (doc === null) db.delete(objectId)
      else db.set(objectId, doc)
    }
  }
  /** Makes the hydrate of `event` return only when the returned function is called. */
  function hold (event: WebhookEvent): () => void {
    let release = (): void => {}
    holds.set(event.id, new Promise<void>((resolve) => { release = resolve }))
    return release
  }
  return { provider, db, applied, hydrated, options, hold }
}

t.test('a deletion confirmed first, then an older state fetched before it: skipped, the object stays deleted; a state fetched after the deletion is applied', async (t) => {
  const q = queueFixture(t)
  const base = queueKeyBase(q.prefix, q.queueName)
  const f = deletionFixture('acme:ord_del_a')
  // Two workers, one job each: the deletion runs on the one not stuck in the older hydrate.
  const w1 = await startWorker<Doc>(t, q, f.options)
  const w2 = await startWorker<Doc>(t, q, f.options)
  const stale: StaleInfo[] = []
  w1.on('stale', (info) => stale.push(info))
  w2.on('stale', (info) => stale.push(info))

  f.provider.doc = { id: 'ord_del_a', version: 5 }
  await q.add(orderEvent('ord_del_a'))
  await waitFor(() => f.applied.length === 1, 5000, 'v5 applied')

  f.provider.doc = { id: 'ord_del_a', version: 6 }
  const update = orderEvent('ord_del_a')
  const releaseUpdate = f.hold(update)
  await q.add(update)
  await waitFor(() => f.hydrated.includes(update.id), 5000, 'v6 fetched')

  f.provider.doc = null
  const deletion = orderEvent('ord_del_a')
  await q.add(deletion)
  await waitFor(() => f.applied.length === 2, 5000, 'the deletion applied')
  await waitFor(async () => (await q.redis.get(`${base}version:acme:ord_del_a`))?.startsWith('d:'), 5000, 'the tombstone committed')
  releaseUpdate()
  await waitFor(() => w1.stats().stale + w2.stats().stale === 1, 5000, 'v6 skipped')

  t.same(f.applied.map((a) => a.version), [5, null], 'v6, fetched before the deletion, was never applied')
  t.notOk(f.db.has('acme:ord_del_a'), 'the object stays deleted')
  t.match(stale, [{ eventId: update.id, objectKey: 'acme:ord_del_a', decision: 'stale', version: 6, lastAppliedVersion: 5, deletedAt: Number }])
  t.ok(Math.abs((stale[0].deletedAt as number) - Date.now()) < 60_000, 'deletedAt is in ms')
  t.match(await q.redis.get(`${base}version:acme:ord_del_a`), /^d:\d{16}:n:5$/, 'the tombstone keeps the version committed before the deletion')

  // Re-created, with a version counter that started again: fetched after the tombstone, so applied.
  f.provider.doc = { id: 'ord_del_a', version: 1 }
  const recreated = orderEvent('ord_del_a')
  await q.add(recreated)
  await waitFor(() => f.applied.length === 3, 5000, 're-creation applied')
  t.same(f.applied[2], { eventId: recreated.id, version: 1, last: 5 }, 'applied, with the version committed before the deletion as lastAppliedVersion')
  t.same(f.db.get('acme:ord_del_a'), { id: 'ord_del_a', version: 1 })
  await waitFor(async () => await q.redis.get(`${base}version:acme:ord_del_a`) === 'n:1', 5000, 'the new version replaces the tombstone')
  t.equal(w1.stats().stale + w2.stats().stale, 1)
})

t.test('an older state applied first, then the deletion: the deletion is applied and commits a tombstone', async (t) => {
  const q = queueFixture(t)
  const base = queueKeyBase(q.prefix, q.queueName)
  const f = deletionFixture('acme:ord_del_b')
  let releaseApply = (): void => {}
  const applyHeld = new Promise<void>((resolve) => { releaseApply = resolve })
  const options = {
    ...f.options,
    apply: async (doc: Doc | null, event: WebhookEvent, ctx: WorkerContext) => {
      if (doc !== null) await applyHeld
      await f.options.apply(doc, event, ctx)
    }
  }
  const w1 = await startWorker<Doc>(t, q, options)
  const w2 = await startWorker<Doc>(t, q, options)

  f.provider.doc = { id: 'ord_del_b', version: 6 }
  const update = orderEvent('ord_del_b')
  await q.add(update)
  await waitFor(() => f.hydrated.includes(update.id), 5000, 'v6 fetched')
  await sleep(100)
  f.provider.doc = null
  const deletion = orderEvent('ord_del_b')
  await q.add(deletion)
  await waitFor(() => w1.stats().objectBusy + w2.stats().objectBusy >= 1, 5000, 'the deletion waits for the object')
  releaseApply()
  await waitFor(() => f.applied.length === 2, 5000, 'both applied')

  t.same(f.applied.map((a) => [a.eventId, a.version, a.last]), [[update.id, 6, undefined], [deletion.id, null, 6]])
  t.notOk(f.db.has('acme:ord_del_b'), 'deleted')
  const raw = await waitFor(async () => {
    const value = await q.redis.get(`${base}version:acme:ord_del_b`)
    return value?.startsWith('d:') === true ? value : undefined
  }, 5000, 'the tombstone')
  const [seconds, micros] = await q.redis.time()
  const deletedAt = Number(raw.split(':')[1])
  const now = Number(seconds) * 1e6 + Number(micros)
  t.ok(deletedAt <= now && deletedAt > now - 5e6, 'the tombstone records when the deletion was confirmed, on Redis\'s clock (µs)')
  t.match(raw, /^d:\d+:n:6$/, 'and the version committed before it')
  const ttl = await q.redis.pttl(`${base}version:acme:ord_del_b`)
  t.ok(ttl > 13 * 86_400_000 && ttl <= 14 * 86_400_000, 'it lives as long as the done marker')
  t.equal(w1.stats().stale + w2.stats().stale, 0)
})

t.test('a state cached before a deletion that another worker confirmed is skipped, never applied', async (t) => {
  const q = queueFixture(t)
  const f = deletionFixture('acme:ord_del_c')
  const cached = await startWorker<Doc>(t, q, { ...f.options, hydrateCacheMs: 60_000 })
  const longAgo = Date.now() - 60_000

  f.provider.doc = { id: 'ord_del_c', version: 6 }
  await q.add({ ...orderEvent('ord_del_c'), receivedAt: longAgo })
  await waitFor(() => f.applied.length === 1, 5000, 'v6 applied and cached')
  await cached.worker.pause()

  // The deletion is confirmed by another worker, whose process does not share the cache.
  const other = await startWorker<Doc>(t, q, f.options)
  f.provider.doc = null
  await q.add(orderEvent('ord_del_c'))
  await waitFor(() => f.applied.length === 2, 5000, 'the deletion applied')
  await waitFor(async () => await q.queue.getCompletedCount() === 2, 5000, 'and committed')
  await other.close()

  cached.worker.resume()
  const late = { ...orderEvent('ord_del_c'), receivedAt: longAgo }
  await q.add(late)
  await waitFor(() => cached.stats().stale === 1, 5000, 'the cached state skipped')
  t.equal(cached.stats().cacheHits, 1, 'served from the cache')
  t.same(f.hydrated.length, 2, 'no other hydrate call')
  t.same(f.applied.map((a) => a.version), [6, null])
  t.notOk(f.db.has('acme:ord_del_c'), 'the object stays deleted')
})
