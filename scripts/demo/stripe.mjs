// @ts-check
// `npm run demo -- --provider stripe`: the hybrid with the built-in Stripe
// helpers against the fake Stripe API. The route verifies signed Stripe
// webhooks, the worker hydrates with stripePull, the poller reads the events
// list with stripePoll; some webhooks are never sent, so the poller fills the
// gaps. The check: every object the app holds equals Stripe's, and every
// deleted one is gone.
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import { pino } from 'pino'
import Stripe from 'stripe'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'
import { createWebhookWorker, createPoller, createDeadLetters } from 'fastify-hybrid-webhooks/worker'
import { stripePull, stripePoll } from 'fastify-hybrid-webhooks/pull'
import { createFakeStripe } from '../fakes/stripe-api.mjs'
import { createWarningLog } from './warnings.mjs'

const SECRET = 'whsec_demo_only_for_this_run'
const KINDS = ['customer', 'product', 'invoice']

/**
 * @param {object} opts
 * @param {string} opts.redisUrl
 * @param {string} opts.queueName
 * @param {ReturnType<import('./args.mjs').parseDemoArgs>} opts.options
 * @param {ReturnType<import('./random.mjs').createRandom>} opts.random
 * @param {Array<() => unknown>} opts.cleanups
 * @param {(text: string) => void} opts.say
 */
export async function runStripeDemo ({ redisUrl, queueName, options, random, cleanups, say }) {
  const startedAt = Date.now()
  const warnings = createWarningLog()
  const logger = pino({ level: 'warn' }, warnings.stream)
  const fake = createFakeStripe()
  await fake.listen()
  cleanups.push(() => fake.close())
  const client = new Stripe(fake.apiKey, { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 0 })

  const provider = providers.stripe({ secret: SECRET })
  const app = Fastify({ loggerInstance: logger })
  await app.register(webhookPlugin, { connection: redisUrl, queueName, provider, source: 'stripe', path: '/webhooks/stripe' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  cleanups.push(() => app.close())
  const address = /** @type {import('node:net').AddressInfo} */ (app.server.address())
  const url = `http://127.0.0.1:${address.port}/webhooks/stripe`

  /** @type {Map<string, Record<string, unknown>>} the app's copy, by `kind:id` */
  const db = new Map()
  const counts = { changes: 0, sent: 0, dropped: 0, applied: 0, appliedFromPoll: 0, deletions: 0, rateLimited: 0, pollEvents: 0 }
  const hooks = stripePull({ client, rateLimitPauseMs: 200 })
  const workers = Array.from({ length: options.workers }, () => createWebhookWorker({
    connection: redisUrl,
    queueName,
    ...hooks,
    logger,
    lockDuration: 5000,
    stalledInterval: 5000,
    apply: async (state, event, ctx) => {
      const named = /** @type {{ data: { object: { object: string, id: string } } }} */ (event.payload).data.object
      const key = `${named.object}:${named.id}`
      if (state === null) db.delete(key)
      else db.set(key, /** @type {Record<string, unknown>} */ (state.object))
      counts.applied++
      if (ctx.origin === 'poll') counts.appliedFromPoll++
    }
  }))
  cleanups.push(() => Promise.all(workers.map((w) => w.close({ timeoutMs: 2000 }))))
  const poller = createPoller({ connection: redisUrl, queueName, logger, ...stripePoll({ client, lookbackMs: 60_000, pageSize: 20 }), every: 500, runOnStart: true })
  poller.on('run', (r) => { if (!('skipped' in r)) counts.pollEvents += r.events })
  cleanups.push(() => poller.close())
  await Promise.all(workers.map((w) => w.waitUntilReady()))

  /** @param {import('../fakes/stripe-api.mjs').StripeEvent} event */
  async function deliver (event) {
    counts.changes++
    if (random.chance(options.drop)) {
      counts.dropped++
      return
    }
    const body = JSON.stringify(event)
    const res = await fetch(url, { method: 'POST', headers: provider.sign(body), body })
    if (res.ok) counts.sent++
  }

  // The changes: objects created, updated and deleted, now and then a 429 burst from Stripe.
  /** @type {Array<{ kind: string, id: string }>} */
  const live = []
  const total = Math.min(options.deliveries, 2000)
  say(`demo: stripe: ${total} changes to customers, products and invoices, ${Math.round(options.drop * 100)} % of webhooks dropped, ${options.workers} workers`)
  for (let i = 0; i < total; i++) {
    const roll = random.int(1, 100)
    if (live.length < 3 || roll <= 30) {
      const kind = random.pick(KINDS)
      const { object, event } = fake.create(kind, { metadata: { n: String(i) } })
      live.push({ kind, id: object.id })
      await deliver(event)
    } else if (roll <= 90) {
      const target = random.pick(live)
      await deliver(fake.update(target.kind, target.id, { metadata: { n: String(i) } }).event)
    } else {
      const target = live.splice(random.int(0, live.length - 1), 1)[0]
      await deliver(fake.remove(target.kind, target.id).event)
      counts.deletions++
    }
    if (random.chance(0.01)) fake.rateLimit(5)
    await sleep(random.int(0, 3))
  }

  // Catch up: until the app's copy equals Stripe's, or the deadline.
  const deadline = Date.now() + 30_000
  /** @type {string[]} */
  let mismatches = []
  for (;;) {
    mismatches = []
    for (const { kind, id } of live) {
      const want = JSON.stringify(fake.object(kind, id))
      if (JSON.stringify(db.get(`${kind}:${id}`)) !== want) mismatches.push(`${kind}:${id}`)
    }
    const alive = new Set(live.map(({ kind, id }) => `${kind}:${id}`))
    for (const key of db.keys()) if (!alive.has(key)) mismatches.push(`${key} (deleted at Stripe)`)
    if (mismatches.length === 0 || Date.now() > deadline) break
    await sleep(200)
  }
  const letters = createDeadLetters({ connection: redisUrl, queueName })
  const deadLetters = await letters.count()
  await letters.close()
  counts.rateLimited = fake.count((r) => r.status === 429)
  const ok = mismatches.length === 0 && deadLetters === 0
  return {
    ok,
    provider: 'stripe',
    seed: options.seed,
    queueName,
    durationMs: Date.now() - startedAt,
    counts: { ...counts, deadLetters, objects: live.length },
    check: { ok: mismatches.length === 0, objects: live.length, mismatches: mismatches.slice(0, 20) },
    ...(ok ? {} : { warnings: warnings.lines.slice(-10) })
  }
}

/**
 * The summary as text.
 * @param {Awaited<ReturnType<typeof runStripeDemo>>} summary
 */
export function formatStripeSummary (summary) {
  const c = summary.counts
  return [
    `stripe: ${c.changes} changes, ${c.sent} webhooks sent, ${c.dropped} dropped, ${c.deletions} deletions, ${c.rateLimited} answers 429`,
    `applied ${c.applied} (${c.appliedFromPoll} from the poller, which listed ${c.pollEvents} events), dead letters ${c.deadLetters}`,
    `check: ${summary.check.objects - summary.check.mismatches.length}/${summary.check.objects} objects equal Stripe's${summary.check.mismatches.length > 0 ? `; differ: ${summary.check.mismatches.join(', ')}` : ''}`
  ].join('\n')
}
