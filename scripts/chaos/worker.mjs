// @ts-check
// A worker process under test. CHAOS_CONFIG.mode picks the worker:
// - 'real': the package's createWebhookWorker with a transactional apply keyed
//   by ctx.idempotencyKey (the pattern the documentation describes);
// - 'broken': the harness-local negative control (broken-worker.mjs), which
//   commits its dedupe marker before apply, as the common recipe does.
// Both write to the same SQLite effect ledger and inject the same faults.
//
// Over IPC the harness can ask for `{ cmd: 'inflight' }` (the runs this worker
// holds now, with their BullMQ lock tokens, and its stats) and `{ cmd: 'stats' }`,
// and send `{ cmd: 'fix' }`, after which poisoned events hydrate normally.
import { pino } from 'pino'
import { chaosConnection } from './connection.mjs'
import { ledgerWriter } from './ledger.mjs'
import { sleep } from './sender.mjs'

/** @typedef {import('./types.d.mts').ChaosEvent} ChaosEvent */

/** @type {import('./types.d.mts').WorkerConfig} */
const config = JSON.parse(/** @type {string} */ (process.env.CHAOS_CONFIG))
process.on('disconnect', () => process.exit(0))

const ledger = ledgerWriter(config.ledgerFile, { role: config.mode })
const logger = pino({ level: config.logLevel ?? 'warn' }, pino.destination(2))
let fixed = false
/** @type {new (message: string) => Error} */
let PermanentError = Error

/**
 * What a provider API call costs: a little latency, so kills land mid-apply,
 * and a slow call for events marked `data.slowHydrate`. A poisoned event
 * (`data.poison`) fails for good until the harness sends `fix`.
 * @type {import('./types.d.mts').ChaosHydrate}
 */
async function hydrate (event) {
  await sleep(event.payload?.data?.slowHydrate === true ? config.slowHydrateMs : Math.random() * config.hydrateLatencyMs)
  if (event.payload?.data?.poison === true && !fixed) throw new PermanentError('poisoned event: the provider answers 404 for it')
  return event.payload
}

/**
 * The user's apply: record the call, take some time, maybe fail transiently
 * (injected), then write the effect and the key in one transaction.
 * @type {import('./types.d.mts').ChaosApply}
 */
async function apply (event, key, run) {
  const callId = ledger.startCall(event.id, key, run.attempt, run.token, run.origin)
  await sleep(Math.random() * config.applyLatencyMs)
  if (Math.random() < config.applyFailureRate) {
    ledger.failCall(callId, 'injected-failure')
    throw new Error('injected transient apply failure')
  }
  ledger.applyOnce(callId, event.id, key)
}

const connection = chaosConnection(config)
/**
 * The package's handle, or the control's (no events, no stats).
 * @type {{ worker: import('bullmq').Worker, close: (options?: { timeoutMs?: number }) => Promise<void>, on?: import('fastify-hybrid-webhooks/worker').WebhookWorkerHandle['on'], stats?: () => import('fastify-hybrid-webhooks/worker').WorkerStats }}
 */
let handle
if (config.mode === 'broken') {
  const { startBrokenWorker } = await import('./broken-worker.mjs')
  handle = await startBrokenWorker({ ...config, hydrate, apply, logger })
} else {
  const pkg = await import('fastify-hybrid-webhooks/worker')
  PermanentError = pkg.PermanentError
  handle = pkg.createWebhookWorker({
    connection,
    queueName: config.queueName,
    prefix: config.prefix,
    concurrency: config.concurrency,
    lockDuration: config.lockDuration,
    stalledInterval: config.stalledInterval,
    logger,
    hydrate: (/** @type {ChaosEvent} */ event) => hydrate(event),
    apply: (state, event, ctx) => apply(event, ctx.idempotencyKey, { attempt: ctx.attempt, token: ctx.job.token, origin: ctx.origin })
  })
}

// The runs this worker holds: from BullMQ's `active` to the attempt's report.
const inflight = new Map()
handle.worker.on('active', (job) => inflight.set(job.data.id, { eventId: job.data.id, token: job.token, attempt: job.attemptsMade + 1 }))
handle.on?.('attempt', (r) => { if (r.eventId !== undefined) inflight.delete(r.eventId) })
handle.worker.on('completed', (job) => ledger.markCompleted(job.data.id))
handle.worker.on('error', (err) => logger.warn({ err: err.message }, 'worker error'))
await handle.worker.waitUntilReady()

process.on('message', function onCommand (/** @type {{ cmd?: string } | undefined} */ msg) {
  if (msg?.cmd === 'fix') fixed = true
  if (msg?.cmd === 'inflight') process.send?.({ reply: 'inflight', runs: [...inflight.values()], stats: handle.stats?.() })
  if (msg?.cmd === 'stats') process.send?.({ reply: 'stats', stats: handle.stats?.() })
  if (msg?.cmd === 'fix') process.send?.({ reply: 'fix' })
})

async function shutdown () {
  await handle.close({ timeoutMs: 5000 }).catch(() => {})
  if (typeof connection !== 'string') connection.disconnect()
  ledger.close()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.send?.({ ready: true, pid: process.pid })
