// @ts-check
// The scenarios: what runs, which faults land, and which checks decide PASS.
// The core ones are defined here; the others live in ./scenarios/, each a
// definition the same runner takes:
//   full, short       events at each size
//   ci                true when `--short` runs it without `--scenario`
//   settings          overrides of run.mjs's DEFAULTS (or a function of them)
//   plan(s)           the faults (faults.mjs)
//   sender(s, stack)  extra sender options (poison, drops, the provider's record)
//   during(ctx)       load next to the sender; returns { stop() => figures }
//   before(ctx)       a phase on the same stack before the main run; returns figures
//   after(ctx, f)     a phase once the queue drained (e.g. replays); returns figures
//   checks(f, s, faults)
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { killPlan, outagePlan, runPlan } from './faults.mjs'
import { chaosProvider } from './provider.mjs'
import { clusterScenario } from './scenarios/cluster.mjs'
import { droppedScenario } from './scenarios/dropped.mjs'
import { backlogSheddingScenario, fullRedisScenario } from './scenarios/full-redis.mjs'
import { poisonScenario } from './scenarios/poison.mjs'
import { controlNoWaitScenario, replicasScenario } from './scenarios/replicas.mjs'
import { scaleOutScenario } from './scenarios/scale-out.mjs'
import { slowClientsScenario } from './scenarios/slow-clients.mjs'
import { stallsScenario } from './scenarios/stalls.mjs'
import { answerChecks, deliveryChecks, killChecks } from './checks.mjs'
import { createSender, sleep } from './sender.mjs'
import { startStack } from './stack.mjs'
import { account, waitForDrain } from './verify.mjs'

/** @typedef {import('./types.d.mts').Scenario} Scenario */
/** @typedef {import('./types.d.mts').Ctx} Ctx */
/** @typedef {import('./types.d.mts').SendingCtx} SendingCtx */
/** @typedef {import('./types.d.mts').Figures} Figures */
/** @typedef {import('./types.d.mts').Settings} Settings */
/** @typedef {import('./types.d.mts').Stack} Stack */

/**
 * Scenario definitions, in the order a full run takes them; `expectFail` marks the negative controls.
 * @type {Record<string, Scenario>}
 */
export const SCENARIOS = {
  kills: { plan: () => killPlan(), full: 50000, short: 3000, ci: true, checks: killChecks },
  outage: { plan: (s) => outagePlan(s.outageMs), full: 10000, short: 2000, ci: true, checks: outageChecks },
  stalls: stallsScenario,
  poison: poisonScenario,
  'slow-clients': slowClientsScenario,
  dropped: droppedScenario,
  'scale-out': scaleOutScenario,
  cluster: clusterScenario,
  'full-redis': fullRedisScenario,
  'backlog-shedding': backlogSheddingScenario,
  replicas: replicasScenario,
  'control-broken-worker': { plan: () => killPlan(), full: 10000, short: 2000, ci: true, checks: killChecks, workerMode: 'broken', expectFail: true },
  'control-no-wait': controlNoWaitScenario,
  'control-no-aof': { plan: () => killPlan(), full: 10000, short: 2000, ci: true, checks: killChecks, appendonly: false, expectFail: true }
}

/**
 * Runs one scenario end to end and returns its figures and checks.
 * @param {string} name
 * @param {import('./types.d.mts').RunSettings} settings
 * @param {import('./types.d.mts').Say} say
 * @returns {Promise<import('./types.d.mts').ScenarioResult>}
 */
export async function runScenario (name, settings, say) {
  const def = SCENARIOS[name]
  const overrides = typeof def.settings === 'function' ? def.settings(settings) : def.settings
  /** @type {Settings} */
  const s = {
    ...settings,
    ...overrides,
    name,
    workerMode: def.workerMode ?? 'real',
    appendonly: def.appendonly ?? true,
    events: settings.events ?? (settings.short ? def.short : def.full)
  }
  const started = Date.now()
  say(`\n== ${name}: ${s.events} events, ${s.senders} senders, ${s.apps ?? 1} app(s), ${s.workers} workers x ${s.concurrency}, ${s.cluster ? 'Redis Cluster (3 masters)' : 'Redis'} AOF ${s.appendonly ? 'on' : 'off'}, ${s.workerMode} worker${def.expectFail ? ' (negative control: must FAIL)' : ''}`)
  const stack = await startStack(s)
  try {
    /** @type {Ctx} */
    const ctx = { stack, s, say, runId: `${name}-${started.toString(36)}` }
    const before = def.before ? await def.before(ctx) : {}
    /** @type {Figures} */
    const figures = { ...before, ...await load(def, ctx) }
    // load() gave the context its sender.
    Object.assign(figures, def.after ? await def.after(/** @type {SendingCtx} */ (ctx), figures) : {})
    const checks = def.checks(figures, s, /** @type {import('./types.d.mts').FaultRecord[]} */ (figures.faultRecords))
    delete figures.faultRecords
    const passed = checks.every((c) => c.ok)
    const notes = def.notes?.(figures) ?? []
    return { name, expectFail: def.expectFail === true, passed, checks, figures, notes, durationMs: Date.now() - started, runDir: s.keep ? stack.dir : undefined }
  } finally {
    await stack.stop()
  }
}

/**
 * The main run: the sender, the faults and any side load; then drain and account.
 * @param {Scenario} def
 * @param {Ctx} ctx
 * @returns {Promise<Figures>}
 */
async function load (def, ctx) {
  const { stack, s, say, runId } = ctx
  const started = Date.now()
  const sender = createSender({
    target: stack.target,
    path: '/v1/events',
    provider: chaosProvider(s.secret),
    events: s.events,
    senders: s.senders,
    runId,
    attemptTimeoutMs: s.attemptTimeoutMs,
    ...def.sender?.(s, stack)
  })
  const sending = Object.assign(ctx, { sender })
  const answers = watchAnswers(sender, s.ackTimeoutMs + 1000)
  // The sender measures latencies in this process: its own event-loop delay
  // is part of every figure, so it is reported next to them.
  const loopDelay = monitorEventLoopDelay({ resolution: 20 })
  loopDelay.enable()
  const side = def.during ? await def.during(sending) : undefined
  const run = sender.run()
  const faults = await runPlan(def.plan(s), stack, sender, s.events, say)
  await run
  const sideFigures = side ? await side.stop() : {}
  loopDelay.disable()
  const firstFaultAt = faults.find((f) => f.landed)?.at ?? started
  answers.slowest = answers.slowest.map((x) => ({ ms: x.ms, status: x.status, sinceFirstFaultMs: /** @type {number} */ (x.at) - firstFaultAt }))
  const sendMs = Date.now() - started
  let lastSendAt = sender.stats.lastAckAt || Date.now()
  say(`  sent: ${sender.stats.acked.size} acknowledged${sender.stats.dropped.size ? `, ${sender.stats.dropped.size} dropped on purpose` : ''} in ${sender.stats.attempts} attempts, ${(sendMs / 1000).toFixed(1)} s; waiting for the queue to drain`)
  /** @type {{ poller?: Record<string, unknown> }} */
  let pollerFigures = {}
  if (stack.poller && stack.api) {
    const waitedFrom = Date.now()
    lastSendAt = await waitForPoller(stack, s)
    /** @type {Record<string, any>} */
    const p = await stack.poller.ask('stats').catch(() => ({}))
    pollerFigures = { poller: { runs: p.runs, enqueued: p.enqueued, lastRunAgoMs: p.lastRunAt ? Date.now() - p.lastRunAt : null, pages: stack.api.stats.pages, caughtUp: stack.api.caughtUpSince(waitedFrom), waitedMs: lastSendAt - waitedFrom } }
  }
  const drainMs = await waitForDrain(stack, lastSendAt, s.drainDeadlineMs)
  const counts = await stack.counts()
  const deadLetterIds = new Set(await stack.deadLetterEventIds())
  const landed = faults.filter((f) => f.landed)
  const expected = stack.poller ? new Set([...sender.stats.acked, ...sender.stats.dropped]) : undefined
  return {
    events: s.events,
    senders: s.senders,
    ...account(stack, sender, landed, { runId, expected, deadLettered: deadLetterIds }),
    dropped: sender.stats.dropped.size,
    givenUp: sender.stats.givenUp.length,
    attempts: sender.stats.attempts,
    statuses: sender.stats.statuses,
    connectionErrors: sender.stats.connectionErrors,
    maxLatencyMs: sender.stats.maxLatencyMs,
    harnessLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
    answers,
    deadLetters: await stack.deadLetterCount(),
    failedJobs: counts.failed,
    pendingJobs: counts.pending,
    drainMs,
    sendMs,
    ...sideFigures,
    ...pollerFigures,
    faultRecords: faults,
    faults: faults.map(({ kind, at, pid, target, landed, openCalls, waitingAtKill, recoveredMs, ackedAt }) => ({ kind, target, landed, pid, openCalls, waitingAtKill, recoveredMs, ackedAt, at })),
    unexpectedExits: [...stack.apps, ...stack.workers, ...(stack.poller ? [stack.poller] : [])].flatMap((p) => p.unexpectedExits.map((e) => ({ process: p.name, ...e })))
  }
}

/**
 * With a poller, the queue is only complete once the poller has listed every
 * change: waits for a page that reached the end of the provider's log after
 * the last send. Returns that time, from which the drain is measured.
 * @param {Stack} stack
 * @param {Settings} s
 */
async function waitForPoller (stack, s) {
  const api = /** @type {NonNullable<Stack['api']>} */ (stack.api)
  const since = Date.now()
  while (!api.caughtUpSince(since) && Date.now() - since < s.drainDeadlineMs) await sleep(100)
  return Date.now()
}

/**
 * Every attempt's answer: how many were late, unanswered, or a 5xx other than 503; and the latencies of 2xx answers.
 * @param {import('./types.d.mts').Sender} sender
 * @param {number} boundMs
 */
function watchAnswers (sender, boundMs) {
  /** @type {import('./types.d.mts').Answers} */
  const a = { total: 0, late: 0, unanswered: 0, non503Errors: 0, maxMs: 0, slowest: [], acceptedMs: [] }
  sender.observe(function onAttempt (r) {
    a.total++
    a.slowest.push({ ms: r.latencyMs, status: r.status ?? r.error, at: r.at })
    a.slowest.sort((x, y) => y.ms - x.ms)
    if (a.slowest.length > 10) a.slowest.pop()
    if (r.status === undefined) a.unanswered++
    else if (r.status >= 500 && r.status !== 503) a.non503Errors++
    if (r.status !== undefined && r.status >= 200 && r.status < 300) a.acceptedMs.push(r.latencyMs)
    if (r.latencyMs > a.maxMs) a.maxMs = r.latencyMs
    if (r.status === undefined || r.latencyMs > boundMs) a.late++
  })
  Object.defineProperty(a, 'acceptedMs', { enumerable: false })
  return a
}

/**
 * @param {Figures} f
 * @param {Settings} s
 * @param {import('./types.d.mts').FaultRecord[]} faults
 */
function outageChecks (f, s, faults) {
  return [...answerChecks(f, s, faults, 'outages'), ...deliveryChecks(f, s)]
}
