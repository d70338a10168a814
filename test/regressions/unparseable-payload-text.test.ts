import t from 'tap'
import { prepareAddScript } from '../../plugin/add-script.js'
import { serializeEvent } from '../../core/event.js'
import { safeJobId } from '../../core/job-id.js'
import { buildApp, signed, testProvider } from '../helpers/webhook.js'
import { makeEvent, queueFixture, sleep, startWorker, waitFor } from '../helpers/worker.js'

// Regression: a signed JSON body that began with two byte-order marks was
// acknowledged (202) and stored as text that still held the second one. The
// whole job data then failed JSON.parse in the worker, before our processor
// ran, so the job went active → stalled → wait again: never applied, never
// dead-lettered. The plugin now refuses such a body (only one BOM is an
// encoding mark), and the worker dead-letters any job data it cannot parse.
t.setTimeout(30_000)

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

t.test('a JSON body with two byte-order marks is refused with 400, not acknowledged', async (t) => {
  const provider = testProvider({ secret: 's3cret' })
  const { app, queueName } = await buildApp(t, { provider })
  const body = Buffer.concat([BOM, BOM, Buffer.from('{"id":"two-boms"}')])
  const res = await app.inject({ method: 'POST', url: '/v1/events', headers: provider.sign(body), payload: body })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'FST_WEBHOOK_INVALID_JSON')
  const queue = app.webhooks.get('testprov:/v1/events')?.queue
  t.equal(queue?.name, queueName)
  t.equal(await queue?.getJobCountByTypes('wait', 'active', 'delayed'), 0, 'nothing enqueued')

  const one = signed(provider, { id: 'one-bom' })
  const ok = await app.inject({ method: 'POST', url: '/v1/events', headers: one.headers, payload: Buffer.concat([BOM, Buffer.from(one.payload)]) })
  t.equal(ok.statusCode, 401, 'the signature covers the BOM: re-signed below')
  const withBom = Buffer.concat([BOM, Buffer.from(one.payload)])
  const accepted = await app.inject({ method: 'POST', url: '/v1/events', headers: provider.sign(withBom), payload: withBom })
  t.equal(accepted.statusCode, 202, 'one BOM is still an encoding mark')
})

t.test('the worker dead-letters job data it cannot parse (stage decode), once, without applying it', async (t) => {
  const q = queueFixture(t)
  await q.queue.waitUntilReady()
  const addScript = await prepareAddScript(q.queue, q.redis)
  t.ok(addScript, 'BullMQ\'s add script is matched')
  const event = makeEvent()
  // Payload text stored as the plugin stores a verified body's text.
  await addScript?.add(safeJobId(event.source, event.id), serializeEvent(event, '\ufeff{"id":"x"}'))
  const applied: string[] = []
  const handle = await startWorker(t, q, { apply: async (_state, event) => { applied.push(event.id) } })
  const letters = await waitFor(async () => {
    const list = await handle.deadLetters.list()
    return list.length > 0 ? list : undefined
  }, 5000, 'a dead letter')
  t.equal(letters.length, 1)
  t.equal(letters[0].stage, 'decode')
  t.match(letters[0].error, { code: 'WEBHOOK_WORKER_BAD_JOB', message: /not valid JSON/ })
  await sleep(1500) // past a stall check: the job is not taken again
  t.equal((await handle.deadLetters.list()).length, 1, 'one dead letter')
  t.same(applied, [])
  t.equal(await q.queue.getJobCountByTypes('wait', 'active', 'delayed'), 0)
})
