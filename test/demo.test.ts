import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { cleanQueue, redisUrl, testClient } from './helpers/redis.js'

// The demo runs end to end in a small configuration: a real redis-server, the
// built package, the fake provider, the sender, workers, the poller and SQLite.
t.setTimeout(110_000)

// The file `npm run demo` runs.
const DEMO = fileURLToPath(new URL('../scripts/demo.mjs', import.meta.url))

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function runDemo (args: string[], env: NodeJS.ProcessEnv, onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => {
      stderr += d
      onStderr?.(stderr, child)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function envWithout (name: string): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env[name]
  return env
}

t.test('a small hostile run converges: every order equals the provider, no dead letters, exit 0', async (t) => {
  const client = testClient(t)
  const run = await runDemo(['--orders', '20', '--deliveries', '100', '--seed', '7', '--json'], { ...process.env, REDIS_URL: redisUrl() })
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  t.teardown(() => cleanQueue(client, 'bull', summary.queueName))
  t.equal(summary.ok, true)
  t.same(summary.check, { ok: true, orders: 20, matching: 20, mismatches: [] }, 'the final check')
  const c = summary.counts
  t.equal(c.deadLetters, 0)
  t.equal(c.deliveries, 100, 'deliveries as asked, duplicates included')
  t.equal(c.duplicatesSent, 20, '20 % duplicates')
  t.equal(c.reordered, 10, '10 % reordered')
  t.ok(c.dropped > 0, 'some events were never sent')
  t.ok(c.applied > 0)
  t.equal(c.duplicatesSkipped, c.dupAtIngress + c.dupInWorker + c.dupInDatabase)
  t.ok(c.duplicatesSkipped >= c.duplicatesSent - c.senderGaveUp, 'no duplicate delivery led to a second effect')
  t.ok(c.pollRuns > 0, 'the poller ran')
  t.equal(summary.hostile.enqueued, 0, 'no hostile request reached the queue')
  t.same(summary.hostile.results.map((r: { status: number }) => r.status), [401, 401, 401, 401, 415, 415, 400, 400, 400, 400, 413], 'each hostile request refused with its own 4xx')
  t.match(run.stderr, /changes .* \| sent /, 'a progress line')
  t.equal(await client.keys(`bull:${summary.queueName as string}*`).then((k) => k.length), 0, 'no keys left behind on a shared Redis')
})

t.test('with only the poller (90 % of events dropped) the database still converges', async (t) => {
  const client = testClient(t)
  const run = await runDemo(['--orders', '10', '--deliveries', '20', '--drop', '0.9', '--duplicates', '0', '--seed', '3', '--json'], { ...process.env, REDIS_URL: redisUrl() })
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  t.teardown(() => cleanQueue(client, 'bull', summary.queueName))
  t.equal(summary.check.ok, true)
  t.ok(summary.counts.dropped >= 100, 'most changes never arrived as webhooks')
  t.ok(summary.counts.appliedFromPoll > 0, 'the poller applied changes')
})

t.test('without REDIS_URL it starts a private redis-server, and Ctrl-C stops everything', async (t) => {
  let pid: number | undefined
  let signalled = false
  const run = await runDemo(['--orders', '10', '--deliveries', '400', '--duration', '20000'], envWithout('REDIS_URL'), (stderr, child) => {
    pid ??= Number(/private redis-server pid (\d+)/.exec(stderr)?.[1]) || undefined
    if (!signalled && pid !== undefined && /sending: changes [1-9]/.test(stderr)) {
      signalled = true
      child.kill('SIGINT')
    }
  })
  t.ok(pid, 'a private redis-server was started')
  t.ok(signalled, 'the demo was interrupted while sending')
  t.equal(run.code, 130, run.stderr)
  t.notOk(alive(pid as number), 'the private redis-server is gone')
})

t.test('--provider stripe: the Stripe helpers against the fake Stripe converge, the poller filling the dropped webhooks', async (t) => {
  const client = testClient(t)
  const run = await runDemo(['--provider', 'stripe', '--deliveries', '200', '--drop', '0.2', '--seed', '11', '--json'], { ...process.env, REDIS_URL: redisUrl() })
  t.equal(run.code, 0, run.stderr)
  const summary = JSON.parse(run.stdout)
  t.teardown(() => cleanQueue(client, 'bull', summary.queueName))
  t.equal(summary.ok, true)
  t.equal(summary.check.ok, true)
  t.same(summary.check.mismatches, [])
  const c = summary.counts
  t.equal(c.changes, 200)
  t.ok(c.dropped > 0, 'some webhooks were never sent')
  t.ok(c.appliedFromPoll > 0, 'the poller applied what they missed')
  t.equal(c.deadLetters, 0)
  t.ok(c.deletions > 0)
  t.equal(await client.keys(`bull:${summary.queueName as string}*`).then((k) => k.length), 0, 'no keys left behind')
})

t.test('a bad flag is refused with the usage', async (t) => {
  const run = await runDemo(['--drop', '2'], process.env)
  t.equal(run.code, 2)
  t.match(run.stderr, /--drop must be a number from 0 to 0\.9, got '2'/)
  t.match(run.stderr, /Usage: npm run demo/)
})
