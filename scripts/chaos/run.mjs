#!/usr/bin/env node
// @ts-check
// `npm run chaos`: proves the delivery contract under faults, with numbers.
// Runs the real pieces as separate processes on loopback (a private
// redis-server with AOF, the app with the plugin, workers) and a sender that
// behaves like a provider, injects kills and outages, and holds what was
// acknowledged against the effects the workers committed. Exits non-zero when
// a scenario FAILs, or when a negative control does not.
//
//   npm run chaos                      all scenarios, full size
//   npm run chaos -- --short           the CI selection, CI size (a few minutes)
//   npm run chaos -- --short --scenario cluster   one scenario at CI size
//   npm run chaos -- --scenario kills --events 20000 --senders 32 --json
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { hasRedisServer, redisInstallHint } from '../redis-server.mjs'
import { startReaper } from './processes.mjs'
import { printResult, printSummary } from './report.mjs'
import { SCENARIOS, runScenario } from './scenarios.mjs'

const DEFAULTS = {
  senders: 64,
  workers: 3,
  concurrency: 8,
  // Short locks, so a killed worker's jobs are picked up again within seconds.
  lockDuration: 3000,
  stalledInterval: 1000,
  ackTimeoutMs: 2000,
  // The server timeouts the plugin recommends (it warns when they are 0), and
  // Fastify's keep-alive default, which outlasts a load balancer's idle timeout.
  requestTimeout: 15000,
  connectionTimeout: 30000,
  keepAliveTimeout: 72000,
  hydrateLatencyMs: 2,
  // The hydrate latency of events a scenario marks slow (`data.slowHydrate`).
  slowHydrateMs: 300,
  applyLatencyMs: 4,
  applyFailureRate: 0.01,
  // A provider's own deadline: longer than any honest answer, so a hang shows as one.
  attemptTimeoutMs: 30000,
  drainDeadlineMs: 120000,
  outageMs: 10000
}

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true },
    events: { type: 'string' },
    senders: { type: 'string' },
    workers: { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

if (values.help) {
  console.log(`usage: npm run chaos -- [--short] [--scenario NAME]... [--events N] [--senders N] [--workers N] [--json] [--keep]
scenarios: ${Object.keys(SCENARIOS).join(', ')}
--short alone runs the CI selection: ${Object.keys(SCENARIOS).filter((n) => SCENARIOS[n].ci).join(', ')}`)
  process.exit(0)
}

const names = (values.scenario ?? Object.keys(SCENARIOS).filter((n) => !values.short || SCENARIOS[n].ci)).flatMap((n) => n.split(','))
for (const n of names) {
  if (!SCENARIOS[n]) {
    console.error(`chaos: unknown scenario '${n}'; known: ${Object.keys(SCENARIOS).join(', ')}`)
    process.exit(2)
  }
}
if (!hasRedisServer()) {
  console.error(redisInstallHint())
  process.exit(2)
}

/** @type {import('./types.d.mts').RunSettings} */
const settings = {
  ...DEFAULTS,
  short: values.short,
  keep: values.keep,
  secret: randomBytes(24).toString('base64url'),
  ...(values.events ? { events: positive('events', values.events) } : {}),
  ...(values.senders ? { senders: positive('senders', values.senders) } : {}),
  ...(values.workers ? { workers: positive('workers', values.workers) } : {})
}

// With --json the report goes to stdout as one document and the narration to stderr.
/** @type {import('./types.d.mts').Say} */
const say = values.json ? (line) => process.stderr.write(line + '\n') : (line) => console.log(line)

for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    say(`\nchaos: ${sig}, stopping; every child process is killed on exit`)
    process.exit(130)
  })
}

await startReaper()
/** @type {import('./types.d.mts').ScenarioResult[]} */
const results = []
for (const name of names) {
  /** @type {import('./types.d.mts').ScenarioResult} */
  let result
  try {
    result = await runScenario(name, settings, say)
  } catch (err) {
    result = { name, expectFail: SCENARIOS[name].expectFail === true, passed: false, error: /** @type {Error} */ (err).stack ?? String(err), checks: [], figures: {} }
  }
  result.ok = verdict(result)
  printResult(result, say)
  results.push(result)
}
const ok = results.every((r) => r.ok)
printSummary(results, say)
if (values.json) process.stdout.write(JSON.stringify({ ok, settings: { ...settings, secret: undefined }, results }, null, 2) + '\n')
process.exit(ok ? 0 : 1)

/**
 * A scenario is fine when it PASSes; a negative control is fine when it FAILs
 * for the reason it exists, acknowledged events without an effect, and not
 * because it could not run.
 * @param {import('./types.d.mts').ScenarioResult} r
 */
function verdict (r) {
  if (r.error) return false
  if (!r.expectFail) return r.passed
  return !r.passed && (r.figures.lost ?? 0) > 0
}

/**
 * @param {string} name
 * @param {string} value
 */
function positive (name, value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    console.error(`chaos: --${name} must be a whole number from 1 up, got '${value}'`)
    process.exit(2)
  }
  return n
}
