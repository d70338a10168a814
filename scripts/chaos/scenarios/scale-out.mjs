// @ts-check
// Scale-out: two app processes (a round-robin sender over their two ports)
// and three worker processes on one Redis. First the throughput of 1, 2 and 3
// worker processes, each draining the same backlog; then the kill plan, with
// the kill scenario's invariants.
import { sendBatch } from '../batch.mjs'
import { killChecks } from '../checks.mjs'
import { killPlan } from '../faults.mjs'
import { countEffects, openLedger } from '../ledger.mjs'
import { sleep } from '../sender.mjs'
import { check } from '../verify.mjs'

/** @typedef {{ workers: number, events: number, ms: number, drained: boolean, perSecond: number }} Throughput */

/** @type {import('../types.d.mts').Scenario} */
export const scaleOutScenario = {
  full: 30000,
  short: 3000,
  ci: false,
  settings: (s) => ({ apps: 2, workers: 3, backlog: s.short ? 1500 : 6000 }),
  plan: () => killPlan(),
  before: throughput,
  checks: (f, s, faults) => [
    check('throughput measured for 1, 2 and 3 worker processes', f.throughput.map((/** @type {Throughput} */ t) => t.workers).join(', '), f.throughput.length === 3 && f.throughput.every((/** @type {Throughput} */ t) => t.drained), '1, 2, 3, each drained'),
    ...killChecks(f, s, faults)
  ],
  notes: (f) => [
    `throughput (${f.throughput[0]?.events} queued events drained, concurrency ${f.concurrency} each): ${f.throughput.map((/** @type {Throughput} */ t) => `${t.workers} worker process${t.workers > 1 ? 'es' : ''} ${t.perSecond}/s`).join(', ')}`
  ]
}

/**
 * For 1, 2 and 3 worker processes: stop the workers, pause the queue, queue a
 * backlog through both apps, start that many workers, resume, and time the
 * drain from the ledger.
 * @param {import('../types.d.mts').Ctx} ctx
 */
async function throughput (ctx) {
  const { stack, s, say } = ctx
  const backlog = /** @type {number} */ (s.backlog)
  /** @type {Throughput[]} */
  const results = []
  for (const n of [1, 2, 3]) {
    await Promise.all(stack.workers.map((w) => w.stop()))
    await stack.queue.pause()
    await sendBatch(ctx, { events: backlog, label: `backlog${n}` })
    await Promise.all(stack.workers.slice(0, n).map((w) => w.start()))
    const db = openLedger(stack.ledgerFile, { readonly: true })
    try {
      const before = countEffects(db)
      const started = Date.now()
      await stack.queue.resume()
      let done = 0
      while (done < backlog && Date.now() - started < s.drainDeadlineMs) {
        await sleep(50)
        done = countEffects(db) - before
      }
      const ms = Date.now() - started
      results.push({ workers: n, events: backlog, ms, drained: done >= backlog, perSecond: Math.round(done / (ms / 1000)) })
      say(`  throughput: ${n} worker process(es) applied ${done} queued events in ${ms} ms`)
    } finally {
      db.close()
    }
  }
  return { throughput: results, concurrency: s.concurrency }
}
