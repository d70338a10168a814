import { EventEmitter } from 'node:events'
import t from 'tap'
import { pino } from 'pino'
import { HydrationGate, hydrationKeys, HYDRATION_SCRIPTS, LOCAL_WAIT_MS } from '../../worker/hydration-gate.js'
import { queueKeyBase } from '../../core/keys.js'
import { Postponed, postponedDelayMs } from '../../worker/postponed.js'
import { Reporter, type WebhookWorkerEvents } from '../../worker/reporter.js'
import { loadScripts } from '../../core/scripts.js'
import { queueFixture, sleep, type QueueFixture } from '../helpers/worker.js'

async function gateFor (q: QueueFixture, limit?: { max: number, duration: number }): Promise<{ gate: HydrationGate, reporter: Reporter, events: EventEmitter<WebhookWorkerEvents> }> {
  await loadScripts(q.redis, HYDRATION_SCRIPTS)
  const events = new EventEmitter<WebhookWorkerEvents>()
  const reporter = new Reporter(pino({ level: 'silent' }), events)
  return { gate: new HydrationGate(q.redis, hydrationKeys(queueKeyBase(q.prefix, q.queueName)), limit, reporter), reporter, events }
}

async function outcome (promise: Promise<void>): Promise<'ok' | Postponed> {
  try {
    await promise
    return 'ok'
  } catch (err) {
    if (err instanceof Postponed) return err
    throw err
  }
}

t.test('the bucket gives max tokens per duration, then says how long until the oldest comes back', async (t) => {
  const q = queueFixture(t)
  const { gate } = await gateFor(q, { max: 3, duration: 3000 })
  const signal = new AbortController().signal
  for (let i = 0; i < 3; i++) t.equal(await outcome(gate.acquire(signal)), 'ok')
  const over = await outcome(gate.acquire(signal))
  t.ok(over instanceof Postponed, 'a wait longer than the local limit gives the job back')
  const p = over as Postponed
  t.equal(p.reason, 'rate-limited')
  t.ok(p.delayMs > LOCAL_WAIT_MS && p.delayMs <= 3000, `postponed for about the window (${p.delayMs} ms)`)
  t.equal(await q.redis.zcard(hydrationKeys(queueKeyBase(q.prefix, q.queueName)).bucket), 3, 'a refused take leaves no token behind')
  const ttl = await q.redis.pttl(hydrationKeys(queueKeyBase(q.prefix, q.queueName)).bucket)
  t.ok(ttl > 0 && ttl <= 3000, 'the bucket expires once idle')
})

t.test('a short wait is slept through: the call starts once the oldest token is back', async (t) => {
  const q = queueFixture(t)
  const { gate } = await gateFor(q, { max: 2, duration: 400 })
  const signal = new AbortController().signal
  const first = Date.now()
  await gate.acquire(signal)
  await gate.acquire(signal)
  await gate.acquire(signal)
  t.ok(Date.now() - first >= 390, 'the third call waited for the window to move')
})

t.test('a wait longer than half the hydrate timeout is not slept through', async (t) => {
  const q = queueFixture(t)
  await loadScripts(q.redis, HYDRATION_SCRIPTS)
  const reporter = new Reporter(pino({ level: 'silent' }), new EventEmitter())
  const gate = new HydrationGate(q.redis, hydrationKeys(queueKeyBase(q.prefix, q.queueName)), { max: 1, duration: 500 }, reporter, 400)
  const signal = new AbortController().signal
  t.equal(await outcome(gate.acquire(signal)), 'ok')
  const next = await outcome(gate.acquire(signal))
  t.ok(next instanceof Postponed && next.delayMs > 200, 'given back: the wait would eat the hydrate timeout')
})

t.test('a sleep at the gate ends when the attempt is aborted', async (t) => {
  const q = queueFixture(t)
  const { gate } = await gateFor(q, { max: 1, duration: 800 })
  await gate.acquire(new AbortController().signal)
  const controller = new AbortController()
  setTimeout(() => controller.abort(new Error('timed out')), 50)
  await t.rejects(gate.acquire(controller.signal), /timed out/)
  await t.rejects(gate.acquire(controller.signal), /timed out/, 'an aborted signal does not wait at all')
})

t.test('a pause holds every caller until it ends; it is extended, never shortened', async (t) => {
  const q = queueFixture(t)
  const limited = await gateFor(q, { max: 100, duration: 1000 })
  const unlimited = await gateFor(q)
  const signal = new AbortController().signal
  const paused: Array<WebhookWorkerEvents['hydrationPaused'][0]> = []
  limited.events.on('hydrationPaused', (info) => paused.push(info))

  await limited.gate.pause(1500, new Error('429'))
  t.same(paused, [{ pauseMs: 1500, error: { name: 'Error', message: '429' } }])
  t.equal(limited.reporter.stats.hydrationPauses, 1)
  const pauseKey = hydrationKeys(queueKeyBase(q.prefix, q.queueName)).pause
  await limited.gate.pause(200, new Error('shorter'))
  t.ok(await q.redis.pttl(pauseKey) > 1000, 'a shorter pause does not cut a longer one')

  const mine = await outcome(limited.gate.acquire(signal))
  t.ok(mine instanceof Postponed && mine.delayMs > 1000, 'the pausing worker knows at once')
  // Another worker learns from Redis: with a rate limit the take script reports the pause.
  const other = await gateFor(q, { max: 100, duration: 1000 })
  const theirs = await outcome(other.gate.acquire(signal))
  t.ok(theirs instanceof Postponed && theirs.delayMs > 1000, 'the take script reports the pause')
  const again = await outcome(other.gate.acquire(signal))
  t.ok(again instanceof Postponed, 'and the worker remembers it')
  // Without a rate limit a worker hears of it through its claims (ClaimStore), here directly.
  t.equal(await outcome(unlimited.gate.acquire(signal)), 'ok', 'no rate limit and no news of a pause: no Redis call, no wait')
  unlimited.gate.notePause(300)
  t.ok(await outcome(unlimited.gate.acquire(signal)) instanceof Postponed)
  await sleep(350)
  t.equal(await outcome(unlimited.gate.acquire(signal)), 'ok', 'the pause ends on time')
})

t.test('a pause that cannot be written to Redis still holds this worker, and is logged', async (t) => {
  const q = queueFixture(t)
  const problems: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => { problems.push(JSON.parse(line).msg) } })
  const client = q.redis.duplicate()
  await client.quit()
  const gate = new HydrationGate(client, hydrationKeys('x:'), undefined, new Reporter(log, new EventEmitter()))
  await gate.pause(500, new Error('429'))
  t.ok(await outcome(gate.acquire(new AbortController().signal)) instanceof Postponed, 'held locally')
  t.ok(problems.some((m) => /could not record the hydration pause/.test(m)), 'the failed write is logged')
})

t.test('postponed delays spread by up to a tenth, at most a second', async (t) => {
  t.equal(postponedDelayMs(1000, () => 0), 1000)
  t.equal(postponedDelayMs(1000, () => 1), 1100)
  t.equal(postponedDelayMs(60_000, () => 1), 61_000)
  t.match(new Postponed('object-busy', 100).message, /another job/)
})
