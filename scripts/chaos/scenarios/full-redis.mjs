// @ts-check
// Full Redis: a small maxmemory with noeviction and no worker running, so the
// queue fills Redis.
// - full-redis: without maxBacklog, Redis fills up and refuses writes (OOM);
//   the app answers 503, never 500, and stays up; no key is evicted. Then the
//   operator raises maxmemory and starts the workers: every acknowledged event
//   is applied once.
// - backlog-shedding: with maxBacklog, the app sheds load (503) while Redis still
//   has room: no write is ever refused for memory. Then the workers start and
//   drain the backlog, and every acknowledged event is applied once.
import { Redis } from 'ioredis'
import { answerChecks, deliveryChecks } from '../checks.mjs'
import { sleep } from '../sender.mjs'
import { check } from '../verify.mjs'

// A full Redis: a few thousand waiting jobs fill it.
const SMALL = 8 * 1048576
// With maxBacklog 1000: room for the backlog, and for what a drained queue
// keeps (completed jobs for an hour, at most 10,000, and the done markers), so
// the workers can drain it once they start.
const ROOMY = 32 * 1048576
const RAISED = 256 * 1048576

/** @type {Pick<import('../types.d.mts').Scenario, 'plan' | 'during' | 'notes'>} */
const common = {
  plan: () => [],
  during: watchMemory,
  notes: (f) => [`Redis maxmemory ${f.memory.maxmemoryMb} MB (noeviction): ${f.memory.usedAtFirstRefusalMb} MB used at the first 503, peak ${f.memory.peakUsedMb} MB, ${f.memory.oomRejections} writes refused for memory, ${f.memory.evictedKeys} keys evicted; ${f.statuses['503'] ?? 0} answers 503 over ${(f.memory.sheddingMs / 1000).toFixed(1)} s${f.maxBacklog ? `, peak backlog ${f.memory.peakBacklog} (maxBacklog ${f.maxBacklog})` : ''}; workers started ${(f.memory.workersStartedAfterMs / 1000).toFixed(1)} s in`]
}

/** @type {import('../types.d.mts').Scenario} */
export const fullRedisScenario = {
  ...common,
  full: 20000,
  short: 8000,
  ci: true,
  settings: { startWorkers: false, redis: { maxmemory: String(SMALL) } },
  checks: (f, s, faults) => [
    check('Redis filled up: writes refused for memory (OOM)', f.memory.oomRejections, f.memory.oomRejections > 0, '> 0'),
    check('keys evicted', f.memory.evictedKeys, f.memory.evictedKeys === 0, 0),
    ...answerChecks(f, s, [], 'full Redis').slice(1),
    ...deliveryChecks(f, s)
  ]
}

/** @type {import('../types.d.mts').Scenario} */
export const backlogSheddingScenario = {
  ...common,
  full: 20000,
  short: 6000,
  ci: true,
  settings: { startWorkers: false, redis: { maxmemory: String(ROOMY) }, app: { maxBacklog: 1000 } },
  checks: (f, s) => [
    check('load shed (503) before Redis filled', f.statuses['503'] ?? 0, (f.statuses['503'] ?? 0) > 0, '> 0'),
    check('writes refused for memory (OOM)', f.memory.oomRejections, f.memory.oomRejections === 0, 0),
    check('Redis memory when shedding began (MB)', f.memory.usedAtFirstRefusalMb, f.memory.usedAtFirstRefusal > 0 && f.memory.usedAtFirstRefusal < f.memory.maxmemory / 2, `< ${f.memory.maxmemoryMb / 2}`),
    check('peak Redis memory below maxmemory (MB)', f.memory.peakUsedMb, f.memory.peakUsed < f.memory.maxmemory, `< ${f.memory.maxmemoryMb}`),
    check('keys evicted', f.memory.evictedKeys, f.memory.evictedKeys === 0, 0),
    ...answerChecks(f, s, [], 'shedding').slice(1),
    ...deliveryChecks(f, s)
  ]
}

/**
 * Samples Redis memory and the backlog while the workers are down; once the
 * app has answered 503 for three seconds (Redis full, or load shed), plays the
 * operator: raises maxmemory when Redis is full, and starts the workers.
 * @param {import('../types.d.mts').SendingCtx} ctx
 */
async function watchMemory ({ stack, s, sender }) {
  const started = Date.now()
  const m = { maxmemory: Number(s.redis?.maxmemory), used: 0, peakUsed: 0, peakBacklog: 0, firstRefusalAt: 0, usedAtFirstRefusal: 0, refusals: 0, workersStartedAfterMs: 0, sheddingMs: /** @type {number | undefined} */ (undefined) }
  sender.observe((r) => {
    if (r.status !== 503) return
    m.refusals++
    if (m.firstRefusalAt) return
    m.firstRefusalAt = Date.now()
    m.usedAtFirstRefusal = m.used
  })
  const on = { sampling: true }
  // Memory and backlog in loops of their own, memory on a connection of its
  // own: a slow count must not leave the memory figure stale.
  const probe = new Redis(stack.redis.url, { maxRetriesPerRequest: 1 })
  probe.on('error', () => {})
  const sampler = Promise.all([
    (async () => {
      while (on.sampling) {
        const info = await probe.info('memory').catch(() => '')
        const used = /used_memory:(\d+)/.exec(info)?.[1]
        if (used !== undefined) m.used = Number(used)
        m.peakUsed = Math.max(m.peakUsed, m.used)
        await sleep(50)
      }
    })(),
    (async () => {
      while (on.sampling) {
        const c = await stack.counts().catch(() => undefined)
        if (c) m.peakBacklog = Math.max(m.peakBacklog, c.waiting + c.delayed)
        await sleep(100)
      }
    })()
  ])
  const operator = (async () => {
    while (on.sampling && !(m.firstRefusalAt && Date.now() - m.firstRefusalAt > 3000 && m.refusals > 100)) await sleep(100)
    if (!on.sampling) return
    m.sheddingMs = Date.now() - m.firstRefusalAt
    // The private Redis of this run only: the operator's fix for a full Redis.
    if (!s.app?.maxBacklog) await stack.connection.config('SET', 'maxmemory', String(RAISED))
    await Promise.all(stack.workers.map((w) => w.start()))
    m.workersStartedAfterMs = Date.now() - started
  })()
  return {
    async stop () {
      on.sampling = false
      await Promise.all([sampler, operator])
      probe.disconnect()
      const stats = await stack.redisInfo('stats')
      const errors = await stack.redisInfo('errorstats')
      const mb = (/** @type {number} */ b) => Math.round(b / 104857.6) / 10
      return {
        maxBacklog: s.app?.maxBacklog,
        memory: {
          ...m,
          maxmemoryMb: mb(m.maxmemory),
          peakUsedMb: mb(m.peakUsed),
          usedAtFirstRefusalMb: mb(m.usedAtFirstRefusal),
          evictedKeys: Number(stats.evicted_keys),
          oomRejections: Number(/count=(\d+)/.exec(errors.errorstat_OOM ?? '')?.[1] ?? 0)
        }
      }
    }
  }
}
