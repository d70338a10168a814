// @ts-check
// Stalls: a worker frozen (SIGSTOP) for lockDuration + 3 s while the others
// run, then Redis frozen for 4 s. Every event has one effect and nothing is
// lost; the frozen Redis gives 503s, each within ackTimeoutMs plus a second;
// and the runs the frozen worker held are fenced off when it resumes: none of
// them starts apply (their claims are another worker's by then), and any that
// was inside apply has its commit refused.
import { answerChecks, deliveryChecks } from '../checks.mjs'
import { stallPlan } from '../faults.mjs'
import { callsStartedAfter } from '../ledger.mjs'
import { check } from '../verify.mjs'

/** @typedef {import('../types.d.mts').Figures} Figures */
/** @typedef {import('../types.d.mts').FaultRecord} FaultRecord */

/** @type {import('../types.d.mts').Scenario} */
export const stallsScenario = {
  full: 20000,
  short: 4000,
  ci: true,
  // One event in ten has a slow provider call (300 ms): most of a worker's runs
  // are then between claim and apply, where a freeze past the lease must stop them.
  sender: () => ({ data: (n) => (n % 10 === 5 ? { slowHydrate: true } : {}) }),
  plan: (s) => stallPlan(s.lockDuration + 3000, 4000),
  after: fencing,
  checks: stallChecks,
  notes: (f) => [
    `fencing: ${f.fencing?.worker} frozen ${f.fencing?.frozenMs} ms holding ${f.fencing?.heldRuns} runs; after resuming ${f.fencing?.claimLost} runs found their claim lost (${f.fencing?.commitRefused} commits refused), ${f.fencing?.appliesStartedAfterResume} held runs started apply`,
    `Redis freeze: ${f.statuses['503'] ?? 0} answers 503, slowest answer ${f.answers.maxMs} ms`
  ]
}

/**
 * What the frozen worker did with the runs it held, once it resumed.
 * @param {import('../types.d.mts').SendingCtx} ctx
 * @param {Figures} f
 */
async function fencing ({ stack }, f) {
  const records = /** @type {FaultRecord[]} */ (f.faultRecords)
  const freeze = records.find((x) => x.kind === 'worker-freeze' && x.landed)
  if (!freeze) return { fencing: undefined }
  // A landed freeze recorded its pid, the runs it held and when it resumed.
  const heldRuns = /** @type {import('../types.d.mts').HeldRun[]} */ (freeze.heldRuns)
  const delta = (/** @type {string} */ k) => (freeze.statsAfter?.[k] ?? 0) - (freeze.statsBefore?.[k] ?? 0)
  return {
    fencing: {
      worker: freeze.target,
      frozenMs: freeze.recoveredMs,
      heldRuns: heldRuns.length,
      appliesStartedAfterResume: callsStartedAfter(stack.ledgerFile, /** @type {number} */ (freeze.pid), /** @type {number} */ (freeze.resumedAt), heldRuns),
      claimLost: delta('claimLost'),
      commitRefused: delta('commitRefused'),
      appliedAfterResume: delta('applied')
    }
  }
}

/**
 * @param {Figures} f
 * @param {import('../types.d.mts').Settings} s
 * @param {FaultRecord[]} faults
 */
function stallChecks (f, s, faults) {
  const fz = f.fencing
  const frozen = faults.find((x) => x.kind === 'worker-freeze')
  return [
    check('worker frozen past its lock under load', frozen?.landed ? `${fz.worker} ${fz.frozenMs} ms holding ${fz.heldRuns} runs` : 'did not land',
      frozen?.landed === true && fz.frozenMs >= s.lockDuration + 3000 && fz.heldRuns > 0, `>= ${s.lockDuration + 3000} ms, holding runs`),
    check('applies started after resuming, by runs held when frozen', fz?.appliesStartedAfterResume ?? '-', fz?.appliesStartedAfterResume === 0, 0),
    check('held runs fenced off after resuming (claim lost; commits refused among them)', fz ? `${fz.claimLost} (${fz.commitRefused})` : '-', fz !== undefined && fz.claimLost > 0, '> 0'),
    ...answerChecks(f, s, faults, 'Redis freeze'),
    ...deliveryChecks(f, s)
  ]
}
