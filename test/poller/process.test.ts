import t from 'tap'
import type { Test } from 'tap'
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { safeJobId, type PollRunEvent, type WebhookEvent } from '../../worker/index.js'
import { pollKeys } from '../../core/lease.js'
import { publishEvents } from '../fixtures/fake-provider.mjs'
import { makeEvents, PREFIX, pollSetup, spawnPoller, until } from '../fixtures/poller-setup.js'

t.setTimeout(110_000)

interface FetchRecord { pid: number, runId: string, page: number, cursor: string, next: string, start: number, end: number }

async function records<T> (redis: Redis, key: string): Promise<T[]> {
  return (await redis.lrange(key, 0, -1)).map((s) => JSON.parse(s) as T)
}

async function jobIds (queue: Queue): Promise<string[]> {
  return (await queue.getJobs(['wait', 'active', 'delayed', 'completed', 'failed'])).map((j) => String(j?.id)).sort()
}

function idsOf (from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, k) => safeJobId('acme', `evt_${from + k}`)).sort()
}

/** Every fetch, in time order, starts at or after the cursor of the one before: the cursor never moved back. */
function assertNeverBackwards (t: Test, fetches: FetchRecord[]): void {
  const ordered = [...fetches].sort((a, b) => a.start - b.start)
  for (let i = 1; i < ordered.length; i++) {
    const prev = ordered[i - 1] as FetchRecord
    const cur = ordered[i] as FetchRecord
    if (Number(cur.cursor) < Number(prev.cursor)) t.fail(`fetch ${i} asked from ${cur.cursor} after a fetch from ${prev.cursor}`)
  }
  t.pass(`${ordered.length} fetches, cursors never decreasing`)
}

for (const point of ['fetch', 'save'] as const) {
  t.test(`a poller process SIGKILLed at a deterministic point (${point === 'fetch' ? 'page 3 fetched, not enqueued' : 'page 2 enqueued, cursor not saved'}), then restarted: nothing lost, nothing twice`, async (t) => {
    const { redis, queue, queueName, apiKey } = pollSetup(t, `kill-${point}`)
    await publishEvents(redis, apiKey, makeEvents(15))
    const base = `${PREFIX}:${queueName}:test:`
    const storeKey = point === 'save' ? `${base}store` : undefined
    const config = {
      queueName,
      apiKey,
      pageSize: 3,
      every: 300,
      leaseMs: 1000,
      signalKey: `${base}signal`,
      recordKey: `${base}fetches`,
      runsKey: `${base}runs`,
      storeKey
    }
    const readCursor = async (): Promise<string | null> => await redis.get(storeKey ?? pollKeys(PREFIX, queueName, 'acme').cursor)

    const first = spawnPoller(t, { ...config, ...(point === 'fetch' ? { killAtFetch: 3 } : { killAtSave: 2 }) })
    await first.ready
    await until(async () => await redis.get(config.signalKey) !== null, 15_000, 'the child to reach the kill point')
    first.kill('SIGKILL')
    t.equal(await first.exited, 'SIGKILL')

    const cursorAtKill = await readCursor()
    const enqueued = await jobIds(queue)
    if (point === 'fetch') {
      t.equal(cursorAtKill, '6', 'the cursor covers the two saved pages')
      t.same(enqueued, idsOf(0, 6), 'page 3 was fetched but never enqueued')
    } else {
      t.equal(cursorAtKill, '3', 'the cursor of page 2 was never saved')
      t.same(enqueued, idsOf(0, 6), 'page 2 was enqueued')
    }
    // The cursor never passes an event that is not in the queue.
    t.ok(idsOf(0, Number(cursorAtKill)).every((id) => enqueued.includes(id)))
    const receivedBefore = new Map((await queue.getJobs(['wait'])).map((j) => [j?.id, (j?.data as WebhookEvent).receivedAt]))

    const second = spawnPoller(t, config)
    await second.ready
    await until(async () => await readCursor() === '15', 20_000, 'the restarted poller to finish')
    second.kill('SIGTERM')
    t.equal(await second.exited, 0, 'closes cleanly on SIGTERM')

    t.same(await jobIds(queue), idsOf(0, 15), 'nothing lost, one job per change')
    for (const job of await queue.getJobs(['wait'])) {
      const before = receivedBefore.get(job?.id)
      if (before !== undefined) t.equal((job?.data as WebhookEvent).receivedAt, before, `${String(job?.id)}: the re-fetched duplicate added nothing`)
    }
    const fetches = await records<FetchRecord>(redis, config.recordKey)
    assertNeverBackwards(t, fetches)
    const restarted = fetches.filter((f) => f.pid === second.pid).sort((a, b) => a.start - b.start)
    t.equal(restarted[0]?.cursor, cursorAtKill, 'the restart re-fetches from the saved cursor')
  })
}

t.test('two poller processes with a short `every` and a slow page: their runs never overlap', async (t) => {
  const { redis, queue, queueName, apiKey } = pollSetup(t, 'two')
  await publishEvents(redis, apiKey, makeEvents(12))
  const base = `${PREFIX}:${queueName}:test:`
  // Runs of two 700 ms pages against `every` 200 ms and a 1 s lease: each run outlasts both.
  const config = { queueName, apiKey, pageSize: 2, delayMs: 700, maxPagesPerRun: 2, every: 200, leaseMs: 1000, recordKey: `${base}fetches`, runsKey: `${base}runs`, signalKey: `${base}signal` }
  const a = spawnPoller(t, config)
  const b = spawnPoller(t, config)
  await Promise.all([a.ready, b.ready])
  await until(async () => await redis.get(pollKeys(PREFIX, queueName, 'acme').cursor) === '12', 30_000, 'the provider to be drained')
  a.kill('SIGTERM')
  b.kill('SIGTERM')
  await Promise.all([a.exited, b.exited])

  const runs = await records<PollRunEvent & { pid: number }>(redis, config.runsKey)
  const held = runs.filter((r): r is Extract<PollRunEvent, { runId: string }> & { pid: number } => !('skipped' in r)).sort((x, y) => x.startedAt - y.startedAt)
  t.ok(held.length >= 3, `${held.length} runs`)
  t.ok(runs.some((r) => 'skipped' in r && r.skipped === 'busy'), 'a replica found the lease busy')
  for (let i = 1; i < held.length; i++) {
    const prev = held[i - 1]
    const cur = held[i]
    t.ok(Number(cur?.startedAt) >= Number(prev?.endedAt), `run ${i} starts after run ${i - 1} ended (${String(prev?.pid)} then ${String(cur?.pid)})`)
  }
  t.ok(held.every((r) => r.stopped === undefined), 'no run lost its lease')

  // The same from the user's side: the fetchChanges calls of different runs never interleave.
  const fetches = await records<FetchRecord>(redis, config.recordKey)
  const byRun = new Map<string, { start: number, end: number }>()
  for (const f of fetches) {
    const span = byRun.get(f.runId)
    byRun.set(f.runId, { start: Math.min(f.start, span?.start ?? f.start), end: Math.max(f.end, span?.end ?? f.end) })
  }
  const spans = [...byRun.values()].sort((x, y) => x.start - y.start)
  for (let i = 1; i < spans.length; i++) t.ok(Number(spans[i]?.start) >= Number(spans[i - 1]?.end), `fetch span ${i} after span ${i - 1}`)
  assertNeverBackwards(t, fetches)
  t.same(await jobIds(queue), idsOf(0, 12))
})
