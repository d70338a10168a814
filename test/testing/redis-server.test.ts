import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { privateRedis } from '../../testing/index.js'
import { waitFor } from '../helpers/wait.js'

// privateRedis(): a real redis-server of the test's own, with AOF on, gone
// after stop() or at process exit; a clear error when there is none to run.
t.setTimeout(60_000)

const root = fileURLToPath(new URL('../..', import.meta.url))
const built = join(root, 'dist/testing/index.js')

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Runs a script against the built package in a fresh node, with the given PATH. */
function runBuilt (script: string, env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as testing from ${JSON.stringify(built)}\n${script}`], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    timeout: 30_000
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('starts a server with AOF on, on the port of its url; stop() kills it and removes its directory', async (t) => {
  const redis = await privateRedis()
  t.teardown(() => redis.stop())
  t.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/)
  t.equal(redis.url, `redis://127.0.0.1:${redis.port}`)
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  t.teardown(() => client.disconnect())
  t.equal(await client.ping(), 'PONG')
  t.same(await client.config('GET', 'appendonly'), ['appendonly', 'yes'])
  t.same(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction'], 'the plugin\'s persistence check passes')
  const [, dir] = await client.config('GET', 'dir') as [string, string]
  t.ok(dir.startsWith(tmpdir()), `its own temporary directory (${dir})`)
  t.ok(existsSync(dir))
  client.disconnect()

  const pid = redis.pid as number
  t.ok(alive(pid))
  await redis.stop()
  t.notOk(alive(pid), 'the server is gone')
  t.notOk(existsSync(dir), 'its directory is removed')
  await redis.stop()
  t.pass('stop() twice is harmless')
})

t.test('two servers at once get two ports; extra args reach redis-server', async (t) => {
  const [a, b] = await Promise.all([privateRedis(), privateRedis({ args: ['--maxmemory', '3mb'] })])
  t.teardown(async () => { await Promise.all([a.stop(), b.stop()]) })
  t.not(a.port, b.port)
  const client = new Redis(b.url, { maxRetriesPerRequest: 1 })
  t.teardown(() => client.disconnect())
  t.same(await client.config('GET', 'maxmemory'), ['maxmemory', String(3 * 1024 * 1024)])
})

t.test('a server left running is killed, and its directory removed, when the process exits', async (t) => {
  const r = runBuilt(`
    const redis = await testing.privateRedis()
    const { Redis } = await import(${JSON.stringify(join(root, 'node_modules/ioredis/built/index.js'))})
    const client = new Redis(redis.url)
    const [, dir] = await client.config('GET', 'dir')
    client.disconnect()
    console.log(JSON.stringify({ pid: redis.pid, dir }))
    // no stop(): the server must not keep this process alive either`)
  t.equal(r.status, 0, r.stderr)
  const { pid, dir } = JSON.parse(r.stdout) as { pid: number, dir: string }
  await waitFor(() => !alive(pid), 5000, 'the server to be gone')
  t.notOk(existsSync(dir), 'its directory is removed')
})

t.test('no redis-server on PATH: a coded error naming how to install it', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'fhw-empty-path-'))
  const temp = mkdtempSync(join(tmpdir(), 'fhw-own-tmp-'))
  t.teardown(() => {
    rmSync(empty, { recursive: true, force: true })
    rmSync(temp, { recursive: true, force: true })
  })
  const r = runBuilt(`
    const err = await testing.privateRedis().then(() => undefined, (e) => e)
    console.log(JSON.stringify({ code: err?.code, message: err?.message }))`, { PATH: empty, TMPDIR: temp })
  t.equal(r.status, 0, r.stderr)
  const err = JSON.parse(r.stdout) as { code: string, message: string }
  t.equal(err.code, 'WEBHOOK_TESTING_REDIS_NOT_FOUND')
  t.match(err.message, /redis-server was not found on PATH/)
  t.match(err.message, /apt-get install redis-server/)
  t.match(err.message, /brew install redis/)
  t.same(readdirSync(temp), [], 'no temporary directory is left behind')
})

t.test('a server that exits at once: WEBHOOK_TESTING_REDIS_START with its own complaint', async (t) => {
  const err = await privateRedis({ args: ['--no-such-option', 'x'] }).then(() => undefined, (e: unknown) => e)
  t.match(err, { code: 'WEBHOOK_TESTING_REDIS_START', message: /redis-server exited/ })
})
