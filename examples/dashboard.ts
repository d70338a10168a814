// The example app with its operations side: Bull Board on the event queue,
// its dead-letter queue and its poll queue; Prometheus metrics on /metrics;
// a readiness route. The board can delete and retry jobs: keep it behind
// authentication (here a bearer token) and off the public internet.
//
//   WEBHOOK_SECRET=… DASHBOARD_TOKEN=… REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/dashboard.ts
//   open http://127.0.0.1:3000/admin/queues (send `Authorization: Bearer $DASHBOARD_TOKEN`)
import { createHash, timingSafeEqual } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import { Queue } from 'bullmq'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'

export interface DashboardExampleOptions {
  secret?: string
  /** The bearer token the board asks for; without one, the board is not mounted. */
  token?: string
  connection?: string
  queueName?: string
  basePath?: string
  port?: number
  host?: string
}

export async function start (options: DashboardExampleOptions = {}): Promise<FastifyInstance> {
  const secret = options.secret ?? process.env.WEBHOOK_SECRET
  if (secret === undefined || secret === '') throw new Error('Set WEBHOOK_SECRET')
  const token = options.token ?? process.env.DASHBOARD_TOKEN
  const connection = options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const queueName = options.queueName ?? 'integration-events'

  const app = Fastify({ logger: { level: process.env.LOG_LEVEL ?? 'info' }, connectionTimeout: 30_000, requestTimeout: 15_000 })
  const metrics = new Registry()
  await app.register(webhookPlugin, {
    provider: providers.hmac({ secret }),
    connection,
    queueName,
    path: '/v1/events',
    metrics,
    healthRoute: '/healthz/webhooks'
  })
  app.get('/metrics', async function scrape (_request, reply) {
    return await reply.type(metrics.contentType).send(await metrics.metrics())
  })
  if (token === undefined || token === '') app.log.warn('DASHBOARD_TOKEN is not set: the queue dashboard is not mounted')
  else await app.register(queueDashboard, { connection, queueName, token, basePath: options.basePath ?? '/admin/queues' })

  await app.listen({ port: options.port ?? Number(process.env.PORT ?? 3000), host: options.host ?? '127.0.0.1' })
  return app
}

interface DashboardOptions {
  connection: string
  queueName: string
  token: string
  basePath: string
}

/** Bull Board on the three queues of `queueName`, behind a bearer token, in its own scope. */
async function queueDashboard (app: FastifyInstance, { connection, queueName, token, basePath }: DashboardOptions): Promise<void> {
  const redis = new Redis(connection, { maxRetriesPerRequest: null })
  // The package's queue layout: events, `<queue>-dlq` (dead letters) and `<queue>-poll` (the poller's schedule).
  const [events, deadLetters, polls] = [queueName, `${queueName}-dlq`, `${queueName}-poll`]
    .map((name) => new Queue(name, { connection: redis }))
  app.addHook('onClose', async function closeDashboardQueues () {
    await Promise.all([events.close(), deadLetters.close(), polls.close()])
    await redis.quit()
  })

  const board = new FastifyAdapter()
  board.setBasePath(basePath)
  createBullBoard({
    queues: [
      new BullMQAdapter(events, { description: 'Verified webhooks and polled changes, waiting for a worker' }),
      // Dead letters wait in this queue on purpose; replay them with
      // `npx fastify-hybrid-webhooks dlq replay`, which replays each once.
      new BullMQAdapter(deadLetters, { readOnlyMode: true, description: 'Dead letters: replay with `fastify-hybrid-webhooks dlq replay`' }),
      new BullMQAdapter(polls, { readOnlyMode: true, description: 'The poller\'s schedule' })
    ],
    // @bull-board/fastify pins its own copy of @bull-board/api: the two types differ only nominally.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter']
  })

  const expected = digest(token)
  await app.register(async function dashboardScope (scope) {
    scope.addHook('onRequest', async function requireToken (request: FastifyRequest, reply: FastifyReply) {
      const header = request.headers.authorization ?? ''
      const given = header.startsWith('Bearer ') ? header.slice(7) : ''
      if (!timingSafeEqual(digest(given), expected)) return await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized' })
    })
    await scope.register(board.registerPlugin(), { prefix: basePath })
  })
}

// Hashing first makes the comparison constant-time whatever the lengths.
function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await start()
  process.once('SIGINT', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
  process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
