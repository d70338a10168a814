/**
 * A throwaway `redis-server` for a test: its own port, its own temporary
 * directory, AOF on (the setting the plugin and the worker check for), gone
 * when the test stops it or the process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestingErrors } from './errors.js'

/** Options of {@link privateRedis}. */
export interface PrivateRedisOptions {
  /** A fixed port. @defaultValue a free one */
  port?: number
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '2mb']`. @defaultValue `[]` */
  args?: string[]
  /** How long to wait for the server's first `PONG`. @defaultValue `10000` */
  startTimeoutMs?: number
}

/** A running private `redis-server`. */
export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>`, for `connection`. */
  readonly url: string
  readonly port: number
  /** The server's process id. */
  readonly pid: number | undefined
  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and removes its directory. Safe to call twice. */
  stop: () => Promise<void>
}

const INSTALL_HINT = 'redis-server was not found on PATH. Install it, e.g. `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)'
const HOST = '127.0.0.1'
const PORT_ATTEMPTS = 5

// Servers still running, killed synchronously when the process exits, so a
// test that forgets `stop()` (or fails before it) leaves no server behind.
const running = new Set<{ child: ChildProcess, dir: string }>()
let exitHookInstalled = false

function killAllAtExit (): void {
  for (const server of running) {
    server.child.kill('SIGKILL')
    rmSync(server.dir, { recursive: true, force: true })
  }
  running.clear()
}

/**
 * Starts a private `redis-server` with AOF on (`--appendonly yes`, no RDB
 * snapshots) on a free port in a new temporary directory, and resolves once it
 * answers `PING`. The server does not keep the process alive: one left
 * running is killed, and its directory removed, when the process exits.
 *
 * Rejects with `WEBHOOK_TESTING_REDIS_NOT_FOUND` when there is no
 * `redis-server` on `PATH`, and `WEBHOOK_TESTING_REDIS_START` when it exits or
 * stays silent.
 *
 * @example
 * const redis = await privateRedis()
 * t.teardown(() => redis.stop())
 * await app.register(webhookPlugin, { provider, connection: redis.url })
 */
export async function privateRedis (options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'fhw-test-redis-'))
  let lastError: unknown
  // A free port can be taken between the probe and the server's bind: try another.
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = options.port ?? await freePort()
    try {
      return await start(port, dir, options)
    } catch (err) {
      lastError = err
      if (options.port !== undefined || !/in use/i.test((err as Error).message)) break
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

async function start (port: number, dir: string, options: PrivateRedisOptions): Promise<PrivateRedis> {
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--daemonize', 'no',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
    ...(options.args ?? [])
  ]
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2000) })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const failedToSpawn = new Promise<Error>((resolve) => child.once('error', resolve))

  const timeoutMs = options.startTimeoutMs ?? 10_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const outcome = await Promise.race([
      failedToSpawn.then((err) => ({ err })),
      exited.then((exit) => ({ exit })),
      delay(50).then(() => undefined)
    ])
    if (outcome !== undefined && 'err' in outcome) {
      const code = (outcome.err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new TestingErrors.WEBHOOK_TESTING_REDIS_NOT_FOUND(INSTALL_HINT)
      throw new TestingErrors.WEBHOOK_TESTING_REDIS_START(`could not run redis-server: ${outcome.err.message}`)
    }
    if (outcome !== undefined) {
      throw new TestingErrors.WEBHOOK_TESTING_REDIS_START(`redis-server exited (${outcome.exit.code ?? outcome.exit.signal}) on port ${port}: ${stderr.trim()}`)
    }
    if (await ping(port)) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new TestingErrors.WEBHOOK_TESTING_REDIS_START(`redis-server did not answer PING within ${timeoutMs} ms on port ${port}`)
    }
  }

  const entry = { child, dir }
  running.add(entry)
  if (!exitHookInstalled) {
    process.on('exit', killAllAtExit)
    exitHookInstalled = true
  }
  // Neither the server nor its stderr pipe holds the event loop open.
  child.unref()
  ;(child.stderr as { unref?: () => void } | null)?.unref?.()

  let stopping: Promise<void> | undefined
  return {
    url: `redis://${HOST}:${port}`,
    port,
    pid: child.pid,
    stop: async () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
          await exited
          clearTimeout(timer)
        }
        running.delete(entry)
        rmSync(dir, { recursive: true, force: true })
      })()
      await stopping
    }
  }
}

/** A TCP port that was free a moment ago. */
async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

// A raw `PING` rather than a client: no reconnect loop to tear down afterwards.
async function ping (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, HOST)
    let received = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      received += String(chunk)
      if (received.includes('\r\n')) done(received.startsWith('+PONG'))
    })
  })
}

async function delay (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
