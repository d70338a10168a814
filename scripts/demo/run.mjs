#!/usr/bin/env node
// @ts-check
// `npm run demo`: the whole push-pull hybrid against a hostile provider, on
// loopback, in one command. See USAGE in args.mjs.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasRedisServer, redisInstallHint, startRedisServer } from '../redis-server.mjs'
import { parseDemoArgs, USAGE } from './args.mjs'
import { compareOrders, formatSummary } from './check.mjs'
import { collectCounts, newCounts } from './counts.mjs'
import { openOrdersDb } from './db.mjs'
import { startProgress } from './progress.mjs'
import { createFakeProvider } from './provider.mjs'
import { createRandom } from './random.mjs'
import { createScenario } from './scenario.mjs'
import { sendHostileRequests } from './hostile.mjs'
import { createSender } from './sender.mjs'
import { catchUp, removeQueueKeys } from './settle.mjs'

// How long the pipeline may take to catch up after the last delivery.
const SETTLE_TIMEOUT_MS = 40_000

/** @type {ReturnType<typeof parseDemoArgs>} */
let options
try {
  options = parseDemoArgs(process.argv.slice(2))
} catch (err) {
  console.error(`demo: ${/** @type {Error} */ (err).message}\n\n${USAGE}`)
  process.exit(2)
}
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}

const counts = newCounts()

const startedAt = Date.now()
/** @type {Array<() => unknown>} */
const cleanups = []
let interrupted = false
/** @type {ReturnType<typeof startProgress> | undefined} */
let progress

/** @param {string} text */
function say (text) {
  if (progress) progress.log(text)
  else console.error(text)
}

async function cleanup () {
  progress?.stop()
  while (cleanups.length > 0) {
    const fn = /** @type {() => unknown} */ (cleanups.pop())
    try {
      await fn()
    } catch (err) {
      console.error(`demo: cleanup: ${/** @type {Error} */ (err).message}`)
    }
  }
}

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    if (interrupted) return
    interrupted = true
    say(`demo: ${signal}, stopping`)
    // A second signal, or a cleanup that hangs, ends the process anyway.
    setTimeout(() => process.exit(130), 10_000).unref()
    process.once(signal, () => process.exit(130))
    cleanup().finally(() => process.exit(130))
  })
}

try {
  const summary = await main()
  await cleanup()
  if (options.json) console.log(JSON.stringify(summary, null, 2))
  else {
    if (summary.warnings !== undefined && summary.warnings.length > 0) console.error(`demo: the last warnings logged:\n${summary.warnings.join('\n')}`)
    console.log(`\n${'text' in summary ? summary.text : formatSummary(summary)}\n\n${summary.ok ? 'demo: OK' : 'demo: FAILED'} in ${(summary.durationMs / 1000).toFixed(1)} s (seed ${options.seed})`)
  }
  process.exitCode = summary.ok ? 0 : 1
} catch (err) {
  if (!interrupted) {
    console.error(`demo: ${/** @type {Error} */ (err).stack ?? /** @type {Error} */ (err).message}`)
    await cleanup()
    process.exitCode = 1
  }
}

async function main () {
  const random = createRandom(options.seed)
  const redisUrl = await redis()
  const queueName = `demo-${randomUUID().slice(0, 8)}`
  if (options.provider === 'stripe') return await stripeDemo(redisUrl, queueName, random)

  const provider = createFakeProvider({ orders: options.orders, random, errorRate: options.errors })
  await provider.listen()
  cleanups.push(() => provider.close())

  const dbFile = options.db ?? join(mkdtempSync(join(tmpdir(), 'fhw-demo-')), 'orders.db')
  const db = openOrdersDb(dbFile)
  cleanups.push(() => {
    db.close()
    if (options.db === undefined) rmSync(join(dbFile, '..'), { recursive: true, force: true })
  })
  // The app imported every order once before webhooks were switched on.
  db.seed(provider.snapshot())

  const { startPipeline, demoProvider } = await import('./pipeline.mjs')
  const pipeline = await startPipeline({ redisUrl, queueName, apiUrl: provider.url, initialCursor: provider.cursor(), db, workers: options.workers, counts })
  if (process.env.REDIS_URL) cleanups.push(() => removeQueueKeys(redisUrl, queueName))
  cleanups.push(() => pipeline.close())

  const signer = demoProvider()
  const sender = createSender({ url: pipeline.url, sign: (body) => signer.sign(body), random, lostAnswers: options.lostAnswers })
  cleanups.push(() => sender.close())
  const scenario = createScenario({
    provider,
    sender,
    random,
    mix: { deliveries: options.deliveries, dup: options.duplicates, reorder: options.reorder, drop: options.drop },
    durationMs: options.durationMs
  })
  say(`demo: ${options.orders} orders, ${scenario.plan.events} changes over ${(options.durationMs / 1000).toFixed(1)} s, ` +
    `${options.deliveries} deliveries (${scenario.plan.duplicates} duplicates, ${scenario.plan.reordered} reordered, ${scenario.plan.dropped} events dropped), ` +
    `${options.workers} workers, seed ${options.seed}`)

  let backlog = 0
  let phase = 'sending'
  progress = startProgress(() => {
    const s = sender.stats
    return `[${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${phase}: changes ${scenario.stats.changes}/${scenario.plan.events}` +
      ` | sent ${s.deliveries}/${options.deliveries} (${s.accepted} accepted, ${s.retries} retries)` +
      ` | hydrate ${counts.hydrateCalls} (429: ${counts.hydrate429}, 500: ${counts.hydrate500})` +
      ` | polled ${counts.pollEvents} | applied ${counts.applied} | queue ${backlog}`
  })
  const sampler = setInterval(() => {
    pipeline.backlog().then((n) => { backlog = n }, () => {})
  }, 250)
  cleanups.push(() => clearInterval(sampler))

  await scenario.run()
  await sender.idle()
  if (interrupted) throw new Error('interrupted')
  const hostile = await sendHostileRequests(pipeline.url, signer, (id) => pipeline.hasJob(id))

  phase = 'catching up'
  await catchUp({
    pipeline,
    target: provider.cursor(),
    deadline: Date.now() + SETTLE_TIMEOUT_MS,
    stopped: () => interrupted,
    onBacklog: (n) => { backlog = n }
  })
  if (interrupted) throw new Error('interrupted')
  phase = 'checking'

  const check = compareOrders(provider.snapshot(), db.orders())
  collectCounts(counts, { sender, scenario, provider, intakeStats: pipeline.intakeStats(), deadLetters: await pipeline.deadLetters() })
  const ok = check.ok && counts.deadLetters === 0 && hostile.ok
  return {
    ok,
    seed: options.seed,
    queueName,
    options: { orders: options.orders, deliveries: options.deliveries, duplicates: options.duplicates, reorder: options.reorder, drop: options.drop, errors: options.errors, lostAnswers: options.lostAnswers, durationMs: options.durationMs, workers: options.workers },
    durationMs: Date.now() - startedAt,
    counts,
    check: { ok: check.ok, orders: check.orders, matching: check.matching, mismatches: check.mismatches.slice(0, 20) },
    hostile,
    // What the package logged at warn and above, for a run that failed.
    ...(ok ? {} : { warnings: pipeline.warnings.slice(-10) })
  }
}

/**
 * @param {string} redisUrl
 * @param {string} queueName
 * @param {ReturnType<typeof createRandom>} random
 */
async function stripeDemo (redisUrl, queueName, random) {
  const { runStripeDemo, formatStripeSummary } = await import('./stripe.mjs')
  if (process.env.REDIS_URL) cleanups.push(() => removeQueueKeys(redisUrl, queueName))
  const summary = await runStripeDemo({ redisUrl, queueName, options, random, cleanups, say })
  return { ...summary, text: formatStripeSummary(summary) }
}

async function redis () {
  if (process.env.REDIS_URL) return process.env.REDIS_URL
  if (!hasRedisServer()) throw new Error(redisInstallHint())
  const server = await startRedisServer({ appendonly: true })
  cleanups.push(() => server.stop())
  say(`demo: private redis-server pid ${server.pid} at ${server.url}`)
  return server.url
}
