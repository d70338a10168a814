// @ts-check
// Fault injection. A plan is a list of faults, each fired once the sender has
// had a given share of the events acknowledged, so faults land under load
// whatever the machine's speed. Every fault is recorded with its time and pid,
// so the accounting can tell which apply calls it could have re-opened.
import { sleep } from './sender.mjs'

/** @typedef {import('./types.d.mts').Fault} Fault */
/** @typedef {import('./types.d.mts').FaultRecord} FaultRecord */
/** @typedef {import('./types.d.mts').Child} Child */
/** @typedef {import('./types.d.mts').Stack} Stack */

/**
 * The kill plan: Redis twice, a worker five times, the app once, spread over the run.
 * @returns {Fault[]}
 */
export function killPlan () {
  return [
    { at: 0.08, kind: 'worker' },
    { at: 0.16, kind: 'redis' },
    { at: 0.24, kind: 'worker' },
    { at: 0.34, kind: 'app' },
    { at: 0.44, kind: 'worker' },
    { at: 0.54, kind: 'redis' },
    { at: 0.64, kind: 'worker' },
    { at: 0.74, kind: 'worker' }
  ]
}

/**
 * The outage: Redis down for `holdMs`, then later frozen (SIGSTOP) for as long.
 * @param {number} holdMs
 * @returns {Fault[]}
 */
export function outagePlan (holdMs) {
  return [
    { at: 0.25, kind: 'redis-down', holdMs },
    { at: 0.6, kind: 'redis-freeze', holdMs }
  ]
}

/**
 * The stalls: a worker frozen (SIGSTOP) past its lock while the others run,
 * then Redis frozen for `redisHoldMs`.
 * @param {number} workerHoldMs
 * @param {number} redisHoldMs
 * @returns {Fault[]}
 */
export function stallPlan (workerHoldMs, redisHoldMs) {
  return [
    { at: 0.2, kind: 'worker-freeze', holdMs: workerHoldMs },
    { at: 0.75, kind: 'redis-freeze', holdMs: redisHoldMs }
  ]
}

/**
 * Runs the plan against the stack while `sender` sends. Resolves with the
 * faults that landed (`landed: false` for any the run ended before).
 * @param {Fault[]} plan
 * @param {Stack} stack
 * @param {import('./types.d.mts').Sender} sender
 * @param {number} total the events the sender sends
 * @param {import('./types.d.mts').Say} say
 * @returns {Promise<FaultRecord[]>}
 */
export async function runPlan (plan, stack, sender, total, say) {
  /** @type {FaultRecord[]} */
  const done = []
  let nextWorker = 0
  let nextApp = 0
  // A killed worker restarts in the background (a node start takes a second or
  // two) so the next fault is not held up; it is only awaited before the same
  // worker is killed again, and before the plan returns.
  /** @type {Map<Child, Promise<void>>} */
  const restarting = new Map()
  // Kill, outage and freeze plans run on a killable Redis; a failover plan on the replicated pair.
  const redis = /** @type {import('./types.d.mts').KillableRedis} */ (stack.redis)
  for (const f of plan) {
    while (sender.ackedCount < f.at * total && !sender.finished) await sleep(20)
    if (sender.finished) {
      done.push({ ...f, landed: false })
      continue
    }
    /** @type {FaultRecord} */
    const record = { ...f, landed: true, ackedAt: sender.ackedCount }
    if (f.kind === 'worker') {
      const w = stack.workers[nextWorker++ % stack.workers.length]
      await restarting.get(w)
      record.target = w.name
      record.pid = w.pid
      record.at = Date.now()
      await w.kill('SIGKILL')
      restarting.set(w, w.start().then(() => { record.recoveredMs = Date.now() - record.at }))
    } else if (f.kind === 'worker-freeze') {
      // In the background, like a restart: the other faults need not wait for the thaw.
      const w = stack.workers[nextWorker++ % stack.workers.length]
      await restarting.get(w)
      restarting.set(w, freezeWorker(w, f.holdMs, record))
    } else if (f.kind === 'app') {
      const app = stack.apps[nextApp++ % stack.apps.length]
      record.target = app.name
      record.pid = app.pid
      record.at = Date.now()
      await app.kill('SIGKILL')
      await app.start()
    } else if (f.kind === 'redis') {
      record.waitingAtKill = await backlog(stack)
      record.pid = redis.pid
      record.at = Date.now()
      await redis.kill()
      await redis.start()
    } else if (f.kind === 'redis-down') {
      record.at = Date.now()
      await redis.kill()
      await sleep(f.holdMs)
      await redis.start()
    } else if (f.kind === 'failover') {
      record.at = Date.now()
      record.replicationGap = await /** @type {import('./types.d.mts').ReplicatedRedis} */ (stack.redis).failover(f.holdMs)
    } else if (f.kind === 'redis-freeze') {
      record.at = Date.now()
      redis.signal('SIGSTOP')
      await sleep(f.holdMs)
      redis.signal('SIGCONT')
    }
    if (f.kind !== 'worker' && f.kind !== 'worker-freeze') record.recoveredMs = Date.now() - record.at
    done.push(record)
  }
  await Promise.all(restarting.values())
  for (const record of done) say(`  fault: ${describe(record)}`)
  return done
}

/**
 * Freezes a worker for `holdMs` (past its lock), recording the runs it held
 * and its stats just before, and its stats once the held runs have had time to
 * find out, after it resumed: what the fencing check reads.
 * @param {Child} w
 * @param {number} holdMs
 * @param {FaultRecord} record
 */
async function freezeWorker (w, holdMs, record) {
  record.target = w.name
  record.pid = w.pid
  const before = await w.ask('inflight')
  record.at = Date.now()
  w.signal('SIGSTOP')
  await sleep(holdMs)
  w.signal('SIGCONT')
  record.resumedAt = Date.now()
  record.recoveredMs = record.resumedAt - record.at
  record.heldRuns = before.runs
  record.statsBefore = before.stats
  await sleep(2000)
  record.statsAfter = (await w.ask('stats')).stats
}

/**
 * Waits (up to 5 s) for jobs waiting in the queue before a Redis kill, so the
 * kill finds acknowledged work in Redis: without a backlog a Redis that loses
 * everything would have nothing to lose, and the no-AOF control would prove
 * nothing.
 * @param {Stack} stack
 */
async function backlog (stack) {
  const until = Date.now() + 5000
  let c = await stack.counts()
  while (c.waiting < 1 && Date.now() < until) {
    await sleep(50)
    c = await stack.counts()
  }
  return c.waiting
}

/** @type {{ [K in import('./types.d.mts').FaultKind]: (f: import('./types.d.mts').FaultRecordOf<K>) => string }} */
const DESCRIBE = {
  worker: (f) => `SIGKILL ${f.target} (pid ${f.pid}), restarted`,
  'worker-freeze': (f) => `${f.target} (pid ${f.pid}) frozen (SIGSTOP) for ${f.holdMs / 1000} s holding ${f.heldRuns?.length} runs`,
  app: (f) => `SIGKILL ${f.target} (pid ${f.pid}), restarted`,
  redis: (f) => `SIGKILL redis-server (pid ${f.pid}, ${f.waitingAtKill} jobs waiting), restarted`,
  'redis-down': (f) => `redis-server down for ${f.holdMs / 1000} s`,
  'redis-freeze': (f) => `redis-server frozen (SIGSTOP) for ${f.holdMs / 1000} s`,
  failover: (f) => `replica frozen ${f.holdMs / 1000} s, primary SIGKILLed with the replica ${f.replicationGap ?? '?'} bytes behind, replica promoted, a new replica joined`
}

/** @param {FaultRecord} f */
export function describe (f) {
  if (!f.landed) return `${f.kind} at ${Math.round(f.at * 100)}%: did not land (sending had ended)`
  // Each kind's line reads its own record.
  const line = /** @type {(f: FaultRecord) => string} */ (DESCRIBE[f.kind])
  return `${line(f)} after ${f.ackedAt} acks, recovered in ${f.recoveredMs} ms`
}
