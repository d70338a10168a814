import t from 'tap'
import type { Test } from 'tap'
import type { Queue } from 'bullmq'
import {
  createWebhookWorker, safeJobId, JOB_NAME, type PollRunEvent, type WebhookEvent, type WebhookWorkerHandle, type WorkerContext
} from '../../worker/index.js'
import { eventJobOptions } from '../../core/job-options.js'
import { pollKeys } from '../../core/lease.js'
import { eventsApi, publishEvents, putObject, updatedSinceApi } from '../fixtures/fake-provider.mjs'
import { makeEvents, PREFIX, pollSetup, spawnPoller, until } from '../fixtures/poller-setup.js'
import { redisUrl } from '../helpers/redis.js'

t.setTimeout(110_000)

interface Applied { counts: Map<string, number>, origins: Map<string, Set<string>>, total: () => number }

/** A webhook worker on the queue whose apply counts effects per event id. */
function startWorker (t: Test, queueName: string): { handle: WebhookWorkerHandle, applied: Applied } {
  const counts = new Map<string, number>()
  const origins = new Map<string, Set<string>>()
  const handle = createWebhookWorker({
    connection: redisUrl(),
    queueName,
    prefix: PREFIX,
    concurrency: 4,
    lockDuration: 1000,
    stalledInterval: 500,
    apply: async (_state: unknown, event: WebhookEvent, ctx: WorkerContext) => {
      counts.set(event.id, (counts.get(event.id) ?? 0) + 1)
      origins.set(event.id, (origins.get(event.id) ?? new Set()).add(ctx.origin))
    }
  })
  t.teardown(() => handle.close({ timeoutMs: 2000 }))
  const total = (): number => [...counts.values()].reduce((a, b) => a + b, 0)
  return { handle, applied: { counts, origins, total } }
}

/** A webhook delivery as the plugin enqueues it: the same job options and job id mapping. */
async function deliverWebhook (queue: Queue, id: string, payload: Record<string, unknown>): Promise<void> {
  const event: WebhookEvent = { v: 1, id, source: 'acme', type: 'thing.updated', payload, headers: {}, receivedAt: Date.now(), origin: 'webhook' }
  await queue.add(JOB_NAME, event, eventJobOptions(safeJobId('acme', id)))
}

/** Waits until nothing is left to process, then a little longer so a late duplicate would show. */
async function settle (queue: Queue, applied: Applied, expected: number): Promise<void> {
  await until(() => applied.total() >= expected, 20_000, `${expected} applies`)
  await until(async () => {
    const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized')
    return c.wait + c.active + c.delayed + c.prioritized === 0
  }, 10_000, 'an empty queue')
  await new Promise((resolve) => setTimeout(resolve, 700))
}

function assertOnce (t: Test, applied: Applied, ids: string[]): void {
  t.same([...applied.counts.keys()].sort(), [...ids].sort(), 'every change applied')
  const twice = [...applied.counts].filter(([, n]) => n !== 1)
  t.same(twice, [], 'none applied twice')
}

t.test('all webhooks dropped: the poller alone delivers every change, each applied once', async (t) => {
  const { redis, queue, queueName, apiKey, poller } = pollSetup(t, 'e2e-dropped')
  const { applied } = startWorker(t, queueName)
  await publishEvents(redis, apiKey, makeEvents(12))
  const p = poller({ every: 250, runOnStart: true, fetchChanges: eventsApi(redis, apiKey, { pageSize: 4 }) })
  await settle(queue, applied, 12)
  await publishEvents(redis, apiKey, makeEvents(8, 12))
  await settle(queue, applied, 20)
  assertOnce(t, applied, makeEvents(20).map((e) => e.id))
  t.ok([...applied.origins.values()].every((o) => o.size === 1 && o.has('poll')), 'origin poll')
  t.equal((await p.status()).cursor, '20')
})

t.test('webhooks and poller overlapping, provider event ids (an events list like Stripe\'s): each change applied once', async (t) => {
  const { redis, queue, queueName, apiKey, poller } = pollSetup(t, 'e2e-events')
  const { handle, applied } = startWorker(t, queueName)
  const events = makeEvents(20)
  await publishEvents(redis, apiKey, events)
  // Webhooks for the even events race the poller, some before it runs and some while it pages.
  const racing = (async () => {
    for (const e of events.filter((_, i) => i % 2 === 0)) {
      await deliverWebhook(queue, e.id, e.payload)
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
  })()
  let polled = 0
  const p = poller({ every: 250, runOnStart: true, fetchChanges: eventsApi(redis, apiKey, { pageSize: 3, delayMs: 50 }) })
  p.on('run', (r: PollRunEvent) => { if (!('skipped' in r)) polled += r.events })
  await racing
  await settle(queue, applied, 20)
  assertOnce(t, applied, events.map((e) => e.id))
  t.ok(polled >= 20, `the poller delivered all ${polled} changes, the webhooks 10 of them again`)

  // Later redeliveries, after the completed jobs are gone (retention over): the done markers absorb them.
  const duplicatesBefore = handle.stats().duplicates
  await queue.clean(0, 1000, 'completed')
  for (const e of events) await deliverWebhook(queue, e.id, e.payload)
  await until(() => handle.stats().duplicates - duplicatesBefore === 20, 10_000, 'the redeliveries to be skipped')
  assertOnce(t, applied, events.map((e) => e.id))
})

t.test('webhooks and poller overlapping, objectId@updatedAt ids (an updated_since API): each change applied once', async (t) => {
  const { redis, queue, queueName, apiKey, poller } = pollSetup(t, 'e2e-updated')
  const { applied } = startWorker(t, queueName)
  // Three versions of five objects; `updatedAt` grows across all writes, as a provider clock does.
  const expected = new Set<string>()
  const finals = new Map<string, string>()
  let deliveries = 0
  const p = poller({ every: 200, runOnStart: true, initialCursor: '0', fetchChanges: updatedSinceApi(redis, apiKey, { pageSize: 2 }) })
  p.on('run', (r: PollRunEvent) => { if (!('skipped' in r)) deliveries += r.events })
  let clock = 1_000
  for (let version = 1; version <= 3; version++) {
    for (let o = 1; o <= 5; o++) {
      const object = { id: `obj_${o}`, updatedAt: clock++, version }
      await putObject(redis, apiKey, object)
      const id = `${object.id}@${object.updatedAt}`
      finals.set(object.id, id)
      // The provider's webhook for this change carries the same object and timestamp; every third is dropped.
      if ((o + version) % 3 !== 0) {
        await deliverWebhook(queue, id, object)
        deliveries++
        expected.add(id)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  for (const id of finals.values()) expected.add(id)
  await until(() => [...finals.values()].every((id) => applied.counts.has(id)), 20_000, 'the latest version of every object')
  await settle(queue, applied, expected.size)
  const polledOrPushed = [...applied.counts.keys()]
  t.ok(polledOrPushed.every((id) => /^obj_\d@\d+$/.test(id)))
  // The poller only sees the versions current when it looks; every one it applied is a real version.
  const allVersions = new Set(Array.from({ length: 15 }, (_, k) => `obj_${(k % 5) + 1}@${1000 + k}`))
  t.ok(polledOrPushed.every((id) => allVersions.has(id)))
  t.ok([...expected].every((id) => applied.counts.get(id) === 1), 'every pushed version and every latest version applied once')
  t.same([...applied.counts].filter(([, n]) => n !== 1), [], 'none applied twice, though the inclusive listing repeats its boundary')
  t.ok(deliveries > applied.total(), `${deliveries} deliveries from webhooks and polls, ${applied.total()} applies`)
})

t.test('poller processes SIGKILLed mid-page twice, then restarted, with the worker applying: nothing lost, nothing applied twice', async (t) => {
  const { redis, queue, queueName, apiKey } = pollSetup(t, 'e2e-kill')
  const { applied } = startWorker(t, queueName)
  await publishEvents(redis, apiKey, makeEvents(15))
  const base = `${PREFIX}:${queueName}:test:`
  const config = {
    queueName,
    apiKey,
    pageSize: 3,
    every: 300,
    leaseMs: 1000,
    signalKey: `${base}signal`,
    recordKey: `${base}fetches`,
    runsKey: `${base}runs`
  }
  for (const [k, kill] of [[2, { killAtFetch: 2 }], [4, { killAtFetch: 4 }]] as const) {
    const child = spawnPoller(t, { ...config, ...kill })
    await child.ready
    await until(async () => await redis.get(config.signalKey) === `fetch:${k}`, 15_000, `kill point ${k}`)
    child.kill('SIGKILL')
    await child.exited
    await redis.del(config.signalKey)
  }
  const cursorKey = pollKeys(PREFIX, queueName, 'acme').cursor
  const last = spawnPoller(t, config)
  await last.ready
  await until(async () => await redis.get(cursorKey) === '15', 20_000, 'the last poller to finish')
  await settle(queue, applied, 15)
  assertOnce(t, applied, makeEvents(15).map((e) => e.id))
  last.kill('SIGTERM')
  t.equal(await last.exited, 0)
})
