// @ts-check
// The app side of the demo, built only from the package's public API: a
// Fastify app with the webhook plugin, workers that hydrate from the provider's
// API and apply into SQLite, and the poller that finds what webhooks missed.
import Fastify from 'fastify'
import { Queue } from 'bullmq'
import { pino } from 'pino'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'
import { createWebhookWorker, createPoller, RateLimitedError, safeJobId } from 'fastify-hybrid-webhooks/worker'
import { createWarningLog } from './warnings.mjs'

export const SOURCE = 'shop'
export const SECRET = 'demo-secret-only-for-this-run'
const TIMESTAMP_HEADER = 'x-provider-timestamp'

/** @typedef {import('./db.mjs').Order} Order */
/** @typedef {{ order_id: string, version?: number }} OrderPayload what a webhook carries, and what a polled change says */
/** @typedef {import('fastify-hybrid-webhooks/worker').WebhookEvent<OrderPayload>} OrderEvent */
/** @typedef {import('fastify-hybrid-webhooks/worker').WorkerContext} WorkerContext */
/** @typedef {Awaited<ReturnType<typeof startPipeline>>} Pipeline */

/** The signing side of the scheme the app verifies, for the sender. */
export function demoProvider () {
  return providers.hmac({ secret: SECRET, timestampHeader: TIMESTAMP_HEADER })
}

/**
 * Starts the app, `workers` workers and the poller against `redisUrl`.
 * @param {object} opts
 * @param {string} opts.redisUrl
 * @param {string} opts.queueName
 * @param {string} opts.apiUrl the fake provider's API
 * @param {string} opts.initialCursor where the poller starts (the database was seeded up to there)
 * @param {ReturnType<import('./db.mjs').openOrdersDb>} opts.db
 * @param {number} opts.workers
 * @param {import('./counts.mjs').Counts} opts.counts counters the pipeline adds to
 */
export async function startPipeline ({ redisUrl, queueName, apiUrl, initialCursor, db, workers, counts }) {
  const warnings = createWarningLog()
  const logger = pino({ level: 'warn' }, warnings.stream)

  const app = Fastify({ loggerInstance: logger.child({ part: 'app' }), requestTimeout: 15_000, connectionTimeout: 30_000 })
  await app.register(webhookPlugin, { provider: demoProvider(), connection: redisUrl, source: SOURCE, queueName, path: '/v1/events', requireRedisAtBoot: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = /** @type {import('node:net').AddressInfo} */ (app.server.address())

  /**
   * @param {OrderEvent} event
   * @param {WorkerContext} ctx
   * @returns {Promise<Order | null>}
   */
  async function hydrate (event, ctx) {
    counts.hydrateCalls += 1
    const res = await fetch(`${apiUrl}/orders/${encodeURIComponent(event.payload.order_id)}`, { signal: ctx.signal })
    if (res.status === 200) return /** @type {Order} */ (await res.json())
    await res.body?.cancel()
    if (res.status === 404) return null
    if (res.status === 429) counts.hydrate429 += 1
    else if (res.status >= 500) counts.hydrate500 += 1
    // The worker reads `status` and `headers`: a 429 pauses hydration for its Retry-After without spending an attempt.
    const err = /** @type {Error & { status?: number, headers?: Record<string, string> }} */ (new Error(`The provider's API answered ${res.status}`))
    err.status = res.status
    err.headers = Object.fromEntries(res.headers)
    throw err
  }

  /**
   * @param {Order | null} order never null here: every order an event names exists at the provider
   * @param {OrderEvent} event
   * @param {WorkerContext} ctx
   */
  async function apply (order, event, ctx) {
    const outcome = db.applyOrder(/** @type {Order} */ (order), ctx.idempotencyKey, /** @type {number | undefined} */ (ctx.lastAppliedVersion))
    if (outcome === 'applied') {
      counts.applied += 1
      if (event.origin === 'poll') counts.appliedFromPoll += 1
      else counts.appliedFromWebhook += 1
    } else if (outcome === 'stale') counts.staleInDatabase += 1
    else if (outcome === 'current') counts.currentInDatabase += 1
    else counts.dupInDatabase += 1
  }

  /** @type {import('fastify-hybrid-webhooks/worker').WebhookWorkerHandle[]} */
  const handles = []
  for (let i = 0; i < workers; i++) {
    handles.push(createWebhookWorker({
      connection: redisUrl,
      queueName,
      concurrency: 8,
      hydrate,
      apply,
      // A hostile provider: retry soon, and cap the wait, so the demo settles quickly.
      retry: { attempts: 24, baseDelayMs: 200, maxDelayMs: 2000 },
      // Below the provider's own limit, shared by every worker through Redis.
      rateLimit: { max: 150, duration: 1000 },
      // Events of one order share a hydrate call (only one that started after they arrived),
      // never apply at once, and never apply a state older than the last one committed.
      objectKey: (event) => event.payload.order_id,
      version: (order) => order.version,
      skipEqualVersion: true,
      hydrateCacheMs: 250,
      logger: logger.child({ part: `worker-${i + 1}` })
    }))
  }
  for (const handle of handles) {
    handle.on('attempt', function countOutcome (report) {
      if (report.outcome === 'duplicate' || report.outcome === 'replay') counts.dupInWorker += 1
      else if (report.outcome === 'stale') counts.staleInWorker += 1
      else if (report.outcome === 'unchanged') counts.currentInWorker += 1
    })
  }

  /**
   * @param {string} cursor
   * @param {import('fastify-hybrid-webhooks/worker').PollContext} ctx
   * @returns {Promise<import('fastify-hybrid-webhooks/worker').PollPage<OrderPayload>>}
   */
  async function fetchChanges (cursor, ctx) {
    counts.pollPages += 1
    const res = await fetch(`${apiUrl}/orders?updated_since=${encodeURIComponent(cursor)}&limit=50`, { signal: ctx.signal })
    if (res.status === 429) {
      await res.body?.cancel()
      throw new RateLimitedError(1000 * (Number(res.headers.get('retry-after')) || 1))
    }
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new Error(`The provider's API answered ${res.status}`)
    }
    const page = /** @type {{ data: Order[], next_cursor: string, has_more: boolean }} */ (await res.json())
    counts.pollEvents += page.data.length
    return {
      // An updated_since API has no event ids: one change is one object version.
      events: page.data.map((order) => ({ id: `${order.id}@${order.version}`, type: 'order.updated', payload: { order_id: order.id, version: order.version } })),
      cursor: page.next_cursor,
      hasMore: page.has_more
    }
  }

  const poller = createPoller({
    connection: redisUrl,
    queueName,
    source: SOURCE,
    every: 3000,
    fetchChanges,
    initialCursor,
    maxPagesPerRun: 20,
    fetchBackoffMs: 200,
    logger: logger.child({ part: 'poller' })
  })
  poller.on('run', () => { counts.pollRuns += 1 })

  const queue = new Queue(queueName, { connection: { url: redisUrl, maxRetriesPerRequest: null } })

  return {
    url: `http://127.0.0.1:${port}/v1/events`,
    warnings: warnings.lines,
    app,
    poller,
    handles,
    /** Jobs not yet finished: waiting, active, delayed (retries) and prioritized. */
    async backlog () {
      // 'paused' is BullMQ's pre-v5 paused list: out of its JobType, still counted.
      const types = /** @type {import('bullmq').JobType[]} */ (['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children'])
      const c = await queue.getJobCounts(...types)
      return Object.values(c).reduce((a, b) => a + b, 0)
    },
    /**
     * Whether the queue holds a job for this event id of the demo's source.
     * @param {string} eventId
     */
    async hasJob (eventId) {
      return (await queue.getJob(safeJobId(SOURCE, eventId))) !== undefined
    },
    async deadLetters () {
      return await handles[0].deadLetters.count()
    },
    intakeStats () {
      return app.webhooks.get(`${SOURCE}:/v1/events`)?.stats
    },
    async close () {
      await settle(poller.close())
      await settle(Promise.all(handles.map((h) => h.close({ timeoutMs: 5000 }))))
      await settle(app.close())
      await settle(queue.close())
    }
  }
}

/** @param {Promise<unknown>} promise */
async function settle (promise) {
  try {
    await promise
  } catch {}
}
