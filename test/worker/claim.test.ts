import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { ClaimStore, type HeldClaim } from '../../worker/claim.js'
import { CLAIM_SCRIPTS } from '../../worker/claim-scripts.js'
import { HYDRATION_SCRIPTS } from '../../worker/hydration-gate.js'
import { safeJobId } from '../../core/job-id.js'
import { queueKeyBase } from '../../core/keys.js'
import { loadScripts } from '../../core/scripts.js'
import { privateRedis } from '../helpers/redis.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

function store (redis: Redis, queueName: string, leaseMs = 1000): ClaimStore {
  return new ClaimStore(redis, { prefix: 'bull', queueName, leaseMs })
}

t.test('claim, busy, commit, done: fencing tokens increase and a stale token cannot commit', async (t) => {
  const q = queueFixture(t)
  const a = store(q.redis, q.queueName, 300)
  const b = store(q.redis, q.queueName, 300)
  const keys = a.keysFor('acme.e1')
  const first = await a.claim(keys, 'acme.e1', 'acme.e1', () => {})
  t.equal(first.decision, 'claimed')
  const busy = await b.claim(keys, 'acme.e1', 'acme.e1', () => {})
  t.equal(busy.decision, 'busy')
  t.ok(busy.decision === 'busy' && busy.heldForMs > 0 && busy.heldForMs <= 300, 'busy says how long the lease still runs')

  await sleep(350) // the first holder's lease lapses (it never renews here)
  const second = await b.claim(keys, 'acme.e1', 'acme.e1', () => {})
  t.equal(second.decision, 'claimed')
  const oldClaim = (first as { claim: HeldClaim }).claim
  const newClaim = (second as { claim: HeldClaim }).claim
  t.ok(Number(newClaim.token) > Number(oldClaim.token), 'a later claim gets a larger token')
  t.notOk(a.holds(oldClaim), 'the old holder knows its lease ran out')

  t.equal(await a.commit(oldClaim, 'acme.e1', 60_000), false, 'the stale holder\'s commit is refused')
  t.equal(await q.redis.exists(keys.done), 0)
  await a.release(oldClaim)
  t.equal(await q.redis.get(keys.claim), newClaim.token, 'a stale release leaves the new claim alone')
  t.equal(await b.commit(newClaim, 'acme.e1', 60_000), true)
  const ttl = await q.redis.pttl(keys.done)
  t.ok(ttl > 59_000 && ttl <= 60_000)
  t.equal(await q.redis.exists(keys.claim), 0, 'the claim is gone after commit')
  t.same(await a.claim(keys, 'acme.e1', 'acme.e1', () => {}), { decision: 'done' })
})

t.test('release lets the next attempt claim at once; renewal keeps a lease alive and reports a lost one', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName, 300)
  s.start()
  t.teardown(() => s.stop())
  const keys = s.keysFor('acme.e2')
  const r1 = await s.claim(keys, 'acme.e2', 'acme.e2', () => {})
  const c1 = (r1 as { claim: HeldClaim }).claim
  await s.release(c1)
  t.equal(await q.redis.exists(keys.claim), 0)

  let lost = 0
  const r2 = await s.claim(keys, 'acme.e2', 'acme.e2', () => { lost++ })
  const c2 = (r2 as { claim: HeldClaim }).claim
  await sleep(700) // more than two leases: only renewal keeps it
  t.ok(s.holds(c2), 'renewed while held')
  t.equal(await q.redis.get(keys.claim), c2.token)
  await q.redis.set(keys.claim, 'someone-else', 'PX', 5000)
  await waitFor(() => lost === 1, 2000, 'lost claim reported')
  t.notOk(s.holds(c2))
  s.forget(c2)
  t.equal(await q.redis.get(keys.claim), 'someone-else')
})

t.test('a replayKey claim covers every id with that replayKey; the replay marker skips other ids once committed', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName)
  const k1 = s.keysFor('acme.a', 'digest')
  const k2 = s.keysFor('acme.b', 'digest')
  const r1 = await s.claim(k1, 'acme.a', 'acme.a', () => {})
  t.equal(r1.decision, 'claimed')
  t.equal((await s.claim(k2, 'acme.b', 'acme.b', () => {})).decision, 'busy', 'the other id waits')
  t.equal(await s.commit((r1 as { claim: HeldClaim }).claim, 'acme.a', 60_000), true)
  t.same(await s.claim(k2, 'acme.b', 'acme.b', () => {}), { decision: 'replay' })
  t.same(await s.claim(k1, 'acme.a', 'acme.a', () => {}), { decision: 'done' })
  t.equal(await q.redis.exists(k1.replayClaim as string), 0)
})

t.test('the first attempt time is kept on the job across claims', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName)
  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  await q.add(event)
  const keys = s.keysFor(jobId)
  const r1 = await s.claim(keys, jobId, jobId, () => {}) as { claim: HeldClaim, firstAttemptAt: number }
  await s.release(r1.claim)
  await sleep(20)
  const r2 = await s.claim(keys, jobId, jobId, () => {}) as { claim: HeldClaim, firstAttemptAt: number }
  t.equal(r2.firstAttemptAt, r1.firstAttemptAt)
  t.equal(await q.redis.hget(`bull:${q.queueName}:${jobId}`, 'whfa'), String(r1.firstAttemptAt))
})

t.test('claim and commit each cost one Redis round trip beyond BullMQ\'s own, with no rate limit or ordering configured (counted with MONITOR)', async (t) => {
  const server = await privateRedis(t)
  const q = queueFixture(t, server.url)
  let applied = 0
  // Default (long) locks: no lease renewal or heartbeat falls inside the measured window.
  // A user hydrate without a rate limit: the hydration gate costs no round trip either.
  const handle = await startWorker(t, q, { lockDuration: 30_000, stalledInterval: 30_000, hydrate: async (e) => e.payload, apply: async () => { applied++ } })
  await sleep(300) // let the start-up sweep finish
  const { seen, stop } = await monitorCommands(t, server.url)
  await sleep(100)

  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  await q.add(event)
  await waitFor(async () => applied === 1 && await q.queue.getCompletedCount() === 1, 5000, 'applied')
  await q.add(event, 'acme.duplicate-job')
  await waitFor(() => handle.stats().duplicates === 1, 5000, 'duplicate')
  await sleep(200)
  stop()
  await handle.close()

  const base = queueKeyBase(q.prefix, q.queueName)
  const ours = new Map(CLAIM_SCRIPTS.map((s) => [s.sha, s.name]))
  const scriptCalls = seen.filter((args) => args[0].toLowerCase() === 'evalsha' && ours.has(args[1])).map((args) => ours.get(args[1]))
  t.same(scriptCalls, ['claim', 'commit', 'claim'], 'one claim and one commit for the event, one claim for its duplicate')
  const touching = seen.filter((args) => args.some((a) => a === `${base}claim:${jobId}` || a === `${base}done:${jobId}`))
  t.equal(touching.length, 3, 'no other command reads or writes the event\'s claim or done marker')
  const ourLua = new Set(CLAIM_SCRIPTS.map((s) => s.lua))
  t.same(seen.filter((args) => args[0].toLowerCase() === 'eval' && ourLua.has(args[1])), [], 'scripts are loaded at start: never a second (EVAL) round trip')
})

t.test('object leases: fenced by the claim\'s token, renewed and released with it; the version is compared and set with the done marker', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName, 300)
  s.start()
  t.teardown(() => s.stop())
  const base = queueKeyBase(q.prefix, q.queueName)
  const ka = s.keysFor('acme.a', undefined, 'obj')
  const kb = s.keysFor('acme.b', undefined, 'obj')
  t.same(ka.object, { version: `${base}version:obj`, lease: `${base}object:obj` })
  const ra = await s.claim(ka, 'acme.a', 'acme.a', () => {}) as { claim: HeldClaim, lastAppliedVersion?: string }
  const rb = await s.claim(kb, 'acme.b', 'acme.b', () => {}) as { claim: HeldClaim, lastAppliedVersion?: string }
  t.equal(ra.lastAppliedVersion, undefined, 'no version committed yet')
  const held = await s.holdObject(ra.claim)
  t.match(held, { decision: 'held', version: undefined, heldAt: Number })
  const [seconds, micros] = await q.redis.time()
  const nowUs = Number(seconds) * 1e6 + Number(micros)
  const heldAt = (held as { heldAt: number }).heldAt
  t.ok(ra.claim.claimedAt <= rb.claim.claimedAt && rb.claim.claimedAt <= heldAt && heldAt <= nowUs && heldAt > nowUs - 5e6,
    'claim and lease report their time on Redis\'s clock, in µs')
  const busy = await s.holdObject(rb.claim)
  t.ok(busy.decision === 'busy' && busy.heldForMs > 0 && busy.heldForMs <= 300, 'the other event\'s claim finds the object busy')
  t.match(await s.holdObject(ra.claim), { decision: 'held', version: undefined }, 'taking it again with the same token is fine')
  await s.release(rb.claim)
  await sleep(700) // past two leases: only renewal keeps the object lease
  t.equal(await q.redis.get(ka.object?.lease as string), ra.claim.token, 'renewed with the claim')

  await q.redis.set(ka.object?.version as string, 'n:9')
  t.equal(await s.commit(ra.claim, 'acme.a', 60_000, { value: 'n:10', expected: '' }), false, 'refused: the version changed since it was read')
  t.equal(await q.redis.exists(ka.done), 0)
  await s.release(ra.claim)
  t.equal(await q.redis.exists(ka.object?.lease as string), 0, 'released with the claim')

  const again = await s.claim(ka, 'acme.a', 'acme.a', () => {}) as { claim: HeldClaim, lastAppliedVersion?: string }
  t.equal(again.lastAppliedVersion, 'n:9', 'the claim reports the committed version')
  t.match(await s.holdObject(again.claim), { decision: 'held', version: 'n:9' })
  t.equal(await s.commit(again.claim, 'acme.a', 60_000, { value: 'n:10', expected: 'n:9' }), true)
  t.equal(await q.redis.get(ka.object?.version as string), 'n:10')
  const ttl = await q.redis.pttl(ka.object?.version as string)
  t.ok(ttl > 59_000 && ttl <= 60_000, 'the version gets the done marker\'s TTL')
  t.equal(await q.redis.exists(ka.object?.lease as string), 0, 'the commit releases the object')

  const rb2 = await s.claim(kb, 'acme.b', 'acme.b', () => {}) as { claim: HeldClaim }
  t.match(await s.holdObject(rb2.claim), { decision: 'held', version: 'n:10' })
  await q.redis.set(kb.object?.lease as string, 'someone-else', 'PX', 5000)
  t.equal(await s.commit(rb2.claim, 'acme.b', 60_000), false, 'refused: the object lease changed hands')
  s.forget(rb2.claim)
  await t.rejects(s.holdObject((await s.claim(s.keysFor('acme.c'), 'acme.c', 'acme.c', () => {}) as { claim: HeldClaim }).claim), /no object keys/)
})

t.test('an object lease lost during apply marks the claim lost', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName, 300)
  s.start()
  t.teardown(() => s.stop())
  let lost = 0
  const keys = s.keysFor('acme.d', undefined, 'obj-d')
  const r = await s.claim(keys, 'acme.d', 'acme.d', () => { lost++ }) as { claim: HeldClaim }
  await s.holdObject(r.claim)
  await q.redis.set(keys.object?.lease as string, 'thief', 'PX', 5000)
  await waitFor(() => lost === 1, 2000, 'lost reported')
  t.notOk(s.holds(r.claim))
})

t.test('a claim hears of a hydration pause for free', async (t) => {
  const q = queueFixture(t)
  const pauses: number[] = []
  const s = new ClaimStore(q.redis, { prefix: 'bull', queueName: q.queueName, leaseMs: 1000, onHydrationPause: (ms) => pauses.push(ms) })
  await s.claim(s.keysFor('acme.p1'), 'acme.p1', 'acme.p1', () => {})
  t.same(pauses, [], 'no pause, no news')
  await q.redis.set(`${queueKeyBase(q.prefix, q.queueName)}hydrate:pause`, '1', 'PX', 5000)
  await s.claim(s.keysFor('acme.p2'), 'acme.p2', 'acme.p2', () => {})
  t.equal(pauses.length, 1)
  t.ok(pauses[0] > 4000 && pauses[0] <= 5000)
})

t.test('with ordering and a rate limit: claim, take, hold-object and commit, one round trip each', async (t) => {
  const server = await privateRedis(t)
  const q = queueFixture(t, server.url)
  let applied = 0
  const handle = await startWorker(t, q, {
    lockDuration: 30_000,
    stalledInterval: 30_000,
    rateLimit: { max: 100, duration: 60_000 },
    objectKey: () => 'obj',
    version: () => 1,
    hydrate: async () => ({}),
    apply: async () => { applied++ }
  })
  await sleep(300)
  const { seen, stop } = await monitorCommands(t, server.url)
  await sleep(100)
  await q.add(makeEvent())
  await waitFor(async () => applied === 1 && await q.queue.getCompletedCount() === 1, 5000, 'applied')
  await sleep(200)
  stop()
  await handle.close()
  const ours = new Map([...CLAIM_SCRIPTS, ...HYDRATION_SCRIPTS].map((s) => [s.sha, s.name]))
  const scriptCalls = seen.filter((args) => args[0].toLowerCase() === 'evalsha' && ours.has(args[1])).map((args) => ours.get(args[1]))
  t.same(scriptCalls, ['claim', 'hydrate-take', 'hold-object', 'commit'])
  const base = queueKeyBase(q.prefix, q.queueName)
  t.same(seen.filter((args) => args[0].toLowerCase() !== 'evalsha' && args.some((a) => a.startsWith(base))), [], 'no other command on the worker\'s keys')
})

t.test('after Redis forgets its scripts, a call falls back to EVAL once', async (t) => {
  const server = await privateRedis(t)
  const redis = new Redis(server.url)
  t.teardown(() => { redis.disconnect() })
  await loadScripts(redis, CLAIM_SCRIPTS)
  await redis.script('FLUSH')
  const s = store(redis, 'q')
  const r = await s.claim(s.keysFor('acme.x'), 'acme.x', 'acme.x', () => {})
  t.equal(r.decision, 'claimed')
})

/**
 * Every command clients send to the server from now on until `stop()` (not
 * those scripts run), as MONITOR reports them.
 */
async function monitorCommands (t: Test, url: string): Promise<{ seen: string[][], stop: () => void }> {
  const monitorClient = new Redis(url)
  const monitor = await monitorClient.monitor()
  t.teardown(() => {
    monitor.disconnect()
    monitorClient.disconnect()
  })
  const seen: string[][] = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') seen.push(args.map(String))
  })
  return { seen, stop: () => { monitor.disconnect() } }
}

t.test('a claim not renewed is reported lost at its local deadline; a renewed one is not, and a released one never', async (t) => {
  const q = queueFixture(t)
  const s = store(q.redis, q.queueName, 1000)
  const lostAt: Record<string, number> = {}
  const claimAt = Date.now()
  const take = async (id: string): Promise<HeldClaim> => {
    const r = await s.claim(s.keysFor(id), id, id, () => { lostAt[id] = Date.now() })
    return (r as { claim: HeldClaim }).claim
  }
  const idle = await take('acme.idle')
  const released = await take('acme.released')
  await s.release(released)
  await waitFor(() => lostAt['acme.idle'], 3000, 'the idle claim reported lost')
  t.ok(lostAt['acme.idle'] - claimAt >= 850 && lostAt['acme.idle'] - claimAt < 1000, `lost ${lostAt['acme.idle'] - claimAt} ms after the claim: the lease less its margin`)
  t.equal(idle.lost, true)

  const renewed = await take('acme.renewed')
  s.start()
  t.teardown(() => s.stop())
  await sleep(2000)
  t.equal(lostAt['acme.renewed'], undefined, 'renewals keep re-arming the deadline')
  t.ok(s.holds(renewed))
  t.equal(lostAt['acme.released'], undefined)
  await s.release(renewed)
})
