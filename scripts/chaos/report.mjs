// @ts-check
// Human-readable output: each scenario's checks with PASS or FAIL, then one
// summary table (the one docs/reliability.md quotes).

/** @typedef {import('./types.d.mts').ScenarioResult} ScenarioResult */
/** @typedef {import('./types.d.mts').Say} Say */

/**
 * @param {ScenarioResult} r
 * @param {Say} say
 */
export function printResult (r, say) {
  if (r.error) {
    say(`  could not run: ${r.error}`)
  }
  for (const c of r.checks) {
    say(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value} (want ${c.expected})`)
  }
  const f = r.figures
  if (f.applyCalls !== undefined) {
    say(`  apply calls: ${f.applyCalls} for ${f.expected ?? f.acked} events (${f.injectedFailures} injected failures, ${f.extraApplyCalls} beyond one per event; ${f.callsOpenAtKills} calls were open at ${f.faultsMidApply} faults)`)
    say(`  attempts: ${f.attempts}, statuses ${JSON.stringify(f.statuses)}, connection errors ${JSON.stringify(f.connectionErrors)}, harness event-loop delay up to ${f.harnessLoopDelayMaxMs} ms`)
    const answers = /** @type {import('./types.d.mts').Answers} */ (f.answers)
    const slow = answers.slowest.slice(0, 3).map((x) => `${x.ms} ms (${x.status}, ${(/** @type {number} */ (x.sinceFirstFaultMs) / 1000).toFixed(1)} s after the first fault)`)
    say(`  slowest answers: ${slow.join(', ')}`)
  }
  for (const line of r.notes ?? []) say(`  ${line}`)
  const verdict = r.passed ? 'PASS' : 'FAIL'
  if (r.expectFail) {
    say(`${r.name}: ${verdict} ${r.ok ? '(expected: the control caught the loss)' : '(NOT expected: a negative control must FAIL with lost events)'}`)
  } else {
    say(`${r.name}: ${verdict}`)
  }
}

/**
 * @param {ScenarioResult[]} results
 * @param {Say} say
 */
export function printSummary (results, say) {
  say('\n| scenario | events | acked | lost | double effects | dead letters | failed jobs | drained after last send | extra apply calls / open at faults | result |')
  say('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for (const r of results) {
    const f = r.figures
    const drain = f.drainMs === undefined ? 'not drained' : `${(f.drainMs / 1000).toFixed(1)} s`
    const result = r.expectFail ? `${r.passed ? 'PASS' : 'FAIL'} (${r.ok ? 'expected' : 'unexpected'})` : (r.passed ? 'PASS' : 'FAIL')
    say(`| ${r.name} | ${f.events ?? '-'} | ${f.acked ?? '-'} | ${f.lost ?? '-'} | ${f.doubledEffects ?? '-'} | ${f.deadLetters ?? '-'} | ${f.failedJobs ?? '-'} | ${r.error ? '-' : drain} | ${f.extraApplyCalls ?? '-'} / ${f.callsOpenAtKills ?? '-'} | ${r.error ? 'ERROR' : result} |`)
  }
  for (const r of results) for (const line of r.notes ?? []) say(`${r.name}: ${line}`)
  say(`\nchaos: ${results.every((r) => r.ok) ? 'OK' : 'NOT OK'}`)
}
