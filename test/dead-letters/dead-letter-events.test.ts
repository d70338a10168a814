import t from 'tap'
import { EventEmitter } from 'node:events'
import { PassThrough, Readable } from 'node:stream'
import { Queue } from 'bullmq'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { main } from '../../bin/cli.js'
import { createDeadLetters } from '../../dead-letters/dead-letters.js'
import { DeadLetterStore } from '../../dead-letters/dead-letter-store.js'
import { PermanentError } from '../../core/hook-errors.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import { Reporter } from '../../worker/reporter.js'
import { DeadLetterSink } from '../../dead-letters/sink.js'
import { sample } from '../helpers/metrics.js'
import { testClient } from '../helpers/redis.js'
import { makeEvent, queueFixture, startWorker, waitFor, type QueueFixture } from '../helpers/worker.js'

// One dead letter per event: later failures update it, a replay says whether
// it really queued the event, and no failure of an event is ever dropped.
t.setTimeout(60_000)

function sinkOf (q: QueueFixture, client = q.redis): { store: DeadLetterStore, sink: DeadLetterSink } {
  const store = new DeadLetterStore(client, { queueName: q.queueName, prefix: q.prefix })
  const sink = new DeadLetterSink({
    store, client, reporter: new Reporter(pino({ level: 'silent' }), new EventEmitter()), includeStack: false, alertThreshold: 100, queueName: q.queueName
  })
  return { store, sink }
}

async function cliJson (argv: string[]): Promise<unknown> {
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (c) => { out += String(c) })
  const code = await main(argv, { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: { REDIS_URL: process.env.REDIS_URL ?? '' } })
  if (code !== 0) throw new Error(`exit code ${code}`)
  return JSON.parse(out)
}

t.test('a crash between the dead letter and the job failure, then a replay: the replay says nothing was queued, and the event is never lost', async (t) => {
  const q = queueFixture(t)
  const { store, sink } = sinkOf(q)
  t.teardown(async () => { await store.close() })
  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  // What a worker that died right after writing the dead letter leaves behind: the letter, and the job still in the queue.
  const job = await q.queue.add('webhook', event, eventJobOptions(jobId))
  await sink.fromAttempt({ job, event, stage: 'apply', err: new PermanentError('db says no'), attemptsMade: 1, firstAttemptAt: Date.now() })
  const [letter] = await store.list()
  t.equal(letter.id, jobId, 'the dead letter is keyed by the event job id')

  const first = await store.replay(letter.id)
  t.same(first, { id: letter.id, status: 'not-queued', jobId, jobState: 'waiting' }, 'the job was still there: nothing queued')
  t.equal(await store.count({ replayed: false }), 1, 'the letter stays pending')

  // The job left behind runs again and fails again.
  const handle = await startWorker(t, q, { apply: async () => { throw new PermanentError('db still says no') } })
  await waitFor(async () => await q.queue.getJob(jobId) === undefined, 10_000, 'the job failed and removed')
  const pending = await waitFor(async () => {
    const letters = await handle.deadLetters.list({ replayed: false })
    return letters.length === 1 && letters[0].error.message === 'db still says no' ? letters : undefined
  }, 5000, 'the failure recorded in the pending letter')
  t.equal(pending[0].id, jobId)
  t.equal(await handle.deadLetters.count(), 1, 'still one letter for the event')

  // Now the job is gone: a replay queues the event, and says so.
  const second = await handle.deadLetters.replay(letter.id)
  t.same(second, { id: letter.id, status: 'replayed', jobId })
  // It fails again: the same letter is pending again, never dropped.
  await waitFor(async () => (await handle.deadLetters.get(letter.id))?.replayedAt === undefined && await q.queue.getJob(jobId) === undefined, 10_000, 'pending again')
  t.equal(await handle.deadLetters.count({ replayed: false }), 1)
  t.equal(await handle.deadLetters.count(), 1)
})

t.test('a replay whose add is swallowed by a job of the same id says not-queued, for a job active or delayed as well', async (t) => {
  const q = queueFixture(t)
  const { store, sink } = sinkOf(q)
  t.teardown(async () => { await store.close() })
  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  const job = await q.queue.add('webhook', event, { ...eventJobOptions(jobId), delay: 60_000 })
  await sink.fromAttempt({ job, event, stage: 'hydrate', err: new Error('x'), attemptsMade: 3, firstAttemptAt: 1 })
  t.match(await store.replay(jobId), { status: 'not-queued', jobState: 'delayed' })
  t.equal(await store.count({ replayed: true }), 0)
  await job.remove()
  t.match(await store.replay(jobId), { status: 'replayed', jobId })
  t.equal((await q.queue.getJob(jobId))?.data.origin, 'replay')
  t.match(await store.replay(jobId), { status: 'already-replayed' })
})

t.test('a poison event delivered three times has one dead letter with three failures; a replay that fails again makes it pending again', async (t) => {
  const registry = new Registry()
  const q = queueFixture(t)
  const handle = await startWorker(t, q, {
    metrics: registry,
    queueMetrics: true,
    apply: async () => { throw new PermanentError('poison') }
  })
  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  for (let i = 1; i <= 3; i++) {
    await q.add(event)
    await waitFor(async () => handle.stats().deadLettered === i && await q.queue.getJob(jobId) === undefined, 10_000, `failure ${i}`)
  }
  const letters = await handle.deadLetters.list()
  t.equal(letters.length, 1, 'one letter for the event')
  const [letter] = letters
  t.match(letter, { id: jobId, jobId, stage: 'apply', failures: 3, error: { message: 'poison' } })
  t.equal(letter.history.length, 3)
  t.same(letter.history.map((f) => f.stage), ['apply', 'apply', 'apply'])
  t.ok(letter.history.every((f, i) => i === 0 || f.deadAt >= letter.history[i - 1].deadAt), 'each failure has its time, oldest first')
  t.equal(letter.firstDeadAt, letter.history[0].deadAt)
  t.equal(letter.deadAt, letter.history[2].deadAt)
  t.equal(await handle.deadLetters.count(), 1)
  t.equal(await handle.deadLetters.count({ replayed: false }), 1)
  t.equal(sample(await registry.metrics(), 'webhook_dead_letters', { queue: q.queueName }), 1, 'the gauge counts events')
  t.match(await cliJson(['dlq', 'list', '--queue', q.queueName, '--json']), { total: 1, pending: 1, letters: [{ id: jobId, failures: 3 }] })

  t.match(await handle.deadLetters.replay(jobId), { status: 'replayed' })
  await waitFor(async () => handle.stats().deadLettered === 4 && await q.queue.getJob(jobId) === undefined, 10_000, 'the replay failed')
  const again = await handle.deadLetters.get(jobId)
  t.match(again, { id: jobId, failures: 4 })
  t.equal(again?.replayedAt, undefined, 'pending again')
  t.equal(await handle.deadLetters.count(), 1)
  t.equal(await handle.deadLetters.count({ replayed: false }), 1)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // the gauges sample at most once a second
  t.equal(sample(await registry.metrics(), 'webhook_dead_letters', { queue: q.queueName }), 1)
  t.match(await cliJson(['dlq', 'list', '--queue', q.queueName, '--json']), { total: 1, pending: 1 })
})

t.test('concurrent writes of one event\'s failures: one letter, no failure lost; a repeat of one failure is not counted twice', async (t) => {
  const q = queueFixture(t)
  const { store, sink } = sinkOf(q)
  const other = sinkOf(q, testClient(t, q.url)) // another worker: its own connection
  t.teardown(async () => { await store.close(); await other.store.close() })
  const event = makeEvent()
  const job = await q.queue.add('webhook', event, eventJobOptions(safeJobId(event.source, event.id)))
  const failure = (attemptsMade: number): Parameters<DeadLetterSink['fromAttempt']>[0] => ({ job, event, stage: 'apply', err: new Error(`failure ${attemptsMade}`), attemptsMade, firstAttemptAt: 1 })
  await Promise.all(Array.from({ length: 12 }, async (_, i) => await (i % 2 === 0 ? sink : other.sink).fromAttempt(failure(i + 1))))
  t.equal(await store.count(), 1)
  const [letter] = await store.list()
  t.equal(letter.failures, 12)
  // The same failure written again (two sweeps of one failed job): updated, not counted.
  await Promise.all([sink.fromAttempt(failure(12)), other.sink.fromAttempt(failure(12))])
  t.equal((await store.get(letter.id))?.failures, 12)
  // After a replay, a late repeat of a failure recorded before it changes nothing: the letter stays replayed.
  await job.remove()
  t.match(await store.replay(letter.id), { status: 'replayed' })
  await sink.fromAttempt(failure(12))
  t.match(await store.get(letter.id), { failures: 12, replayedAt: Number })
  t.equal(await store.count({ replayed: false }), 0)
})

t.test('a dead letter written in the old form (one per failure) still lists, replays and purges', async (t) => {
  const q = queueFixture(t)
  const dl = createDeadLetters({ connection: q.url, queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await dl.close() })
  const dlq = new Queue(`${q.queueName}-dlq`, { connection: q.redis, prefix: q.prefix })
  t.teardown(async () => { await dlq.close() })
  const events = [makeEvent(), makeEvent()]
  const ids: string[] = []
  for (const event of events) {
    const jobId = safeJobId(event.source, event.id)
    const id = `${jobId}.1700000000000`
    ids.push(id)
    await dlq.add('dead-letter', {
      event, stage: 'hydrate', error: { name: 'Error', message: 'old' }, attemptsMade: 2, firstAttemptAt: 1699999999000, deadAt: 1700000000000, jobId
    }, { jobId: id, removeOnComplete: false, removeOnFail: false })
  }
  const listed = await dl.list()
  t.same(listed.map((l) => l.id), ids)
  t.match(listed[0], { stage: 'hydrate', failures: 1, firstDeadAt: 1700000000000, history: [{ deadAt: 1700000000000, stage: 'hydrate', attemptsMade: 2 }] })
  t.same((await dl.page()).letters.map((l) => l.id), ids, 'paged too')
  t.match(await dl.replay(ids[0]), { status: 'replayed', jobId: safeJobId(events[0].source, events[0].id) })
  t.equal(await dl.count({ replayed: true }), 1)
  t.equal(await dl.purge({ replayed: false }), 1)
  t.equal(await dl.purge(), 1)
  t.equal(await dl.count(), 0)
})

t.test('purging replayed letters while their events fail again never deletes a letter that is pending again', async (t) => {
  const q = queueFixture(t)
  const { store } = sinkOf(q)
  const other = sinkOf(q, testClient(t, q.url))
  t.teardown(async () => { await store.close(); await other.store.close() })
  const failure = (i: number, jobTimestamp: number): Parameters<DeadLetterStore['record']>[0] => ({
    jobId: `acme.again-${i}`, jobTimestamp, event: makeEvent({ id: `again-${i}` }), stage: 'apply', error: { name: 'Error', message: 'no' }, attemptsMade: 1, firstAttemptAt: 1, deadAt: Date.now()
  })
  for (let i = 0; i < 100; i++) await store.record(failure(i, 1))
  const replayed = await store.replay({}) as unknown[]
  t.equal(replayed.length, 100)
  // The replayed jobs fail again (from the newest letter down) while the replayed letters are purged.
  const [purged] = await Promise.all([
    store.purge({ replayed: true }),
    (async () => { for (let i = 99; i >= 0; i--) await other.store.record(failure(i, 2)) })()
  ])
  t.comment(`${purged} purged before their event failed again`)
  t.equal(await store.count({ replayed: false }), 100, 'every event that failed again has a pending letter')
  t.equal(await store.count(), 100)
})

t.test('replaying a letter whose event was applied since under its job id: the completed job makes way, and the done marker skips the replay', async (t) => {
  const q = queueFixture(t)
  let broken = true
  let applied = 0
  const handle = await startWorker(t, q, {
    apply: async () => {
      if (broken) throw new PermanentError('no')
      applied++
    }
  })
  const event = makeEvent()
  const jobId = safeJobId(event.source, event.id)
  await q.add(event)
  await waitFor(async () => handle.stats().deadLettered === 1 && await q.queue.getJob(jobId) === undefined, 10_000, 'dead-lettered')
  broken = false
  await q.add(event) // a redelivery under the same job id, applied
  await waitFor(async () => applied === 1 && await q.queue.getJobState(jobId) === 'completed', 10_000, 'the redelivery applied')
  t.same(await handle.deadLetters.replay(jobId), { id: jobId, status: 'replayed', jobId })
  await waitFor(() => handle.stats().duplicates === 1, 10_000, 'the replayed job ran and was skipped as done')
  t.equal(applied, 1)
  t.match(await handle.deadLetters.get(jobId), { failures: 1, replayedAt: Number })
})
