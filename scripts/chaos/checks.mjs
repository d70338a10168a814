// @ts-check
// The checks scenarios share: delivery (nothing lost, doubled or stuck), the
// kill plan's faults, and answers under a Redis outage or freeze.
import { check } from './verify.mjs'

/** @typedef {import('./types.d.mts').Figures} Figures */
/** @typedef {import('./types.d.mts').Settings} Settings */
/** @typedef {import('./types.d.mts').FaultRecord} FaultRecord */

/**
 * What every scenario must show once Redis is back: nothing lost, nothing doubled, nothing stuck.
 * @param {Figures} f
 * @param {Settings} s
 */
export function deliveryChecks (f, s, { deadLetters = true } = {}) {
  return [
    check('every event acknowledged', f.givenUp, f.givenUp === 0, 0),
    check('lost (acknowledged, no effect)', f.lost, f.lost === 0, 0),
    check('double effects', f.doubledEffects, f.doubledEffects === 0, 0),
    check('effects never acknowledged', f.unexpectedEffects, f.unexpectedEffects === 0, 0),
    ...(deadLetters ? [check('dead letters', f.deadLetters, f.deadLetters === 0, 0)] : []),
    check('failed jobs', f.failedJobs, f.failedJobs === 0, 0),
    check('drained after last send (ms)', f.drainMs ?? 'not drained', f.drainMs !== undefined, `<= ${s.drainDeadlineMs}`),
    check('idempotency key stable per event', f.eventsWithSeveralKeys, f.eventsWithSeveralKeys === 0, 0),
    check('apply calls beyond one per event (injected failures aside)', f.extraApplyCalls, f.extraApplyCalls <= f.callsOpenAtKills, `<= ${f.callsOpenAtKills} calls open at faults`),
    check('processes that exited on their own', f.unexpectedExits.length, f.unexpectedExits.length === 0, 0)
  ]
}

/**
 * The kill plan's faults all landed under load (with `apps`, app kills alternate between them).
 * @param {FaultRecord[]} faults
 */
export function killsLanded (faults) {
  const want = { worker: 5, redis: 2, app: 1 }
  const landed = (/** @type {string} */ kind) => faults.filter((x) => x.kind === kind && x.landed).length
  const kills = `${landed('redis')} redis, ${landed('worker')} worker, ${landed('app')} app`
  const all = Object.entries(want).every(([k, n]) => landed(k) === n)
  return check('kills landed under load', kills, all, '2 redis, 5 worker, 1 app')
}

/**
 * @param {Figures} f
 * @param {Settings} s
 * @param {FaultRecord[]} faults
 */
export function killChecks (f, s, faults) {
  return [killsLanded(faults), ...deliveryChecks(f, s)]
}

/**
 * Answers while Redis is down or frozen: each within ackTimeoutMs plus a
 * second, 503 only, none missing, and some 503s (or the fault did not bite).
 * @param {Figures} f
 * @param {Settings} s
 * @param {FaultRecord[]} faults
 * @param {string} what the fault, in the checks' names
 */
export function answerChecks (f, s, faults, what) {
  const bound = s.ackTimeoutMs + 1000
  const redisFaults = faults.filter((x) => x.kind.startsWith('redis-'))
  const other = Object.keys(f.statuses).filter((code) => code !== '202' && code !== '503')
  return [
    check(`${what} landed under load`, redisFaults.filter((x) => x.landed).length, redisFaults.every((x) => x.landed), redisFaults.length),
    check(`answers later than ${bound} ms or missing`, f.answers.late, f.answers.late === 0, 0),
    check('requests without an answer (reset, hang)', f.answers.unanswered, f.answers.unanswered === 0, 0),
    check('statuses other than 202 and 503', other.length === 0 ? 'none' : other.join(', '), other.length === 0, 'none'),
    check(`503 answers during the ${what}`, f.statuses['503'] ?? 0, (f.statuses['503'] ?? 0) > 0, '> 0')
  ]
}
