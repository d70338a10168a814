// The scenarios: what runs, which faults land, and which checks decide PASS.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { killPlan, outagePlan, runPlan } from './faults.mjs'
import { chaosProvider } from './provider.mjs'
import { createSender } from './sender.mjs'
import { startStack } from './stack.mjs'
import { account, check, waitForDrain } from './verify.mjs'

/** Scenario definitions; `expectFail` marks the negative controls. */
export const SCENARIOS = {
  kills: { plan: () => killPlan(), full: 50000, short: 3000, checks: killChecks },
  outage: { plan: (s) => outagePlan(s.outageMs), full: 10000, short: 2000, checks: outageChecks },
  'control-broken-worker': { plan: () => killPlan(), full: 10000, short: 2000, checks: killChecks, workerMode: 'broken', expectFail: true },
  'control-no-aof': { plan: () => killPlan(), full: 10000, short: 2000, checks: killChecks, appendonly: false, expectFail: true }
}

/** Runs one scenario end to end and returns its figures and checks. */
export async function runScenario (name, settings, say) {
  const def = SCENARIOS[name]
  const s = {
    ...settings,
    name,
    workerMode: def.workerMode ?? 'real',
    appendonly: def.appendonly ?? true,
    events: settings.events ?? (settings.short ? def.short : def.full)
  }
  const started = Date.now()
  say(`\n== ${name}: ${s.events} events, ${s.senders} senders, ${s.workers} workers x ${s.concurrency}, Redis AOF ${s.appendonly ? 'on' : 'off'}, ${s.workerMode} worker${def.expectFail ? ' (negative control: must FAIL)' : ''}`)
  const stack = await startStack(s)
  try {
    const sender = createSender({
      target: stack.target,
      path: '/v1/events',
      provider: chaosProvider(s.secret),
      events: s.events,
      senders: s.senders,
      runId: `${name}-${started.toString(36)}`,
      attemptTimeoutMs: s.attemptTimeoutMs
    })
    const answers = watchAnswers(sender, s.ackTimeoutMs + 1000)
    // The sender measures latencies in this process: its own event-loop delay
    // is part of every figure, so it is reported next to them.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 })
    loopDelay.enable()
    const sending = sender.run()
    const faults = await runPlan(def.plan(s), stack, sender, s.events, say)
    await sending
    loopDelay.disable()
    const firstFaultAt = faults.find((f) => f.landed)?.at ?? started
    answers.slowest = answers.slowest.map((x) => ({ ms: x.ms, status: x.status, sinceFirstFaultMs: x.at - firstFaultAt }))
    const sendMs = Date.now() - started
    const lastSendAt = sender.stats.lastAckAt || Date.now()
    say(`  sent: ${sender.stats.acked.size} acknowledged in ${sender.stats.attempts} attempts, ${(sendMs / 1000).toFixed(1)} s; waiting for the queue to drain`)
    const drainMs = await waitForDrain(stack, lastSendAt, s.drainDeadlineMs)
    const counts = await stack.counts()
    const deadLetters = await stack.deadLetterCount()
    const landed = faults.filter((f) => f.landed)
    const figures = {
      events: s.events,
      senders: s.senders,
      ...account(stack, sender, landed),
      givenUp: sender.stats.givenUp.length,
      attempts: sender.stats.attempts,
      statuses: sender.stats.statuses,
      connectionErrors: sender.stats.connectionErrors,
      maxLatencyMs: sender.stats.maxLatencyMs,
      harnessLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
      answers,
      deadLetters,
      failedJobs: counts.failed,
      pendingJobs: counts.pending,
      drainMs,
      sendMs,
      faults: faults.map(({ kind, at, pid, landed, openCalls, waitingAtKill, recoveredMs, ackedAt }) => ({ kind, landed, pid, openCalls, waitingAtKill, recoveredMs, ackedAt, at })),
      unexpectedExits: [stack.app, ...stack.workers].flatMap((p) => p.unexpectedExits.map((e) => ({ process: p.name, ...e })))
    }
    const checks = def.checks(figures, s, faults)
    const passed = checks.every((c) => c.ok)
    return { name, expectFail: def.expectFail === true, passed, checks, figures, durationMs: Date.now() - started, runDir: s.keep ? stack.dir : undefined }
  } finally {
    await stack.stop()
  }
}

/** Every attempt's answer: how many were late, unanswered, or a 5xx other than 503. */
function watchAnswers (sender, boundMs) {
  const a = { total: 0, late: 0, unanswered: 0, non503Errors: 0, maxMs: 0, slowest: [] }
  sender.observe(function onAttempt (r) {
    a.total++
    a.slowest.push({ ms: r.latencyMs, status: r.status ?? r.error, at: r.at })
    a.slowest.sort((x, y) => y.ms - x.ms)
    if (a.slowest.length > 10) a.slowest.pop()
    if (r.status === undefined) a.unanswered++
    else if (r.status >= 500 && r.status !== 503) a.non503Errors++
    if (r.latencyMs > a.maxMs) a.maxMs = r.latencyMs
    if (r.status === undefined || r.latencyMs > boundMs) a.late++
  })
  return a
}

/** What every scenario must show once Redis is back: nothing lost, nothing doubled, nothing stuck. */
function deliveryChecks (f, s) {
  return [
    check('every event acknowledged', f.givenUp, f.givenUp === 0, 0),
    check('lost (acknowledged, no effect)', f.lost, f.lost === 0, 0),
    check('double effects', f.doubledEffects, f.doubledEffects === 0, 0),
    check('effects never acknowledged', f.unexpectedEffects, f.unexpectedEffects === 0, 0),
    check('dead letters', f.deadLetters, f.deadLetters === 0, 0),
    check('failed jobs', f.failedJobs, f.failedJobs === 0, 0),
    check('drained after last send (ms)', f.drainMs ?? 'not drained', f.drainMs !== undefined, `<= ${s.drainDeadlineMs}`),
    check('idempotency key stable per event', f.eventsWithSeveralKeys, f.eventsWithSeveralKeys === 0, 0),
    check('apply calls beyond one per event (injected failures aside)', f.extraApplyCalls, f.extraApplyCalls <= f.callsOpenAtKills, `<= ${f.callsOpenAtKills} calls open at faults`),
    check('processes that exited on their own', f.unexpectedExits.length, f.unexpectedExits.length === 0, 0)
  ]
}

function killChecks (f, s, faults) {
  const want = { worker: 5, redis: 2, app: 1 }
  const landed = (kind) => faults.filter((x) => x.kind === kind && x.landed).length
  const kills = `${landed('redis')} redis, ${landed('worker')} worker, ${landed('app')} app`
  const all = Object.entries(want).every(([k, n]) => landed(k) === n)
  return [check('kills landed under load', kills, all, '2 redis, 5 worker, 1 app'), ...deliveryChecks(f, s)]
}

function outageChecks (f, s, faults) {
  const bound = s.ackTimeoutMs + 1000
  const other = Object.keys(f.statuses).filter((code) => code !== '202' && code !== '503')
  return [
    check('outages landed under load', faults.filter((x) => x.landed).length, faults.every((x) => x.landed), faults.length),
    check(`answers later than ${bound} ms or missing`, f.answers.late, f.answers.late === 0, 0),
    check('requests without an answer (reset, hang)', f.answers.unanswered, f.answers.unanswered === 0, 0),
    check('statuses other than 202 and 503', other.length === 0 ? 'none' : other.join(', '), other.length === 0, 'none'),
    check('503 answers during the outages', f.statuses['503'] ?? 0, (f.statuses['503'] ?? 0) > 0, '> 0'),
    ...deliveryChecks(f, s)
  ]
}
