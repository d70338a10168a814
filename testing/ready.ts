import type { FastifyInstance } from 'fastify'
import type { WebhookIntake, WebhookRegistry } from '../plugin/registry.js'
import { TestingErrors } from './errors.js'

/** Options of {@link ready}. */
export interface ReadyOptions {
  /** How long to wait, boot included. @defaultValue `10000` */
  timeoutMs?: number
  /** Wait for this registration only (its key in `app.webhooks`). @defaultValue every registration */
  name?: string
}

const POLL_MS = 10

/**
 * Boots the app (`app.ready()`) and waits until its webhook registrations
 * would enqueue an event now (`app.webhooks.get(name).ready`: Redis
 * connected and the queue ready), so the first `app.inject()` is answered
 * `202` rather than `503`. Rejects with `WEBHOOK_TESTING_TIMEOUT` after
 * `timeoutMs`, naming the registrations still not ready, and with
 * `WEBHOOK_TESTING_NO_PLUGIN` when the app has no `webhookPlugin`.
 *
 * @example
 * await app.register(webhookPlugin, { provider, connection: redis.url })
 * await ready(app)
 */
export async function ready (app: FastifyInstance, options: ReadyOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadline = Date.now() + timeoutMs

  let timer: NodeJS.Timeout | undefined
  const booted = await Promise.race([
    Promise.resolve(app.ready()).then(() => true),
    new Promise<false>((resolve) => { timer = setTimeout(resolve, timeoutMs, false) })
  ]).finally(() => clearTimeout(timer))
  if (!booted) throw new TestingErrors.WEBHOOK_TESTING_TIMEOUT(`ready(): the app did not boot (app.ready()) within ${timeoutMs} ms`)

  const registry = (app as unknown as { webhooks?: WebhookRegistry }).webhooks
  if (registry === undefined) throw new TestingErrors.WEBHOOK_TESTING_NO_PLUGIN('ready(): the app has no `app.webhooks`: register webhookPlugin first')
  const intakes = (): WebhookIntake[] => {
    if (options.name === undefined) return [...registry.values()]
    const intake = registry.get(options.name)
    if (intake === undefined) {
      throw new TestingErrors.WEBHOOK_TESTING_NO_PLUGIN(`ready(): no registration named \`${options.name}\` (have: ${[...registry.keys()].join(', ') || 'none'})`)
    }
    return [intake]
  }
  if (intakes().length === 0) throw new TestingErrors.WEBHOOK_TESTING_NO_PLUGIN('ready(): `app.webhooks` holds no registration')

  for (;;) {
    const waiting = intakes().filter((intake) => !intake.ready)
    if (waiting.length === 0) return
    if (Date.now() >= deadline) {
      const names = waiting.map((intake) => `${intake.name} (queue ${intake.queueName})`).join(', ')
      throw new TestingErrors.WEBHOOK_TESTING_TIMEOUT(`ready(): not ready within ${timeoutMs} ms: ${names}. Is Redis reachable? Until it is, the route answers 503`)
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))))
  }
}
