import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { cleanQueue, redisUrl, testClient, uniqueName } from '../helpers/redis.js'

// Without a `logger` option, the worker and the poller write warnings and
// errors to stderr (a dead letter, a failed poll run); `logger: false`
// silences them. Each runs in its own process, on the built package.
t.setTimeout(60_000)

const child = fileURLToPath(new URL('../fixtures/default-logger-child.mjs', import.meta.url))

interface Line { level: number, msg: string, [key: string]: unknown }

async function run (mode: 'worker' | 'poller', silent: boolean): Promise<{ code: number | null, lines: Line[], stderr: string }> {
  const queueName = uniqueName(`default-logger-${mode}`)
  const redis = testClient(t)
  const config = { url: redisUrl(), queueName, mode, silent }
  const proc = spawn(process.execPath, [child], { env: { ...process.env, NODE_OPTIONS: '', DEFAULT_LOGGER_CHILD: JSON.stringify(config) }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve))
  await cleanQueue(redis, 'bull', queueName).catch(() => {})
  await cleanQueue(redis, 'bull', `${queueName}-poll`).catch(() => {})
  const lines = stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line)
  return { code, lines, stderr }
}

t.test('a worker without a logger writes its dead letters to stderr, and nothing below warn', async (t) => {
  const { code, lines, stderr } = await run('worker', false)
  t.equal(code, 0, stderr)
  t.match(lines.find((l) => l.msg === 'webhook dead-lettered'), { level: 50, eventId: 'evt_default_logger', stage: 'apply', error: { name: 'PermanentError' } }, stderr)
  t.same(lines.filter((l) => l.level < 40), [], 'no debug or info lines')
})

t.test('a worker with `logger: false` writes nothing', async (t) => {
  const { code, stderr } = await run('worker', true)
  t.equal(code, 0, stderr)
  t.equal(stderr, '')
})

t.test('a poller without a logger writes its failed runs to stderr', async (t) => {
  const { code, lines, stderr } = await run('poller', false)
  t.equal(code, 0, stderr)
  t.match(lines.find((l) => /poll run failed/.test(l.msg)), { level: 50, source: 'acme' }, stderr)
  t.same(lines.filter((l) => l.level < 40), [], 'no debug or info lines')
})

t.test('a poller with `logger: false` writes nothing', async (t) => {
  const { code, stderr } = await run('poller', true)
  t.equal(code, 0, stderr)
  t.equal(stderr, '')
})
