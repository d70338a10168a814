import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PassThrough, Readable } from 'node:stream'
import { main } from '../../bin/cli.js'
import type { CliIo } from '../../bin/command.js'
import { PermanentError } from '../../core/hook-errors.js'
import { eventJobOptions } from '../../core/job-options.js'
import { createWebhookWorker } from '../../worker/worker.js'
import { freePort } from '../../scripts/redis-server.mjs'
import { privateRedis, redisUrl } from '../helpers/redis.js'
import { waitFor } from '../helpers/webhook.js'
import { makeEvent, queueFixture, SHORT_LOCKS, type QueueFixture } from '../helpers/worker.js'

// The dlq and queues commands against a real Redis, with dead letters written
// by a real worker: in-process through main(), and as the built bin.
t.setTimeout(90_000)

const root = fileURLToPath(new URL('../..', import.meta.url))

function io (env: Record<string, string> = { REDIS_URL: redisUrl() }): CliIo & { out: () => string, err: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c) => { out += String(c) })
  stderr.on('data', (c) => { err += String(c) })
  return { stdin: Readable.from([]), stdout, stderr, env, out: () => out, err: () => err }
}

async function cli (argv: string[], env?: Record<string, string>): Promise<{ code: number, out: string, err: string }> {
  const c = io(env)
  const code = await main(argv, c)
  return { code, out: c.out(), err: c.err() }
}

/** A queue whose worker dead-lettered `n` events (types alternate), then stopped. */
async function deadLettered (t: Test, n: number): Promise<{ fx: QueueFixture, ids: string[] }> {
  const fx = queueFixture(t, redisUrl(), 'cli-dlq')
  const worker = createWebhookWorker({
    connection: redisUrl(),
    queueName: fx.queueName,
    ...SHORT_LOCKS,
    persistenceCheck: 'off',
    apply: () => { throw new PermanentError('the order is archived') }
  })
  for (let i = 0; i < n; i++) await fx.add(makeEvent({ id: `evt_cli_${i}`, type: i % 2 === 0 ? 'order.paid' : 'order.refunded' }))
  await waitFor(() => worker.stats().deadLettered === n, 15_000, `${n} dead letters`)
  await worker.close()
  const listed = JSON.parse((await cli(['dlq', 'list', '--queue', fx.queueName, '--json'])).out) as { letters: Array<{ id: string }> }
  return { fx, ids: listed.letters.map((l) => l.id) }
}

t.test('dlq list, show, replay one, bulk replay with progress, purge', async (t) => {
  const { fx, ids } = await deadLettered(t, 4)
  const q = ['--queue', fx.queueName]
  t.equal(ids.length, 4)

  const list = await cli(['dlq', 'list', ...q])
  t.equal(list.code, 0, list.err)
  t.match(list.out, /^ID +STAGE +TRIES +FAILS +DEAD AT +SOURCE +TYPE +EVENT ID +ERROR\n/)
  for (const id of ids) t.match(list.out, id)
  t.match(list.out, /apply +1 +1 +\d{4}-\d\d-\d\dT[\d:]+Z acme +order\.paid +evt_cli_0 +PermanentError: the order is archived/)
  t.match(list.out, new RegExp(`1-4 of 4 dead letters \\(4 pending\\) in ${fx.queueName}-dlq\\n$`))
  const filtered = await cli(['dlq', 'list', ...q, '--type', 'order.refunded', '--limit', '1', '--offset', '1'])
  t.match(filtered.out, /evt_cli_3/)
  t.notMatch(filtered.out, /evt_cli_[012]/)
  t.match(filtered.out, /2-2 of 2 dead letters/)
  const firstPage = await cli(['dlq', 'list', ...q, '--limit', '3'])
  t.match(firstPage.out, new RegExp(`1-3 of 4 dead letters \\(4 pending\\) in .*\\nnext page: --after \\d{15}:${ids[2].replaceAll('.', '\\.')}\\n$`))
  const cursor = /--after (\S+)/.exec(firstPage.out)?.[1] ?? ''
  const secondPage = await cli(['dlq', 'list', ...q, '--limit', '3', '--after', cursor])
  t.match(secondPage.out, ids[3])
  for (const id of ids.slice(0, 3)) t.notMatch(secondPage.out, id)
  t.match(secondPage.out, /1 more of 4 dead letters \(4 pending\) in .*-dlq\n$/)
  t.match(JSON.parse((await cli(['dlq', 'list', ...q, '--limit', '3', '--json'])).out), { total: 4, next: cursor })
  t.match((await cli(['dlq', 'list', ...q, '--stage', 'hydrate'])).out, /No dead letters in .*-dlq matching the filters\./)

  const show = await cli(['dlq', 'show', ...q, ids[0]])
  t.equal(show.code, 0)
  t.match(show.out, /stage: +apply\nerror: +PermanentError: the order is archived/)
  t.match(show.out, /failures: +1, first \S+Z\n {2}\S+Z apply after 1 attempt: PermanentError: the order is archived\n/)
  t.match(show.out, /event data:\n\{\n {2}"v": 1/)
  const shown = JSON.parse((await cli(['dlq', 'show', ...q, '--json', ids[0]])).out)
  t.match(shown, { id: ids[0], stage: 'apply', attemptsMade: 1, event: { source: 'acme' } })
  const unknown = await cli(['dlq', 'show', ...q, 'acme.nope.1'])
  t.equal(unknown.code, 1)
  t.match(unknown.err, /no dead letter 'acme.nope.1' in .*-dlq\. `dlq list` shows the ids/)

  const one = await cli(['dlq', 'replay', ...q, ids[0]])
  t.equal(one.code, 0, one.err)
  t.match(one.out, new RegExp(`^replayed ${ids[0].replaceAll('.', '\\.')} as job acme\\.evt_cli_\\d\\n$`))
  const job = await fx.queue.getJob(shown.jobId)
  t.equal(job?.data.origin, 'replay', 'the event is back in the queue, marked as a replay')
  const again = await cli(['dlq', 'replay', ...q, ids[0]])
  t.equal(again.code, 1)
  t.match(again.out, /was already replayed; nothing queued/)
  t.equal((await cli(['dlq', 'replay', ...q, 'acme.nope.1'])).code, 1)

  // A job of the event still in the queue (a worker died before failing it): nothing is queued.
  const heldLetter = JSON.parse((await cli(['dlq', 'show', ...q, '--json', ids[1]])).out)
  await fx.queue.add('webhook', heldLetter.event, { ...eventJobOptions(ids[1]), delay: 60_000 })
  const esc = (id: string): string => id.replaceAll('.', '\\.')
  const held = await cli(['dlq', 'replay', ...q, ids[1]])
  t.equal(held.code, 1)
  t.match(held.out, new RegExp(`^${esc(ids[1])}: job ${esc(ids[1])} of the event is still in the queue \\(delayed\\); nothing queued, the letter stays pending`))
  const heldBulk = await cli(['dlq', 'replay', ...q, '--all'])
  t.equal(heldBulk.code, 1)
  t.match(heldBulk.out, new RegExp(`\\[1/3\\] ${esc(ids[1])}: not-queued \\(job ${esc(ids[1])} is delayed\\)\\n`))
  t.match(heldBulk.out, /Done: 2 replayed, 0 already replayed, 0 gone, 1 not queued \(their job is still in the queue: replay them again later\)\.\n$/)
  await fx.queue.remove(ids[1])

  const bulk = await cli(['dlq', 'replay', ...q, '--since', '1h'])
  t.equal(bulk.code, 0, bulk.err)
  t.match(bulk.out, new RegExp(`^Replaying 1 dead letter\\n\\[1/1\\] ${esc(ids[1])}: replayed as job ${esc(ids[1])}\\nDone: 1 replayed, 0 already replayed, 0 gone\\.\\n$`))
  t.equal(await fx.queue.count(), 4, 'every event queued again, once')
  t.equal((await cli(['dlq', 'replay', ...q, '--all'])).out, 'No pending dead letters to replay.\n')
  t.match((await cli(['dlq', 'list', ...q, '--pending'])).out, /No dead letters/)

  const unconfirmed = await cli(['dlq', 'purge', ...q])
  t.equal(unconfirmed.code, 2)
  t.match(unconfirmed.err, /purge deletes 4 dead letters .* run it again with --yes/)
  const purged = await cli(['dlq', 'purge', ...q, '--replayed', '--yes'])
  t.equal(purged.code, 0)
  t.match(purged.out, /purged 4 dead letters/)
  t.match((await cli(['dlq', 'list', ...q])).out, /No dead letters in/)
})

t.test('dlq replay --all --force replays events applied since', async (t) => {
  const { fx, ids } = await deadLettered(t, 2)
  const result = await cli(['dlq', 'replay', '--queue', fx.queueName, '--all', '--force'])
  t.equal(result.code, 0, result.err)
  t.match(result.out, /Replaying 2 dead letters \(forced: events applied since are applied again\)/)
  t.match(result.out, /Done: 2 replayed/)
  t.equal(ids.length, 2)
})

t.test('dlq with an undecodable job: listed and shown with what is known; --since takes ISO dates and epoch ms', async (t) => {
  const fx = queueFixture(t, redisUrl(), 'cli-dlq-raw')
  const worker = createWebhookWorker({ connection: redisUrl(), queueName: fx.queueName, ...SHORT_LOCKS, persistenceCheck: 'off', apply: () => {} })
  t.teardown(() => worker.close())
  await fx.queue.add('webhook', { nonsense: true }, eventJobOptions('raw.job-1'))
  await waitFor(() => worker.stats().deadLettered === 1, 15_000, 'the decode dead letter')
  const q = ['--queue', fx.queueName]
  const list = await cli(['dlq', 'list', ...q])
  t.match(list.out, /decode +1 +1 +\S+ +\? +\? +\? +WEBHOOK_WORKER_BAD_JOB|decode +1 +1 +\S+ +\? +\? +\? +\w*Error/)
  const [letter] = JSON.parse((await cli(['dlq', 'list', ...q, '--json'])).out).letters as Array<{ id: string }>
  const show = await cli(['dlq', 'show', ...q, letter.id])
  t.match(show.out, /event: +\? \? \?\nstage: +decode\nerror: +\S+: .*\(code WEBHOOK_WORKER_BAD_JOB\)/)
  t.match(show.out, /"nonsense": true/)
  const hourAgo = new Date(Date.now() - 3_600_000)
  t.match((await cli(['dlq', 'list', ...q, '--since', hourAgo.toISOString()])).out, /1-1 of 1 dead letters/)
  t.match((await cli(['dlq', 'list', ...q, '--since', String(Date.now() + 60_000)])).out, /No dead letters/)
  t.match((await cli(['dlq', 'list', ...q, '--since', '2999-01-01'])).out, /No dead letters/)
})

t.test('queues stats: depth by state, dead letters, oldest waiting job, as text and JSON', async (t) => {
  const { fx } = await deadLettered(t, 2)
  await fx.add(makeEvent({ id: 'evt_waiting' }))
  const text = await cli(['queues', 'stats', '--queue', fx.queueName])
  t.equal(text.code, 0, text.err)
  t.match(text.out, new RegExp(`^queue +${fx.queueName} \\(prefix bull\\)\\nwaiting +1\\nactive +0\\ndelayed +0\\nfailed +0\\n`))
  t.match(text.out, /dead letters +2 pending, 0 replayed\noldest waiting +\d+ ms ago\n/)
  const json = JSON.parse((await cli(['queues', 'stats', '--queue', fx.queueName, '--json'])).out)
  t.match(json, { queue: fx.queueName, prefix: 'bull', waiting: 1, deadLetters: 2, cursorLagMs: {} })
  t.equal((await cli(['queues', 'stats', '--queue', 'nothing-here'])).code, 0, 'an empty queue is not an error')
})

t.test('unreachable or frozen Redis: a clear message within the timeout, never a hang', async (t) => {
  const port = await freePort()
  const started = Date.now()
  const refused = await cli(['dlq', 'list', '--redis', `redis://user:hunter2@127.0.0.1:${port}`, '--timeout-ms', '1000'])
  t.equal(refused.code, 2)
  t.match(refused.err, new RegExp(`cannot reach Redis at redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): is it running\\? Set REDIS_URL or --redis`))
  t.notMatch(refused.err, /hunter2/, 'the password is never printed')

  const server = await privateRedis(t)
  server.signal('SIGSTOP')
  t.teardown(() => server.signal('SIGCONT'))
  const frozen = await cli(['queues', 'stats', '--timeout-ms', '1000'], { REDIS_URL: server.url })
  t.equal(frozen.code, 2)
  t.match(frozen.err, /cannot reach Redis at .*no answer within 1000 ms|cannot reach Redis at .*timeout/i)
  t.ok(Date.now() - started < 5000, 'both answered within their timeouts')
})

t.test('usage errors: exit code 2 and a pointer to --help', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['dlq'], /Usage: fastify-hybrid-webhooks dlq <action>/],
    [['dlq', 'frob'], /unknown action 'frob'; actions are list, show, replay, purge/],
    [['dlq', 'show'], /show takes one dead letter id/],
    [['dlq', 'replay'], /replay takes one dead letter id: replay <id>, replay --all or replay --since <time>/],
    [['dlq', 'replay', 'x', '--all'], /replay takes an id, or --all \/ --since, not both/],
    [['dlq', 'replay', '--all', '--replayed'], /--replayed cannot be replayed again/],
    [['dlq', 'list', '--after', 'acme.1'], /--after takes the cursor a previous page printed, got 'acme.1'/],
    [['dlq', 'list', '--after', '000000000000001:a', '--offset', '1'], /--offset and --after exclude each other/],
    [['dlq', 'list', 'x'], /list takes no arguments, got 'x'/],
    [['dlq', 'list', '--since', 'yesterday'], /--since must be a duration such as 2h/],
    [['dlq', 'list', '--stage', 'boil'], /--stage must be one of decode, hydrate, apply, stalled, internal/],
    [['dlq', 'list', '--pending', '--replayed'], /--pending and --replayed exclude each other/],
    [['dlq', 'list', '--limit', '0'], /--limit must be an integer from 1 to 1000/],
    [['dlq', 'list', '--queue', 'a:b'], /--queue must be a non-empty name without ':'/],
    [['dlq', 'list', '--timeout-ms', 'soon'], /--timeout-ms must be a positive integer/],
    [['dlq', 'list', '--redis', 'localhost:6379'], /must start with redis:\/\//],
    [['dlq', 'list', '--bogus'], /Unknown option '--bogus'/],
    [['queues'], /Usage: fastify-hybrid-webhooks queues stats/],
    [['queues', 'list'], /unknown action 'list'; the action is stats/],
    [['queues', 'stats', '--nope'], /Unknown option '--nope'/]
  ]
  for (const [argv, message] of cases) {
    const r = await cli(argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, message, argv.join(' '))
  }
  const help = await cli(['dlq', '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /replay --since <time>/)
  t.match((await cli(['queues', '--help'])).out, /--prefix <prefix>/)
  t.match((await cli(['--help'])).out, /dlq +list, show, replay or purge dead letters\n +queues +print queue depths/)
})

t.test('the built bin: dlq list and queues stats --json as npx runs them', async (t) => {
  const { fx, ids } = await deadLettered(t, 1)
  const bin = join(root, 'dist/bin/cli.js')
  const run = async (args: string[]): Promise<{ code: number | null, out: string, err: string }> => await new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NODE_OPTIONS: '', REDIS_URL: redisUrl() } })
    let out = ''
    let err = ''
    child.stdout.on('data', (c) => { out += String(c) })
    child.stderr.on('data', (c) => { err += String(c) })
    child.on('close', (code) => resolve({ code, out, err }))
  })
  const list = await run(['dlq', 'list', '--queue', fx.queueName])
  t.equal(list.code, 0, list.err)
  t.match(list.out, ids[0])
  const stats = await run(['queues', 'stats', '--queue', fx.queueName, '--json'])
  t.equal(stats.code, 0, stats.err)
  t.match(JSON.parse(stats.out), { queue: fx.queueName, deadLetters: 1 })
})
