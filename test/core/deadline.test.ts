import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { deadline, DeadlineError } from '../../core/deadline.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

function timers (): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
}

/** The rejections that go unhandled from now until the test ends. */
function unhandledRejections (t: Test): unknown[] {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  return seen
}

t.test('the result of fn passes through, sync or async, value or error', async (t) => {
  t.equal(await deadline(1000, undefined, () => 'sync'), 'sync')
  t.equal(await deadline(1000, undefined, async () => { await sleep(5); return 'async' }), 'async')
  const boom = new Error('boom')
  await t.rejects(deadline(1000, undefined, () => { throw boom }), boom, 'a synchronous throw rejects')
  await t.rejects(deadline(1000, undefined, async () => { await sleep(5); throw boom }), boom)
  // A rejection with a DeadlineError of fn's own is passed through untouched.
  const inner = new DeadlineError(7)
  await t.rejects(deadline(1000, undefined, async () => await Promise.reject(inner)), inner)
})

t.test('at the deadline: rejects with a DeadlineError and aborts fn\'s signal with it', async (t) => {
  let seen: AbortSignal | undefined
  const started = Date.now()
  const err = await deadline(50, undefined, async (signal) => {
    seen = signal
    return await new Promise(() => {})
  }).catch((e: unknown) => e)
  const elapsed = Date.now() - started
  t.ok(err instanceof DeadlineError, 'a DeadlineError')
  t.match(err, { name: 'DeadlineError', ms: 50, message: 'no answer within 50 ms' })
  t.ok(elapsed >= 45 && elapsed < 1000, `at the deadline (${elapsed} ms)`)
  t.equal(seen?.aborted, true, 'fn\'s signal aborted')
  t.equal(seen?.reason, err, 'with the deadline\'s error as reason')
})

t.test('a caller\'s error or fallback replaces the DeadlineError', async (t) => {
  class Coded extends Error { code = 'E_SITE' }
  let seen: AbortSignal | undefined
  await t.rejects(deadline(10, undefined, async (signal) => { seen = signal; return await new Promise(() => {}) }, { error: () => new Coded('site message') }),
    { name: 'Error', code: 'E_SITE', message: 'site message' })
  t.type(seen?.reason, Coded, 'fn\'s signal aborts with the caller\'s error')

  const TIMED_OUT = Symbol('timed out')
  t.equal(await deadline(10, undefined, async (signal) => { seen = signal; return await new Promise<number>(() => {}) }, { fallback: () => TIMED_OUT }), TIMED_OUT)
  t.type(seen?.reason, DeadlineError, 'with a fallback, fn\'s signal still aborts')
  t.equal(await deadline(1000, undefined, () => 1, { fallback: () => TIMED_OUT }), 1, 'the fallback only counts at the deadline')
})

t.test('an outer abort rejects with its reason and aborts fn\'s signal', async (t) => {
  const outer = new AbortController()
  const reason = new Error('closing')
  let seen: AbortSignal | undefined
  const running = deadline(10_000, outer.signal, async (signal) => { seen = signal; return await new Promise(() => {}) })
  setTimeout(() => outer.abort(reason), 10)
  await t.rejects(running, reason)
  t.equal(seen?.reason, reason)
  t.equal(getEventListeners(outer.signal, 'abort').length, 0, 'its listener is removed')

  const settled = new AbortController()
  t.equal(await deadline(1000, settled.signal, () => 'done'), 'done')
  t.equal(getEventListeners(settled.signal, 'abort').length, 0, 'removed after a result too')
})

t.test('an outer signal aborted already: rejects with its reason, fn is not called', async (t) => {
  const reason = new Error('gone')
  let called = false
  await t.rejects(deadline(1000, AbortSignal.abort(reason), () => { called = true }), reason)
  t.notOk(called)
})

t.test('the timer is cleared once the call settles', async (t) => {
  const before = timers()
  await deadline(60_000, undefined, () => 'fast')
  await deadline(60_000, undefined, () => { throw new Error('fast') }).catch(() => {})
  const outer = new AbortController()
  const aborted = deadline(60_000, outer.signal, async () => await new Promise(() => {})).catch(() => {})
  outer.abort()
  await aborted
  t.equal(timers(), before, 'no timer left behind')
})

t.test('a process whose deadline call settled exits at once', async (t) => {
  const script = `
    const { deadline } = await import(${JSON.stringify(new URL('../../core/deadline.ts', import.meta.url).href)})
    await deadline(600000, undefined, async () => 'fast')
    await deadline(600000, new AbortController().signal, () => { throw new Error('fast') }).catch(() => {})
  `
  // Killed (status null) if a 10 min timer kept it alive; the start of a TypeScript child is slow under load.
  const child = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 40_000 })
  t.equal(child.signal, null, 'exited by itself')
  t.equal(child.status, 0, child.stderr)
})

t.test('a rejection after the deadline is never unhandled', async (t) => {
  const unhandled = unhandledRejections(t)
  const late = deadline(10, undefined, async () => { await sleep(40); throw new Error('late') })
  await t.rejects(late, DeadlineError)
  const fallback = await deadline(10, undefined, async () => { await sleep(40); throw new Error('late') }, { fallback: () => 'fallback' })
  t.equal(fallback, 'fallback')
  const outer = new AbortController()
  const aborted = deadline(10_000, outer.signal, async () => { await sleep(40); throw new Error('late') })
  outer.abort(new Error('stop'))
  await t.rejects(aborted, { message: 'stop' })
  await sleep(100)
  // unhandledRejection is emitted after the microtask queue drains: one more turn.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [], 'no unhandled rejection')
})

t.test('Infinity sets no timer; 0 lets a result at hand win and cuts the rest', async (t) => {
  const before = timers()
  let finish = (_value: string): void => {}
  const waiting = deadline(Infinity, undefined, async () => await new Promise<string>((resolve) => { finish = resolve }))
  t.equal(timers(), before, 'no timer for Infinity')
  await sleep(20)
  finish('eventually')
  t.equal(await waiting, 'eventually')
  t.equal(await deadline(2 ** 31, undefined, () => 'huge'), 'huge', 'past setTimeout\'s range: no timer either (it would fire at once)')

  const settled = Promise.resolve('ready')
  t.equal(await deadline(0, undefined, async () => await settled), 'ready', 'an already settled promise wins at 0 ms')
  await t.rejects(deadline(0, undefined, async () => await new Promise(() => {})), { name: 'DeadlineError', message: 'no answer within 0 ms' })
  await t.rejects(deadline(-5, undefined, async () => await new Promise(() => {})), DeadlineError, 'negative is 0')
  await t.rejects(deadline(Number.NaN, undefined, async () => await new Promise(() => {})), DeadlineError, 'NaN is 0')
})
