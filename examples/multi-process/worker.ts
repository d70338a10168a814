// The worker process: no Fastify in it (the `/worker` entry never loads it).
// Start one per core, on as many machines as you like; they share the queue
// through Redis. Every worker of a queue must use the same lockDuration,
// stalledInterval and maxStalledCount.
import { pino } from 'pino'
import { createWebhookWorker } from 'fastify-hybrid-webhooks/worker'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })

const worker = createWebhookWorker({
  connection: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  queueName: 'integration-events',
  prefix: 'bull',
  concurrency: Number(process.env.CONCURRENCY ?? 10),
  logger,
  apply: async function apply (state, event, ctx) {
    // Your effect here, with ctx.idempotencyKey (see ../transactional-apply.ts).
    ctx.log.info({ type: event.type }, 'applied') // ctx.log already names the job and event
  }
})
worker.on('deadLetterAlert', ({ count, threshold }) => logger.error({ count, threshold }, 'dead letters are piling up'))
await worker.waitUntilReady()

// A deploy sends SIGTERM: finish the jobs in flight (up to 30 s), then exit.
// A job still running at the deadline is retried by another worker.
async function shutdown (): Promise<void> {
  await worker.close({ timeoutMs: 30_000 })
  process.exit(0)
}
process.once('SIGTERM', () => { shutdown().catch(() => process.exit(1)) })
process.once('SIGINT', () => { shutdown().catch(() => process.exit(1)) })
