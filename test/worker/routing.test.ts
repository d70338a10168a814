import t from 'tap'
import { PassThrough, Readable, Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { Registry } from 'prom-client'
import { main } from '../../bin/cli.js'
import { safeJobId } from '../../core/job-id.js'
import type { WebhookEvent } from '../../core/event.js'
import type { Handler } from '../../worker/options.js'
import type { AttemptReport } from '../../worker/reporter.js'
import { validateWorkerOptions } from '../../worker/resolve-options.js'
import { defineHandler, routeKeys } from '../../worker/router.js'
import { sample } from '../helpers/metrics.js'
import { redisUrl } from '../helpers/redis.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

// Per-type routing with a real worker on a real queue: which hydrate and
// apply each event gets, and what happens to an event nothing handles.
t.setTimeout(90_000)

interface Line { level: number, msg: string, [key: string]: unknown }

function captured (): { logger: Logger, lines: Line[] } {
  const lines: Line[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      cb()
    }
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

const payloadOf = (event: WebhookEvent): Record<string, unknown> => event.payload as Record<string, unknown>

t.test('route keys: type.action first for a payload with a string action, then the type, then *', async (t) => {
  t.same(routeKeys(makeEvent({ type: 'pull_request', payload: { action: 'closed' } })), ['pull_request.closed', 'pull_request', '*'])
  t.same(routeKeys(makeEvent({ type: 'invoice.paid', payload: { id: 'in_1' } })), ['invoice.paid', '*'])
  t.same(routeKeys(makeEvent({ type: 'x', payload: { action: 7 } })), ['x', '*'], 'an action that is not a string is no route key')
  t.same(routeKeys(makeEvent({ type: 'x', payload: null })), ['x', '*'])
  t.same(routeKeys(makeEvent({ type: 'x', payload: 'text' })), ['x', '*'])
})

t.test('routing by type, with fallbacks: a handler\'s own step, then the source\'s *, then the top-level option, then none', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const applied: Array<{ by: string, state: unknown, id: string }> = []
  const record = (by: string) => async (state: unknown, event: WebhookEvent) => { applied.push({ by, state, id: event.id }) }
  await startWorker(t, q, {
    hydrate: async (event) => ({ from: 'top', id: event.id }),
    apply: record('top'),
    handlers: {
      shop: {
        // Its own hydrate and apply.
        'order.paid': { hydrate: async (event) => ({ from: 'paid', id: event.id }), apply: record('paid') },
        // Only an apply: hydrate comes from the source's `*`.
        'order.refunded': { apply: record('refunded') },
        '*': { hydrate: async (event) => ({ from: 'shop*', id: event.id }), apply: record('shop*') }
      },
      // Only a hydrate: apply comes from the top-level option.
      crm: { 'contact.updated': { hydrate: async (event) => ({ from: 'contact', id: event.id }) } }
    }
  })
  const events = {
    paid: makeEvent({ source: 'shop', type: 'order.paid' }),
    refunded: makeEvent({ source: 'shop', type: 'order.refunded' }),
    other: makeEvent({ source: 'shop', type: 'order.created' }),
    contact: makeEvent({ source: 'crm', type: 'contact.updated' }),
    crmOther: makeEvent({ source: 'crm', type: 'deal.won' }),
    unknownSource: makeEvent({ source: 'blog', type: 'post.published' })
  }
  for (const event of Object.values(events)) await q.add(event)
  await waitFor(() => applied.length === 6, 10_000, 'six applies')
  const by = (id: string): unknown => applied.find((a) => a.id === id)
  t.same(by(events.paid.id), { by: 'paid', state: { from: 'paid', id: events.paid.id }, id: events.paid.id })
  t.same(by(events.refunded.id), { by: 'refunded', state: { from: 'shop*', id: events.refunded.id }, id: events.refunded.id })
  t.same(by(events.other.id), { by: 'shop*', state: { from: 'shop*', id: events.other.id }, id: events.other.id })
  t.same(by(events.contact.id), { by: 'top', state: { from: 'contact', id: events.contact.id }, id: events.contact.id })
  t.same(by(events.crmOther.id), { by: 'top', state: { from: 'top', id: events.crmOther.id }, id: events.crmOther.id }, 'a source without a match: the top-level steps')
  t.same(by(events.unknownSource.id), { by: 'top', state: { from: 'top', id: events.unknownSource.id }, id: events.unknownSource.id }, 'a source without handlers: the top-level steps')
})

t.test('without any hydrate on the route, the payload is the state', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const states: unknown[] = []
  const handle = await startWorker(t, q, {
    handlers: { shop: { 'order.paid': { apply: async (state) => { states.push(state) } } } }
  })
  await q.add(makeEvent({ source: 'shop', type: 'order.paid', payload: { object_id: 'ord_9' } }))
  await waitFor(() => states.length === 1, 10_000, 'apply')
  t.same(states, [{ object_id: 'ord_9' }])
  t.equal(handle.stats().hydrateCalls, 0, 'no hydrate call')
})

t.test('GitHub-style actions: `pull_request.closed` before `pull_request`, whose hydrate it falls back to', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const applied: Array<[string, unknown]> = []
  await startWorker(t, q, {
    handlers: {
      github: {
        pull_request: {
          hydrate: async (event) => `pr ${String(payloadOf(event).action)}`,
          apply: async (state) => { applied.push(['pull_request', state]) }
        },
        'pull_request.closed': { apply: async (state) => { applied.push(['pull_request.closed', state]) } },
        push: { apply: async (state) => { applied.push(['push', state]) } }
      }
    }
  })
  await q.add(makeEvent({ id: 'pr-closed', source: 'github', type: 'pull_request', payload: { action: 'closed' } }))
  await waitFor(() => applied.length === 1, 10_000, 'closed')
  await q.add(makeEvent({ id: 'pr-opened', source: 'github', type: 'pull_request', payload: { action: 'opened' } }))
  await waitFor(() => applied.length === 2, 10_000, 'opened')
  await q.add(makeEvent({ id: 'push', source: 'github', type: 'push', payload: { ref: 'refs/heads/main' } }))
  await waitFor(() => applied.length === 3, 10_000, 'push')
  t.same(applied, [['pull_request.closed', 'pr closed'], ['pull_request', 'pr opened'], ['push', { ref: 'refs/heads/main' }]])
})

t.test('a handler may be an instance of a class: its methods keep their `this`; defineHandler returns the handler as it is', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const applied: unknown[] = []
  class Orders {
    readonly prefix = 'order'
    async hydrate (event: WebhookEvent): Promise<string> { return `${this.prefix} ${event.id}` }
    async apply (state: string | null): Promise<void> { applied.push(`${this.prefix}: ${String(state)}`) }
  }
  const handler = new Orders()
  const defined: Handler<string, unknown> = defineHandler(handler)
  t.equal(defined, handler)
  await startWorker(t, q, { handlers: { shop: { 'order.paid': defined } } })
  await q.add(makeEvent({ id: 'm-1', source: 'shop', type: 'order.paid' }))
  await waitFor(() => applied.length === 1, 10_000, 'apply')
  t.same(applied, ['order: order m-1'])
})

t.test('hydrate calls are shared per object and per hydrate: two handlers of one object each get their own state', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const applied: unknown[] = []
  let calls = 0
  const slow = (what: string) => async (): Promise<string> => {
    calls++
    await sleep(300)
    return what
  }
  const early = Date.now() - 10_000
  await startWorker(t, q, {
    concurrency: 4,
    objectKey: (event) => String(payloadOf(event).object_id),
    handlers: {
      shop: {
        'order.paid': { hydrate: slow('order'), apply: async (state) => { applied.push(['paid', state]) } },
        'order.updated': { apply: async (state) => { applied.push(['updated', state]) } },
        'invoice.paid': { hydrate: slow('invoice'), apply: async (state) => { applied.push(['invoice', state]) } }
      }
    },
    hydrate: slow('order')
  })
  await q.add(makeEvent({ source: 'shop', type: 'order.paid', payload: { object_id: 'o1' }, receivedAt: early }))
  await q.add(makeEvent({ source: 'shop', type: 'invoice.paid', payload: { object_id: 'o1' }, receivedAt: early }))
  await q.add(makeEvent({ source: 'shop', type: 'order.paid', payload: { object_id: 'o1' }, receivedAt: early }))
  await waitFor(() => applied.length === 3, 10_000, 'three applies')
  t.same(applied.filter((a) => (a as string[])[0] === 'invoice'), [['invoice', 'invoice']], 'the invoice handler got its own state')
  t.same(applied.filter((a) => (a as string[])[0] === 'paid'), [['paid', 'order'], ['paid', 'order']])
  t.equal(calls, 2, 'one call per hydrate: the two order.paid events shared theirs')
})

t.test('unhandled: skip (the default) completes the job unapplied, counts it, and warns once per source and type', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const registry = new Registry()
  const { logger, lines } = captured()
  const reports: AttemptReport[] = []
  const applied: string[] = []
  const handle = await startWorker(t, q, {
    logger,
    metrics: registry,
    handlers: { shop: { 'order.paid': { apply: async (_state, event) => { applied.push(event.id) } } } }
  })
  handle.on('attempt', (r) => reports.push(r))
  const skipped = [
    makeEvent({ source: 'shop', type: 'order.created' }),
    makeEvent({ source: 'shop', type: 'order.created' }),
    makeEvent({ source: 'crm', type: 'order.created' })
  ]
  for (const event of skipped) await q.add(event)
  await q.add(makeEvent({ id: 'handled', source: 'shop', type: 'order.paid' }))
  await waitFor(() => reports.length === 4, 10_000, 'four attempts')
  t.same(applied, ['handled'])
  t.match(handle.stats(), { unhandled: 3, applied: 1, deadLettered: 0 })
  const unhandled = reports.filter((r) => r.outcome === 'unhandled')
  t.equal(unhandled.length, 3)
  t.match(unhandled[0], { claim: 'none', stage: 'unhandled', source: 'shop', type: 'order.created' })
  for (const event of skipped) {
    t.equal(await (await q.queue.getJob(safeJobId(event.source, event.id)))?.getState(), 'completed', 'the job completes')
    t.equal(await q.redis.exists(`${q.prefix}:${q.queueName}:wh:done:${safeJobId(event.source, event.id)}`), 0, 'no done marker: a redelivery after a handler is added is applied')
  }
  const warnings = lines.filter((l) => l.level === 40 && /no handler/.test(l.msg))
  t.same(warnings.map((l) => [l.source, l.type]), [['shop', 'order.created'], ['crm', 'order.created']], 'one warning per source and type')
  const text = await registry.metrics()
  t.equal(sample(text, 'webhook_worker_unhandled_total', { queue: q.queueName, source: 'shop', type: 'order.created' }), 2)
  t.equal(sample(text, 'webhook_worker_unhandled_total', { queue: q.queueName, source: 'crm', type: 'order.created' }), 1)
  t.equal(sample(text, 'webhook_worker_events_total', { queue: q.queueName, source: 'shop', result: 'unhandled' }), 2)
})

t.test('unhandled: dead-letter dead-letters at once with stage `unhandled`; the API and the CLI filter on it', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const registry = new Registry()
  const handle = await startWorker(t, q, {
    unhandled: 'dead-letter',
    metrics: registry,
    logger: captured().logger,
    retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 10 },
    handlers: { shop: { 'order.paid': { apply: async () => {} } } }
  })
  const event = makeEvent({ source: 'shop', type: 'order.created' })
  await q.add(event)
  await waitFor(() => handle.stats().deadLettered === 1, 10_000, 'the dead letter')
  const [letter] = await handle.deadLetters.list({ stage: 'unhandled' })
  t.match(letter, {
    stage: 'unhandled',
    attemptsMade: 1,
    event: { id: event.id, source: 'shop', type: 'order.created' },
    error: { name: 'PermanentError', message: "No handler for the shop event of type 'order.created'" }
  })
  t.equal(handle.stats().unhandled, 0, 'dead-lettered, not skipped')
  t.equal(sample(await registry.metrics(), 'webhook_worker_dead_lettered_total', { queue: q.queueName, source: 'shop', stage: 'unhandled' }), 1)
  t.equal(await (await q.queue.getJob(safeJobId(event.source, event.id)))?.getState(), undefined, 'failed and removed once its dead letter is written')

  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (c) => { out += String(c) })
  const code = await main(['dlq', 'list', '--queue', q.queueName, '--stage', 'unhandled'], { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: { REDIS_URL: redisUrl() } })
  t.equal(code, 0)
  t.match(out, new RegExp(`unhandled +1 +1 .* shop +order\\.created +${event.id}`))
})

t.test('without handlers, the top-level hydrate and apply serve every event, and `unhandled` changes nothing', async (t) => {
  const q = queueFixture(t, redisUrl(), 'routing')
  const applied: unknown[] = []
  const handle = await startWorker(t, q, {
    unhandled: 'dead-letter',
    hydrate: async (event) => `state of ${event.type}`,
    apply: async (state) => { applied.push(state) }
  })
  await q.add(makeEvent({ source: 'shop', type: 'a' }))
  await q.add(makeEvent({ source: 'github', type: 'push', payload: { action: 'x' } }))
  await waitFor(() => applied.length === 2, 10_000, 'two applies')
  t.same(applied.sort(), ['state of a', 'state of push'])
  t.match(handle.stats(), { applied: 2, unhandled: 0, deadLettered: 0 })
})

const noop = async (): Promise<void> => {}
const bad: Array<[string, Record<string, unknown>, RegExp]> = [
  ['apply missing without handlers', {}, /Expected `apply` to be a function, got `undefined`/],
  ['handlers not an object', { handlers: [] }, /Expected `handlers` to be an object of handlers by source, got `\[\]` \(array\)/],
  ['a source that cannot be one', { handlers: { 'no source!': {} } }, /Expected `handlers` to be keyed by sources matching/],
  ['a source\'s handlers not an object', { handlers: { shop: noop } }, /Expected `handlers.shop` to be an object of handlers by event type/],
  ['a handler not an object', { handlers: { shop: { 'order.paid': noop } } }, /Expected `handlers.shop\["order.paid"\]` to be a handler/],
  ['a handler with neither step', { handlers: { shop: { 'order.paid': {} } } }, /Expected `handlers.shop\["order.paid"\]` to be a handler with a `hydrate` or an `apply` function/],
  ['a handler with an unknown key', { handlers: { shop: { '*': { aply: noop } } } }, /Unknown option `handlers.shop\["\*"\].aply`; known options are handlers.shop\["\*"\].hydrate, handlers.shop\["\*"\].apply/],
  ['a handler step not a function', { handlers: { shop: { x: { apply: noop, hydrate: 'fetch' } } } }, /Expected `handlers.shop\["x"\].hydrate` to be a function, got `fetch` \(string\)/],
  ['apply given but not a function', { handlers: { shop: { x: { apply: noop } } }, apply: 1 }, /Expected `apply` to be a function/],
  ['unhandled', { apply: noop, unhandled: 'ignore' }, /Expected `unhandled` to be one of 'skip', 'dead-letter', got `ignore`/]
]

for (const [name, options, message] of bad) {
  t.test(`invalid ${name}: a coded TypeError`, async (t) => {
    const err = t.throws(() => validateWorkerOptions({ connection: redisUrl(), ...options } as never)) as Error & { code?: string }
    t.equal(err.code, 'WEBHOOK_INVALID_OPTION')
    t.ok(err instanceof TypeError)
    t.match(err.message, message)
  })
}

t.test('handlers without a top-level apply are valid; unhandled defaults to skip', async (t) => {
  const o = validateWorkerOptions({ connection: redisUrl(), handlers: { shop: { 'order.paid': { apply: noop } } } })
  t.equal(o.apply, undefined)
  t.equal(o.unhandled, 'skip')
  t.equal(o.router.route(makeEvent({ source: 'shop', type: 'order.paid' })).apply !== undefined, true)
  t.equal(o.router.route(makeEvent({ source: 'shop', type: 'order.created' })).apply, undefined)
  t.equal(o.router.hydrates, false)
})
