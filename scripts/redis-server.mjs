// @ts-check
// Starts and stops private redis-server processes for tests, the demo, the
// benchmarks and the chaos harness. Plain ESM so it runs before any loader.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** @typedef {import('./redis-server.d.mts').StartRedisOptions} StartRedisOptions */
/** @typedef {import('./redis-server.d.mts').RedisServer} RedisServerShape */

const INSTALL_HINT = 'redis-server was not found on PATH. Install it first, e.g. `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), or set REDIS_URL to a Redis you own.'

/**
 * True when a redis-server binary is on PATH.
 * @returns {boolean}
 */
export function hasRedisServer () {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
  return r.status === 0
}

/** @returns {string} */
export function redisInstallHint () {
  return INSTALL_HINT
}

/**
 * A TCP port that was free a moment ago.
 * @returns {Promise<number>}
 */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address())
      srv.close(() => resolve(port))
    })
  })
}

/**
 * Starts a private redis-server in a temporary directory, with AOF on by default.
 * @param {StartRedisOptions} [opts] AOF on unless `appendonly: false`; a free port and a temporary directory unless given
 * @returns {Promise<RedisServer>}
 */
export async function startRedisServer (opts = {}) {
  if (!hasRedisServer()) throw new Error(INSTALL_HINT)
  const ownDir = opts.dir === undefined
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fhw-redis-'))
  let lastError
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? await freePort()
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', opts.appendonly === false ? 'no' : 'yes',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', opts.maxmemoryPolicy ?? 'noeviction',
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--loglevel', 'warning',
      ...(opts.maxmemory ? ['--maxmemory', opts.maxmemory] : []),
      ...(opts.args ?? [])
    ]
    const server = new RedisServer(port, dir, args, ownDir)
    try {
      await server.start()
      return server
    } catch (err) {
      lastError = err
      if (opts.port !== undefined) break
    }
  }
  if (ownDir) rmSync(dir, { recursive: true, force: true })
  throw lastError
}

/** @implements {RedisServerShape} */
class RedisServer {
  /**
   * @param {number} port
   * @param {string} dir
   * @param {string[]} args
   * @param {boolean} ownDir removes `dir` on stop
   */
  constructor (port, dir, args, ownDir) {
    this.port = port
    this.host = '127.0.0.1'
    this.dir = dir
    this.url = `redis://127.0.0.1:${port}`
    this.args = args
    this.ownDir = ownDir
    /** @type {import('node:child_process').ChildProcess | undefined} */
    this.child = undefined
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }> | undefined} */
    this.exited = undefined
  }

  get pid () {
    return this.child?.pid
  }

  async start () {
    const child = spawn('redis-server', this.args, { stdio: ['ignore', 'ignore', 'pipe'], detached: false })
    this.child = child
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    this.exited = exited
    const deadline = Date.now() + 10000
    while (Date.now() < deadline) {
      const done = await Promise.race([exited, delay(50).then(() => null)])
      if (done) throw new Error(`redis-server exited (${done.code ?? done.signal}) on port ${this.port}: ${stderr.trim()}`)
      if (await ping(this.port)) return this
    }
    child.kill('SIGKILL')
    throw new Error(`redis-server did not answer PING within 10 s on port ${this.port}`)
  }

  /**
   * Sends a signal to the server process (SIGSTOP freezes it, SIGCONT thaws it).
   * @param {NodeJS.Signals} sig
   */
  signal (sig) {
    this.child?.kill(sig)
  }

  /** SIGKILLs the server and waits until it is gone. */
  async kill () {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGCONT')
    this.child.kill('SIGKILL')
    await this.exited
  }

  /** Starts the server again on the same port and directory (the AOF is replayed). */
  async restart () {
    await this.kill()
    await this.start()
    return this
  }

  /** Stops the server and removes its directory when it made one. */
  async stop () {
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 3000)
      await this.exited
      clearTimeout(t)
    }
    if (this.ownDir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
function delay (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
async function ping (port) {
  return await new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    let buf = ''
    const done = (/** @type {boolean} */ ok) => { sock.destroy(); resolve(ok) }
    sock.setTimeout(500, () => done(false))
    sock.on('error', () => done(false))
    sock.on('connect', () => sock.write('PING\r\n'))
    sock.on('data', (d) => {
      buf += d
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'))
    })
  })
}
