// @ts-check
// Redis Cluster: a local cluster of three masters (each with AOF in its own
// directory), every part on the hash-tag prefix `{webhooks}`. The whole
// pipeline runs on it: the plugin, three workers, the dead letters (1 % of the
// events are poisoned, then replayed after a fix through createDeadLetters)
// and the poller (5 % of the webhooks are never sent). Under the kill plan
// (the node holding the queue's slot SIGKILLed and restarted twice, a worker
// five times, the app once), the kill scenario's invariants hold.
import { deliveryChecks, killsLanded } from '../checks.mjs'
import { killPlan } from '../faults.mjs'
import { readLedger } from '../ledger.mjs'
import { check } from '../verify.mjs'
import { isPoisoned, poisonData, replayChecks, replayPhase } from './poison.mjs'

/** @type {import('../types.d.mts').Scenario} */
export const clusterScenario = {
  full: 20000,
  short: 3000,
  ci: false,
  settings: { cluster: true, poller: true, pollEveryMs: 1000 },
  plan: () => killPlan(),
  sender: (s, stack) => ({ data: poisonData, drop: (n) => n % 20 === 7, onCreate: (id, body) => stack.api?.record(id, body) }),
  after: async (ctx, f) => {
    const ledger = readLedger(ctx.stack.ledgerFile, { runId: ctx.runId })
    let droppedApplied = 0
    for (const id of ctx.sender.stats.dropped) if ((ledger.effectCounts.get(id) ?? 0) > 0) droppedApplied++
    const droppedPoisoned = [...ctx.sender.stats.dropped].filter(isPoisoned).length
    return { droppedApplied, droppedPoisoned, ...await replayPhase(ctx, f) }
  },
  checks: (f, s, faults) => [
    killsLanded(faults),
    check('dropped webhooks recovered by the poller (poisoned ones aside)', `${f.droppedApplied} of ${f.dropped}`, f.dropped > 0 && f.droppedApplied === f.dropped - f.droppedPoisoned, `${f.dropped - f.droppedPoisoned} of ${f.dropped}`),
    ...replayChecks(f),
    ...deliveryChecks(f, s, { deadLetters: false })
  ],
  notes: (f) => [
    `on 3 masters with prefix {webhooks}: ${f.dropped} webhooks dropped, ${f.droppedApplied} recovered by the poller (${f.poller?.runs} runs, ${f.poller?.pages} pages); ${f.deadLetterEvents} poisoned events in ${f.deadLetters} dead letters, ${f.replay?.replayed} replayed, each event applied once; effects by origin ${JSON.stringify(f.effectsByOrigin)}`
  ]
}
