import t, { type Test } from 'tap'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { safeJobId } from '../../core/job-id.js'
import { queueKeyBase } from '../../core/keys.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { makeEvent, queueFixture, sleep, startWorker, transactionalEffect, waitFor, type QueueFixture } from '../helpers/worker.js'

// Worker processes that are killed or frozen mid-attempt, and a worker in this
// process that must recover their events. Every worker uses short locks.
t.setTimeout(120_000)

const FIXTURE = fileURLToPath(new URL('../fixtures/webhook-worker-child.mjs', import.meta.url))
const LOCKS = { lockDuration: 1000, stalledInterval: 500 }

interface ChildMessage {
  type: string
  eventId?: string
  applied?: boolean
  report?: AttemptReport
}

interface Child {
  process: ChildProcess
  messages: ChildMessage[]
  waitFor: (type: string, timeoutMs?: number) => Promise<ChildMessage>
  kill: () => Promise<void>
}

async function spawnWorker (t: Test, q: QueueFixture, mode: string, extra: Record<string, unknown> = {}): Promise<Child> {
  const config = { url: q.url, queueName: q.queueName, maxStalledCount: 2, ...LOCKS, mode, ...extra }
  const child = fork(FIXTURE, [], {
    env: { ...process.env, NODE_OPTIONS: '', WORKER_CHILD_CONFIG: JSON.stringify(config) },
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const messages: ChildMessage[] = []
  child.on('message', (m: ChildMessage) => messages.push(m))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  const handle: Child = {
    process: child,
    messages,
    waitFor: async (type, timeoutMs = 10_000) => await waitFor(() => messages.find((m) => m.type === type), timeoutMs, `child message ${type}`),
    kill
  }
  await handle.waitFor('ready')
  return handle
}

t.test('a worker SIGKILLed between claim and commit: the event is applied after recovery, never lost', async (t) => {
  const q = queueFixture(t)
  const child = await spawnWorker(t, q, 'hang-in-apply')
  const event = makeEvent()
  await q.add(event)
  await child.waitFor('in-apply')
  await child.kill()

  const applied: string[] = []
  const handle = await startWorker(t, q, { apply: async (_s, e) => { applied.push(e.id) } })
  await waitFor(() => applied.length === 1, 15_000, 'applied after recovery')
  await sleep(500)
  t.same(applied, [event.id])
  const job = await q.queue.getJob(safeJobId(event.source, event.id))
  await waitFor(async () => await job?.getState() === 'completed', 5000, 'job completed')
  t.equal(await q.redis.exists(`${queueKeyBase(q.prefix, q.queueName)}done:${safeJobId(event.source, event.id)}`), 1)
  t.equal(await handle.deadLetters.count(), 0)
})

t.test('a job that stalls past maxStalledCount lands in the dead-letter queue (stage stalled), never only in the failed set', async (t) => {
  const q = queueFixture(t)
  const event = makeEvent()
  const first = await spawnWorker(t, q, 'hang-in-apply', { maxStalledCount: 1 })
  await q.add(event)
  await first.waitFor('in-apply')
  await first.kill()
  // A second worker recovers the stalled job (first stall), then dies in apply too.
  const second = await spawnWorker(t, q, 'hang-in-apply', { maxStalledCount: 1 })
  await second.waitFor('in-apply', 15_000)
  await second.kill()

  let applied = 0
  const handle = await startWorker(t, q, { maxStalledCount: 1, apply: async () => { applied++ } })
  const [letter] = await waitFor(async () => {
    const letters = await handle.deadLetters.list()
    return letters.length === 1 ? letters : undefined
  }, 15_000, 'dead letter')
  t.match(letter, { stage: 'stalled', jobId: safeJobId(event.source, event.id), event: { id: event.id }, error: { message: /stalled more than allowable limit/ } })
  t.ok(letter.firstAttemptAt <= letter.deadAt)
  t.equal(await q.queue.getFailedCount(), 0, 'not left in the failed set')
  t.equal(await q.queue.getJob(safeJobId(event.source, event.id)), undefined, 'the job is gone, so a redelivery is processed')
  t.equal(applied, 0)

  await q.add(event)
  await waitFor(() => applied === 1, 5000, 'a redelivery after the dead letter is applied')
})

t.test('a worker frozen (SIGSTOP) before apply while another takes over does not apply after resuming', async (t) => {
  const q = queueFixture(t)
  const appliesKey = `${queueKeyBase(q.prefix, q.queueName)}test-applies`
  const child = await spawnWorker(t, q, 'pause-before-apply', { pauseMs: 300, appliesKey })
  const event = makeEvent()
  await q.add(event)
  await child.waitFor('hydrated')
  child.process.kill('SIGSTOP')

  await startWorker(t, q, { apply: async () => { await q.redis.incr(appliesKey) } })
  await waitFor(async () => await q.redis.get(appliesKey) === '1', 15_000, 'the other worker applied')
  child.process.kill('SIGCONT')
  const lost = await waitFor(() => child.messages.find((m) => m.type === 'attempt' && m.report?.outcome === 'claim-lost'), 10_000, 'claim-lost report')
  t.match(lost.report, { eventId: event.id, claim: 'claimed', stage: 'apply' })
  await sleep(500)
  t.equal(await q.redis.get(appliesKey), '1', 'applied once, by the worker that held the claim')
  t.notOk(child.messages.some((m) => m.type === 'applied'), 'the resumed worker never started apply')
})

t.test('a worker frozen during a transactional apply: one effect, and its commit is refused', async (t) => {
  const q = queueFixture(t)
  const effectsKey = `${queueKeyBase(q.prefix, q.queueName)}test-effects`
  const child = await spawnWorker(t, q, 'transactional-pause', { pauseMs: 300, effectsKey })
  const event = makeEvent()
  await q.add(event)
  await child.waitFor('in-apply')
  child.process.kill('SIGSTOP')

  const results: boolean[] = []
  await startWorker(t, q, {
    apply: async (_s, _e, ctx) => { results.push(await transactionalEffect(q.redis, effectsKey, ctx.idempotencyKey)) }
  })
  await waitFor(() => results.length === 1, 15_000, 'the other worker applied')
  child.process.kill('SIGCONT')
  const returned = await child.waitFor('apply-returned')
  t.equal(returned.applied, false, 'the resumed transaction was aborted by the watched key')
  await waitFor(() => child.messages.find((m) => m.type === 'attempt' && m.report?.outcome === 'claim-lost'), 10_000, 'commit refused')
  t.same(results, [true])
  t.equal(await q.redis.get(effectsKey), '1', 'one effect')
})

t.test('transactional apply with a worker killed after its effect and before its commit: zero double effects', async (t) => {
  const q = queueFixture(t)
  const effectsKey = `${queueKeyBase(q.prefix, q.queueName)}test-effects`
  const child = await spawnWorker(t, q, 'transactional-hang-after-effect', { effectsKey })
  const events = [makeEvent(), makeEvent(), makeEvent()]
  for (const e of events) await q.add(e)
  await waitFor(() => child.messages.filter((m) => m.type === 'effect-done').length === 3, 10_000, 'three effects in the child')
  await child.kill()

  const results: boolean[] = []
  const handle = await startWorker(t, q, {
    apply: async (_s, _e, ctx) => { results.push(await transactionalEffect(q.redis, effectsKey, ctx.idempotencyKey)) }
  })
  await waitFor(() => results.length === 3, 15_000, 'all three re-run after recovery')
  await waitFor(async () => await q.queue.getCompletedCount() === 3, 5000, 'all completed')
  t.same(results, [false, false, false], 'each re-run found its effect already written')
  t.equal(await q.redis.get(effectsKey), '3', 'three events, three effects')
  t.equal(handle.stats().applied, 3)
})
