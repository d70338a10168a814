import t from 'tap'
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { createDeadLetters } from '../../dead-letters/dead-letters.js'
import { DeadLetterStore } from '../../dead-letters/dead-letter-store.js'
import { PermanentError } from '../../core/hook-errors.js'
import { safeJobId } from '../../core/job-id.js'
import { eventJobOptions } from '../../core/job-options.js'
import type { DeadLetterAlert } from '../../worker/reporter.js'
import { Reporter } from '../../worker/reporter.js'
import { DeadLetterSink } from '../../dead-letters/sink.js'
import { EventEmitter } from 'node:events'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

t.test('replay after fixing hydrate applies once; a second replay is already-replayed; a forced replay applies again', async (t) => {
  const q = queueFixture(t)
  let broken = true
  const applied: Array<{ id: string, origin: string }> = []
  const handle = await startWorker(t, q, {
    hydrate: async (event) => {
      if (broken) throw new PermanentError('bug in hydrate')
      return event.payload
    },
    apply: async (_s, event, ctx) => { applied.push({ id: event.id, origin: ctx.origin }) }
  })
  const event = makeEvent()
  await q.add(event)
  const [letter] = await waitFor(async () => {
    const letters = await handle.deadLetters.list()
    return letters.length === 1 ? letters : undefined
  }, 5000, 'dead letter')
  t.match(letter, { stage: 'hydrate', jobId: safeJobId(event.source, event.id), error: { name: 'PermanentError', message: 'bug in hydrate' }, event: { id: event.id } })
  t.ok(letter.firstAttemptAt <= letter.deadAt)
  t.equal(letter.replayedAt, undefined)

  broken = false
  const first = await handle.deadLetters.replay(letter.id)
  t.same(first, { id: letter.id, status: 'replayed', jobId: safeJobId(event.source, event.id) })
  await waitFor(() => applied.length === 1, 5000, 'replayed apply')
  t.same(applied, [{ id: event.id, origin: 'replay' }])

  t.same(await handle.deadLetters.replay(letter.id), { id: letter.id, status: 'already-replayed' })
  await sleep(500)
  t.equal(applied.length, 1, 'replaying twice still applies once')
  const replayed = await handle.deadLetters.get(letter.id)
  t.type(replayed?.replayedAt, 'number')
  t.equal(await handle.deadLetters.count({ replayed: false }), 0)
  t.equal(await handle.deadLetters.count({ replayed: true }), 1)

  // Another event fails, then a redelivery applies it: its dead letter is pending but the event is done.
  const redelivered = makeEvent()
  broken = true
  await q.add(redelivered)
  const second = await waitFor(async () => (await handle.deadLetters.list({ replayed: false }))[0], 5000, 'second dead letter')
  t.not(second.id, letter.id)
  broken = false
  await q.add({ ...redelivered, origin: 'poll' }, 'acme.redelivery')
  await waitFor(() => applied.length === 2, 5000, 'redelivery applied')
  t.match(await handle.deadLetters.replay(second.id), { status: 'replayed' })
  await waitFor(() => handle.stats().duplicates === 1, 5000, 'unforced replay skipped as done')
  t.equal(applied.length, 2, 'an unforced replay of an applied event is skipped')

  const third = makeEvent()
  broken = true
  await q.add(third)
  await waitFor(async () => await handle.deadLetters.count({ replayed: false }) === 1, 5000, 'third dead letter')
  broken = false
  await q.add(third, 'acme.third-redelivery')
  await waitFor(() => applied.length === 3, 5000, 'third applied')
  const forced = await handle.deadLetters.replay({ eventId: third.id }, { force: true })
  t.equal(forced.length, 1, 'a filter replays only letters not replayed yet')
  t.equal(forced[0].status, 'replayed')
  await waitFor(() => applied.length === 4, 5000, 'forced apply')
  t.same(applied[3], { id: third.id, origin: 'replay' }, 'a forced replay applies an applied event again')
})

t.test('list, get, count and purge with filters and pages; usable without a worker', async (t) => {
  const q = queueFixture(t)
  const dl = createDeadLetters({ connection: q.url, queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await dl.close() })
  const handle = await startWorker(t, q, {
    hydrate: async (event) => {
      if (event.type === 'gone') throw new PermanentError('hydrate says no')
      return event.payload
    },
    apply: async () => { throw new PermanentError('apply says no') }
  })
  const events = [
    makeEvent({ type: 'gone' }), makeEvent({ type: 'gone', source: 'other' }), makeEvent(), makeEvent(), makeEvent()
  ]
  for (const e of events) await q.add(e)
  await waitFor(async () => await dl.count() === 5, 5000, 'five dead letters')
  await handle.close()

  t.equal(await dl.count({ stage: 'hydrate' }), 2)
  t.equal(await dl.count({ stage: ['apply', 'decode'] }), 3)
  t.equal(await dl.count({ source: 'other' }), 1)
  t.equal(await dl.count({ type: 'gone', source: 'acme' }), 1)
  t.equal(await dl.count({ deadAfter: Date.now() + 60_000 }), 0)
  t.equal(await dl.count({ deadBefore: Date.now() + 60_000 }), 5)
  const all = await dl.list()
  t.same(all.map((l) => l.event.id), events.map((e) => e.id), 'oldest first')
  const page = await dl.list({}, { offset: 1, limit: 2 })
  t.same(page.map((l) => l.id), all.slice(1, 3).map((l) => l.id))
  const first = await dl.page({}, { limit: 2 })
  t.same(first.letters.map((l) => l.id), all.slice(0, 2).map((l) => l.id))
  const rest = await dl.page({}, { after: first.next, limit: 10 })
  t.same(rest.letters.map((l) => l.id), all.slice(2).map((l) => l.id))
  t.equal(rest.next, undefined, 'the last page has no next')
  t.same((await dl.page({ stage: 'hydrate' })).letters.map((l) => l.id), all.slice(0, 2).map((l) => l.id))
  t.same(await dl.get(all[0].id), all[0])
  t.equal(await dl.get('nope.1'), undefined)
  t.same(await dl.replay('nope.1'), { id: 'nope.1', status: 'not-found' })

  t.equal(await dl.purge({ stage: 'hydrate' }), 2)
  t.equal(await dl.count(), 3)
  t.equal(await dl.purge(), 3)
  t.equal(await dl.count(), 0)

  t.ok(await dl.list({}, { limit: 0 }).catch((err: unknown) => err) instanceof TypeError, 'bad arguments are TypeErrors')
  await t.rejects(dl.list({}, { limit: 0 }), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.list({}, { offset: -1 }), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.page({}, { after: 'acme.1' }), { code: 'WEBHOOK_INVALID_OPTION', message: /Expected `cursor.after` to be the `next` of a previous page/ })
  await t.rejects(dl.page({}, { limit: 1001 }), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.page(null as unknown as object), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.page({}, 'x' as unknown as object), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.get(''), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.replay('x.1', { force: 'yes' as unknown as boolean }), { code: 'WEBHOOK_INVALID_OPTION' })
  await t.rejects(dl.replay(42 as unknown as string), { code: 'WEBHOOK_INVALID_OPTION' })
  t.throws(() => createDeadLetters({ connection: 42 as unknown as string }), { code: 'WEBHOOK_INVALID_OPTION' })
  t.throws(() => createDeadLetters({ connection: q.url, queueName: 'a:b' }), { code: 'WEBHOOK_INVALID_OPTION' })
  t.throws(() => createDeadLetters(null as unknown as { connection: string }), { code: 'WEBHOOK_INVALID_OPTION' })
})

t.test('a failure written twice (a crash between the dead letter and the job failure) is one failure of one letter', async (t) => {
  const q = queueFixture(t)
  const store = new DeadLetterStore(q.redis, { queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await store.close() })
  const sink = new DeadLetterSink({
    store, client: q.redis, reporter: new Reporter(pino({ level: 'silent' }), new EventEmitter()), includeStack: true, alertThreshold: 10, queueName: q.queueName
  })
  const event = makeEvent()
  const job = await q.queue.add('webhook', event, eventJobOptions(safeJobId(event.source, event.id)))
  const failure = { job, event, stage: 'apply' as const, err: Object.assign(new Error('boom'), { code: 'E_DB', statusCode: 503 }), attemptsMade: 3, firstAttemptAt: 1 }
  await sink.fromAttempt(failure)
  await sink.fromAttempt(failure)
  t.equal(await store.count(), 1)
  const [letter] = await store.list()
  t.equal(letter.id, String(job.id))
  t.equal(letter.failures, 1)
  t.match(letter.error, { name: 'Error', message: 'boom', code: 'E_DB', status: 503, stack: /Error: boom/ })
  t.notOk('stack' in letter.history[0].error, 'the history keeps no stacks')
})

t.test('the sweeper moves failed jobs that never reached the dead-letter queue, including a job that stalled past the limit', async (t) => {
  t.setTimeout(60_000)
  const q = queueFixture(t)
  // A plain BullMQ worker that never finishes and never renews its lock: its job stalls twice and BullMQ fails it.
  // Its own connection, cut after close: a forced close does not stop a fetch already in flight.
  const stallerConnection = new Redis(q.url, { maxRetriesPerRequest: null })
  const staller = new Worker(q.queueName, async () => await new Promise(() => {}), {
    connection: stallerConnection, prefix: q.prefix, lockDuration: 1000, stalledInterval: 500, maxStalledCount: 1, skipLockRenewal: true, concurrency: 3
  })
  staller.on('error', () => {})
  const stalled = makeEvent()
  await q.add(stalled)
  await waitFor(async () => await q.queue.getFailedCount() === 1, 20_000, 'a job failed by the stall limit')
  await staller.close(true)
  stallerConnection.disconnect()
  // A job failed by an older worker with our stage prefix, and one with an unknown reason.
  const failer = new Worker(q.queueName, async (job) => { throw new Error(job.data.id === 'legacy' ? 'plain failure' : '[apply] db down') }, {
    connection: q.redis, prefix: q.prefix, autorun: false
  })
  failer.on('error', () => {})
  await q.queue.add('webhook', makeEvent({ id: 'legacy' }), { jobId: 'acme.legacy' })
  await q.queue.add('webhook', makeEvent({ id: 'prefixed' }), { jobId: 'acme.prefixed' })
  failer.run().catch(() => {})
  await waitFor(async () => await q.queue.getFailedCount() === 3, 10_000, 'three failed jobs')
  await failer.close()

  const handle = await startWorker(t, q, { maxStalledCount: 1, apply: async () => {} })
  await waitFor(async () => await handle.deadLetters.count() === 3, 10_000, 'swept into the dead-letter queue')
  t.equal(await q.queue.getFailedCount(), 0, 'nothing is left only in the failed set')
  t.match(await handle.deadLetters.list({ eventId: stalled.id }), [{ stage: 'stalled', error: { message: /stalled more than allowable limit/ } }])
  t.match(await handle.deadLetters.list({ eventId: 'legacy' }), [{ stage: 'internal', error: { message: 'plain failure' } }])
  t.match(await handle.deadLetters.list({ eventId: 'prefixed' }), [{ stage: 'apply', error: { message: 'db down' } }])
})

t.test('deadLetterAlert fires when pending dead letters reach the threshold and re-arms below half of it', async (t) => {
  const q = queueFixture(t)
  const alerts: DeadLetterAlert[] = []
  const handle = await startWorker(t, q, {
    deadLetters: { alertThreshold: 3 },
    apply: async () => { throw new PermanentError('no') }
  })
  handle.on('deadLetterAlert', (a) => alerts.push(a))
  for (let i = 0; i < 4; i++) await q.add(makeEvent())
  await waitFor(async () => await handle.deadLetters.count() === 4, 5000, 'four dead letters')
  await sleep(200)
  t.equal(alerts.length, 1, 'fired once at the threshold')
  t.match(alerts[0], { queueName: q.queueName, threshold: 3 })
  t.ok(alerts[0].count >= 3)
  t.equal(await handle.deadLetters.purge(), 4)
  await q.add(makeEvent())
  await waitFor(async () => await handle.deadLetters.count() === 1, 5000, 'one dead letter')
  await sleep(200)
  t.equal(alerts.length, 1, 'no alert below the threshold')
  await q.add(makeEvent())
  await q.add(makeEvent())
  await waitFor(() => alerts.length === 2, 5000, 'second alert after re-arming')
  t.equal(alerts[1].count, 3)
  t.equal(handle.stats().deadLettered, 7)
})

t.test('replaying an undecodable dead letter queues its raw data again under its job id', async (t) => {
  const q = queueFixture(t)
  const handle = await startWorker(t, q, { apply: async () => {} })
  await q.queue.add('webhook', { v: 2, id: 'future' }, eventJobOptions('acme.future'))
  await q.queue.add('webhook', { v: 3 })
  await waitFor(async () => await handle.deadLetters.count() === 2, 5000, 'dead letters')
  const results = await handle.deadLetters.replay({ stage: 'decode' })
  t.same(results.map((r) => r.status), ['replayed', 'replayed'])
  // Still undecodable for this worker: the job under its id fails again into the same letter, pending
  // again; the job BullMQ had numbered is queued under a new number, a job (and letter) of its own.
  await waitFor(async () => await handle.deadLetters.count({ replayed: false }) === 2, 5000, 'dead-lettered again')
  t.equal(await handle.deadLetters.count({ replayed: true }), 1)
  t.match(await handle.deadLetters.get('acme.future'), { failures: 2 })
})
