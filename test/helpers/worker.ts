import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import type { WebhookEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { createWebhookWorker, type WebhookWorkerHandle } from '../../worker/worker.js'
import type { WebhookWorkerOptions } from '../../worker/options.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from './redis.js'
import { sleep, waitFor } from './wait.js'

export { sleep, waitFor }

/** Short locks, as every worker test uses: stalls are detected within about 1.5 s. */
export const SHORT_LOCKS = { lockDuration: 1000, stalledInterval: 500 } as const

let counter = 0

/** A valid event; ids are unique per call unless given. */
export function makeEvent (overrides: Partial<WebhookEvent> = {}): WebhookEvent {
  counter++
  return {
    v: 1,
    id: `evt_${process.pid}_${counter}`,
    source: 'acme',
    type: 'order.updated',
    payload: { object_id: `ord_${counter}` },
    headers: {},
    receivedAt: Date.now(),
    origin: 'webhook',
    ...overrides
  }
}

/** A queue name, a producer queue and a client on the shared test Redis, cleaned up and closed after the test. */
export interface QueueFixture {
  url: string
  queueName: string
  prefix: string
  queue: Queue
  redis: Redis
  /** Adds an event as a producer does (job id = safeJobId), or under the given raw job id. */
  add: (event: WebhookEvent, jobId?: string) => Promise<void>
}

export function queueFixture (t: Test, url = redisUrl(), label = 'worker'): QueueFixture {
  const queueName = uniqueName(label)
  const prefix = 'bull'
  const redis = testClient(t, url)
  const queue = new Queue(queueName, { connection: redis, prefix })
  t.teardown(async () => {
    await queue.close()
    await cleanQueue(redis, prefix, queueName).catch(() => {})
  })
  return {
    url,
    queueName,
    prefix,
    queue,
    redis,
    add: async (event, jobId) => {
      await queue.add('webhook', event, eventJobOptions(jobId ?? safeJobId(event.source, event.id)))
    }
  }
}

/** Starts a worker on the fixture's queue with short locks, closed after the test. */
export async function startWorker<S = unknown> (t: Test, q: QueueFixture, options: Partial<WebhookWorkerOptions<S>> & Pick<WebhookWorkerOptions<S>, 'apply'>): Promise<WebhookWorkerHandle> {
  const handle = createWebhookWorker<S>({ connection: q.url, queueName: q.queueName, prefix: q.prefix, ...SHORT_LOCKS, ...options })
  t.teardown(async () => { await handle.close({ timeoutMs: 2000 }) })
  await handle.waitUntilReady()
  return handle
}

/** Polls until `check` returns a truthy value, or fails after `timeoutMs`. */

/**
 * An apply whose effect and idempotency key are written in one Redis
 * transaction (WATCH the key, skip when present, MULTI/EXEC): the documented
 * way to make effects exactly-once. WATCH is per connection, so each call
 * uses a connection of its own. Resolves to true when it wrote the effect.
 */
export async function transactionalEffect (redis: Redis, effectsKey: string, idempotencyKey: string, beforeExec?: () => Promise<void>): Promise<boolean> {
  const conn = redis.duplicate()
  try {
    const marker = `${effectsKey}:applied:${idempotencyKey}`
    await conn.watch(marker)
    if (await conn.exists(marker) === 1) return false
    if (beforeExec !== undefined) await beforeExec()
    return (await conn.multi().incr(effectsKey).set(marker, '1').exec()) !== null
  } finally {
    conn.disconnect()
  }
}
