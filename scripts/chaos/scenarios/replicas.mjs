// @ts-check
// Replicated acknowledgements: a primary with one replica behind a moving
// endpoint, and a failover while the replica lags (it is frozen for 3 s, then
// the primary is SIGKILLed and the replica promoted). Workers are slower than
// the senders, so the queue holds a backlog when the primary dies.
// - replicas: the plugin runs with `waitReplicas: 1`. While the replica cannot
//   confirm, senders get 503 and retry; after the failover no acknowledged
//   event is missing.
// - control-no-wait: the same without waitReplicas must lose acknowledged
//   events (the jobs only the dead primary had).
import { answerChecks, deliveryChecks } from '../checks.mjs'
import { check } from '../verify.mjs'

/** @returns {import('../types.d.mts').Fault[]} */
const plan = () => [{ at: 0.4, kind: 'failover', holdMs: 3000 }]
// One slow worker: the backlog the failover lands in.
/** @type {import('../types.d.mts').ScenarioSettings} */
const settings = { replicated: true, workers: 1, concurrency: 4, hydrateLatencyMs: 40, applyFailureRate: 0 }

/** @type {import('../types.d.mts').Scenario} */
export const replicasScenario = {
  full: 10000,
  short: 3000,
  ci: true,
  settings: { ...settings, app: { waitReplicas: 1 } },
  plan,
  during: ackTimes,
  after: frozenAcks,
  checks: (f, s, faults) => [
    check('failover under load', faults[0]?.landed ? `${faults[0].replicationGap} bytes behind` : 'did not land', faults[0]?.landed === true, 'landed'),
    check('acknowledged while the replica was frozen', f.ackedWhileFrozen, f.ackedWhileFrozen === 0, 0),
    ...answerChecks(f, s, [], 'replica freeze').slice(1),
    ...deliveryChecks(f, s)
  ],
  notes: (f) => [`failover with the replica ${f.replicationGap} bytes behind: ${f.ackedWhileFrozen} events acknowledged while it was frozen, ${f.statuses['503'] ?? 0} answers 503, ${f.lost} acknowledged events lost`]
}

/** @type {import('../types.d.mts').Scenario} */
export const controlNoWaitScenario = {
  ...replicasScenario,
  ci: true,
  expectFail: true,
  settings,
  checks: (f, s, faults) => [
    check('failover under load', faults[0]?.landed ? `${faults[0].replicationGap} bytes behind` : 'did not land', faults[0]?.landed === true, 'landed'),
    ...deliveryChecks(f, s)
  ]
}

/**
 * Records when each acknowledgement came.
 * @param {import('../types.d.mts').SendingCtx} ctx
 */
async function ackTimes (ctx) {
  /** @type {number[]} */
  const times = []
  ctx.ackTimes = times
  ctx.sender.observe((r) => { if (r.status === 202) times.push(r.at + r.latencyMs) })
  return { stop: async () => ({}) }
}

/**
 * Acknowledgements received while the replica was frozen (a quarter second
 * into the freeze on: an answer already on its way when it began is not one).
 * @param {import('../types.d.mts').SendingCtx} ctx
 * @param {import('../types.d.mts').Figures} f
 */
async function frozenAcks (ctx, f) {
  const records = /** @type {import('../types.d.mts').FaultRecord[]} */ (f.faultRecords)
  const failover = /** @type {import('../types.d.mts').FaultRecordOf<'failover'> | undefined} */ (records.find((x) => x.kind === 'failover' && x.landed))
  if (!failover) return { ackedWhileFrozen: undefined }
  const from = failover.at + 250
  const to = failover.at + failover.holdMs
  return { ackedWhileFrozen: /** @type {number[]} */ (ctx.ackTimes).filter((t) => t > from && t <= to).length, replicationGap: failover.replicationGap }
}
