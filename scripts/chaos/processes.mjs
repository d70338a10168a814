// @ts-check
// Process orchestration: a private redis-server, the app, N workers, each its
// own process on loopback, each killable and restartable. Every pid is handed
// to the reaper, and every child is SIGKILLed when the harness exits, so no
// run leaves a process behind.
import { fork } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRedisServer } from '../redis-server.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
/** @type {Set<number>} */
const live = new Set()
/** @type {import('node:child_process').ChildProcess | undefined} */
let reaper

process.on('exit', function killChildren () {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

/** @param {number | undefined} pid */
function track (pid) {
  if (pid === undefined) return
  live.add(pid)
  reaper?.send({ add: pid })
}

/** @param {number | undefined} pid */
function untrack (pid) {
  live.delete(/** @type {number} */ (pid))
  reaper?.connected && reaper.send({ remove: pid })
}

/** Starts the reaper once per harness process; it outlives nothing but the harness. */
export async function startReaper () {
  if (reaper) return
  const child = fork(join(here, 'reaper.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true })
  reaper = child
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', () => reject(new Error('the reaper exited at start')))
  })
  // The harness must be able to exit while the reaper waits for it.
  child.unref()
  child.channel?.unref()
}

/**
 * Tells the reaper to remove a directory if the harness dies.
 * @param {string} dir
 */
export function reapDir (dir, forget = false) {
  reaper?.connected && reaper.send(forget ? { forgetDir: dir } : { dir })
}

/**
 * A private redis-server whose pid the reaper always knows, across restarts.
 * @param {import('../redis-server.d.mts').StartRedisOptions} [opts]
 */
export async function startRedis (opts) {
  const server = await startRedisServer(opts)
  track(server.pid)
  reapDir(server.dir)
  const wrap = {
    server,
    get url () { return server.url },
    get pid () { return server.pid },
    async kill () {
      const pid = server.pid
      await server.kill()
      untrack(pid)
    },
    async start () {
      await server.start()
      track(server.pid)
    },
    /** @param {NodeJS.Signals} sig */
    signal (sig) { server.signal(sig) },
    async stop () {
      const pid = server.pid
      await server.stop()
      untrack(pid)
      reapDir(server.dir, true)
    }
  }
  return wrap
}

/**
 * A node child running `script` with CHAOS_CONFIG, logging to `logFile`,
 * considered started when it sends `{ ready: true }`.
 * @param {string} name
 * @param {string} script a file next to this one
 * @param {object} config
 * @param {string} logFile
 */
export function nodeChild (name, script, config, logFile) {
  /** @type {Array<{ code: number | null, signal: NodeJS.Signals | null, expected: boolean, at: number }>} */
  const exits = []
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child
  let expectedExit = false

  async function start () {
    const fd = openSync(logFile, 'a')
    expectedExit = false
    child = fork(join(here, script), [], {
      env: { ...process.env, CHAOS_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', fd, fd, 'ipc']
    })
    closeSync(fd)
    track(child.pid)
    const c = child
    c.on('exit', (code, signal) => {
      untrack(c.pid)
      exits.push({ code, signal, expected: expectedExit, at: Date.now() })
    })
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s\n${tail(logFile)}`)), 30000)
      c.once('message', (msg) => { clearTimeout(timer); resolve(msg) })
      c.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited at start (${code ?? signal})\n${tail(logFile)}`)) })
    })
    return handle
  }

  /** @param {NodeJS.Signals} [sig] */
  async function kill (sig = 'SIGKILL') {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    expectedExit = true
    const gone = new Promise((resolve) => c.once('exit', resolve))
    c.kill(sig)
    await gone
  }

  /** Asks for a clean shutdown, then kills after `graceMs`. */
  async function stop (graceMs = 8000) {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    expectedExit = true
    const gone = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs)
    await gone
    clearTimeout(timer)
  }

  const handle = {
    name,
    start,
    kill,
    stop,
    async restart () {
      await kill()
      return await start()
    },
    /**
     * Sends `{ cmd, ...args }` over IPC and resolves with the child's reply (`{ reply: cmd, ... }`).
     * @param {string} cmd
     * @returns {Promise<Record<string, any>>} the reply: JSON from the child, unchecked
     */
    async ask (cmd, args = {}, timeoutMs = 5000) {
      const c = child
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { c?.off('message', onMessage); reject(new Error(`${name} did not answer '${cmd}' within ${timeoutMs} ms`)) }, timeoutMs)
        /** @param {any} msg */
        function onMessage (msg) {
          if (msg?.reply !== cmd) return
          clearTimeout(timer)
          c?.off('message', onMessage)
          resolve(msg)
        }
        if (!c?.connected) {
          clearTimeout(timer)
          reject(new Error(`${name} is not running (asked '${cmd}')`))
          return
        }
        c.on('message', onMessage)
        c.send({ cmd, ...args }, (err) => {
          if (!err) return
          clearTimeout(timer)
          c.off('message', onMessage)
          reject(err)
        })
      })
    },
    /**
     * Sends a signal without waiting (SIGSTOP, SIGCONT).
     * @param {NodeJS.Signals} sig
     */
    signal (sig) { child?.kill(sig) },
    get pid () { return child?.pid },
    /** Exits nobody asked for: a crash. */
    get unexpectedExits () { return exits.filter((e) => !e.expected) },
    get alive () { return child !== undefined && child.exitCode === null && child.signalCode === null }
  }
  return handle
}

/**
 * The last lines of a log file, for error messages.
 * @param {string} file
 */
export function tail (file, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}
