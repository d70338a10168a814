// A worker process under test. CHAOS_CONFIG.mode picks the worker:
// - 'real': the package's createWebhookWorker with a transactional apply keyed
//   by ctx.idempotencyKey (the pattern the README documents);
// - 'broken': the harness-local negative control (broken-worker.mjs), which
//   commits its dedupe marker before apply, as the source article does.
// Both write to the same SQLite effect ledger and inject the same faults.
import { pino } from 'pino'
import { ledgerWriter } from './ledger.mjs'
import { sleep } from './sender.mjs'

const config = JSON.parse(process.env.CHAOS_CONFIG)
process.on('disconnect', () => process.exit(0))

const ledger = ledgerWriter(config.ledgerFile, { role: config.mode })
const logger = pino({ level: config.logLevel ?? 'warn' }, pino.destination(2))

/** What a provider API call costs: a little latency, so kills land mid-apply. */
async function hydrate (event) {
  await sleep(Math.random() * config.hydrateLatencyMs)
  return event.payload
}

/**
 * The user's apply: record the call, take some time, maybe fail transiently
 * (injected), then write the effect and the key in one transaction.
 */
async function apply (event, key, attempt) {
  const callId = ledger.startCall(event.id, key, attempt)
  await sleep(Math.random() * config.applyLatencyMs)
  if (Math.random() < config.applyFailureRate) {
    ledger.failCall(callId, 'injected-failure')
    throw new Error('injected transient apply failure')
  }
  ledger.applyOnce(callId, event.id, key)
}

let handle
if (config.mode === 'broken') {
  const { startBrokenWorker } = await import('./broken-worker.mjs')
  handle = await startBrokenWorker({ ...config, hydrate, apply, logger })
} else {
  const { createWebhookWorker } = await import('fastify-hybrid-webhooks/worker')
  handle = createWebhookWorker({
    connection: config.redisUrl,
    queueName: config.queueName,
    prefix: config.prefix,
    concurrency: config.concurrency,
    lockDuration: config.lockDuration,
    stalledInterval: config.stalledInterval,
    logger,
    hydrate: (event) => hydrate(event),
    apply: (state, event, ctx) => apply(event, ctx.idempotencyKey, ctx.attempt)
  })
}
handle.worker.on('completed', (job) => ledger.markCompleted(job.data.id))
handle.worker.on('error', (err) => logger.warn({ err: err.message }, 'worker error'))
await handle.worker.waitUntilReady()

async function shutdown () {
  await handle.close({ timeoutMs: 5000 }).catch(() => {})
  ledger.close()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.send({ ready: true, pid: process.pid })
