// @ts-check
// The poller process: the package's createPoller reading the provider API's
// change list (provider-api.mjs), on the same queue, prefix and source as the
// webhook route, so a change seen both ways maps to one job id.
import { pino } from 'pino'
import { createPoller } from 'fastify-hybrid-webhooks/worker'
import { chaosConnection } from './connection.mjs'

/** @type {import('./types.d.mts').PollerConfig} */
const config = JSON.parse(/** @type {string} */ (process.env.CHAOS_CONFIG))
process.on('disconnect', () => process.exit(0))
const logger = pino({ level: config.logLevel ?? 'warn' }, pino.destination(2))

/** @type {import('fastify-hybrid-webhooks/worker').FetchChanges<import('./types.d.mts').ChaosPayload>} */
async function fetchChanges (cursor, ctx) {
  const res = await fetch(`${config.apiUrl}/changes?cursor=${encodeURIComponent(cursor)}&limit=${config.pageSize}`, { signal: ctx.signal })
  if (!res.ok) throw new Error(`provider API answered ${res.status}`)
  return /** @type {import('fastify-hybrid-webhooks/worker').PollPage<import('./types.d.mts').ChaosPayload>} */ (await res.json())
}

const connection = chaosConnection(config)
const poller = createPoller({
  connection,
  source: config.source,
  queueName: config.queueName,
  prefix: config.prefix,
  fetchChanges,
  initialCursor: '0',
  every: config.every,
  maxPagesPerRun: config.maxPagesPerRun,
  lockDuration: config.lockDuration,
  stalledInterval: config.stalledInterval,
  leaseMs: config.leaseMs,
  lagThresholdMs: config.lagThresholdMs,
  fetchBackoffMs: 200,
  logger
})
let runs = 0
let enqueued = 0
let lastRunAt = 0
poller.on('run', (r) => {
  runs++
  enqueued += r.events ?? 0
  lastRunAt = Date.now()
})
await poller.ready()

process.on('message', function onCommand (/** @type {{ cmd?: string } | undefined} */ msg) {
  if (msg?.cmd === 'stats') process.send?.({ reply: 'stats', runs, enqueued, lastRunAt })
})

async function shutdown () {
  await poller.close().catch(() => {})
  if (typeof connection !== 'string') connection.disconnect()
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
process.send?.({ ready: true, pid: process.pid })
