// The minimal worker: takes the events the server enqueues and applies each
// one once. Run it next to examples/server.ts:
//
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/worker.ts
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { createWebhookWorker, type WebhookWorkerHandle } from 'fastify-hybrid-webhooks/worker'

/** Where this example keeps what it applied; your database in real life. */
export const applied = new Map<string, unknown>()

export interface WorkerExampleOptions {
  connection?: string
  queueName?: string
}

export function start (options: WorkerExampleOptions = {}): WebhookWorkerHandle {
  return createWebhookWorker({
    connection: options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queueName: options.queueName ?? 'integration-events',
    logger: pino({ level: process.env.LOG_LEVEL ?? 'info' }),
    // Without `hydrate`, the state is the event's payload. For thin events,
    // fetch the current state from the provider's API here (see examples/transactional-apply.ts).
    apply: async function apply (state, event, ctx) {
      // ctx.idempotencyKey is the same for every copy of this event: store it with the effect.
      applied.set(ctx.idempotencyKey, state)
      ctx.log.info({ type: event.type, origin: event.origin }, 'applied') // ctx.log already names the job and event
    }
  })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const worker = start()
  // Finish the jobs in flight (up to 30 s), then exit.
  async function shutdown (): Promise<void> {
    await worker.close({ timeoutMs: 30_000 })
    process.exit(0)
  }
  process.once('SIGINT', () => { shutdown().catch(() => process.exit(1)) })
  process.once('SIGTERM', () => { shutdown().catch(() => process.exit(1)) })
}
