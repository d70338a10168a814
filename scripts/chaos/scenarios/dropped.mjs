// @ts-check
// Webhooks dropped: the provider never sends 10 % of its webhooks. A poller
// (the package's createPoller) reads the provider's change list and recovers
// them; every change, sent or dropped, is applied exactly once.
import { deliveryChecks } from '../checks.mjs'
import { readLedger } from '../ledger.mjs'
import { check } from '../verify.mjs'

/** @typedef {import('../types.d.mts').Figures} Figures */

/** @type {import('../types.d.mts').Scenario} */
export const droppedScenario = {
  full: 20000,
  short: 3000,
  ci: true,
  settings: { poller: true, pollEveryMs: 1000 },
  plan: () => [],
  sender: (s, stack) => ({ drop: (n) => n % 10 === 3, onCreate: (id, body) => stack.api?.record(id, body) }),
  after: recovered,
  checks: droppedChecks,
  notes: (f) => [`${f.dropped} of ${f.expected} webhooks never sent; ${f.droppedApplied} of them applied, from the poller (${f.pollPages} pages listed); effects by origin ${JSON.stringify(f.effectsByOrigin)}`]
}

/**
 * How many of the dropped events got their one effect.
 * @param {import('../types.d.mts').SendingCtx} ctx
 */
async function recovered ({ stack, sender, runId }) {
  const ledger = readLedger(stack.ledgerFile, { runId })
  let applied = 0
  for (const id of sender.stats.dropped) if (ledger.effectCounts.get(id) === 1) applied++
  return { droppedApplied: applied, pollPages: stack.api?.stats.pages }
}

/**
 * @param {Figures} f
 * @param {import('../types.d.mts').Settings} s
 */
function droppedChecks (f, s) {
  return [
    check('webhooks dropped by the provider', f.dropped, f.dropped > 0, '> 0'),
    check('dropped changes applied once (recovered by the poller)', f.droppedApplied, f.droppedApplied === f.dropped, f.dropped),
    check('changes (sent or dropped) applied exactly once', `${f.expected - f.lost - f.doubledEffects} of ${f.expected}`, f.lost === 0 && f.doubledEffects === 0, f.expected),
    ...deliveryChecks(f, s)
  ]
}
