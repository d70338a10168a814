// @ts-check
// Child processes for servers, workers and the load generator, and what the
// kernel says about any process: CPU time and resident memory from /proc,
// read from outside so measuring costs the measured process nothing.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'

// Linux reports CPU time in clock ticks; 100 per second on every mainstream kernel config.
const TICKS_PER_SECOND = 100

/**
 * @typedef {object} ChildOptions
 * @property {string[]} [args]
 * @property {Record<string, string>} [env]
 * @property {string[]} [execArgv]
 * @property {string} [label] for messages (default: the file)
 */
/** @typedef {{ type: string, id: number, value?: unknown, error?: string, [field: string]: any }} Message an IPC message either way */

/**
 * CPU seconds (user + system, all threads) a process has used so far.
 * @param {number | undefined} pid
 */
export function cpuSeconds (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/**
 * Current and peak resident set size of a process, in bytes.
 * @param {number | undefined} pid
 */
export function memoryOf (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (/** @type {string} */ name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') }
}

/**
 * A forked Node.js child speaking a tiny IPC protocol: it sends
 * `{ type: 'ready', ...info }` once listening, and answers `{ type, id }`
 * requests with `{ type: 'reply', id, value | error }`.
 */
export class Child {
  /**
   * @param {string} file
   * @param {ChildOptions} [options]
   */
  constructor (file, { args = [], env = {}, execArgv = [], label = file } = {}) {
    this.label = label
    this.nextId = 0
    /** @type {Map<number, { resolve: (value: any) => void, reject: (err: Error) => void }>} */
    this.pending = new Map()
    this.child = fork(file, args, {
      env: { ...process.env, ...env, NODE_OPTIONS: '' },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })))
    /** @type {Promise<Record<string, any>>} the child's `ready` message */
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (/** @type {Message} */ msg) => {
        if (msg.type === 'ready') resolve(msg)
        else if (msg.type === 'reply') this.settle(msg)
      })
      this.exited.then(({ code, signal }) => {
        const err = new Error(`${label} exited (${code ?? signal})`)
        reject(err)
        for (const { reject } of this.pending.values()) reject(err)
        this.pending.clear()
      })
    })
  }

  get pid () {
    return this.child.pid
  }

  /** @param {Message} msg */
  settle (msg) {
    const waiter = this.pending.get(msg.id)
    if (waiter === undefined) return
    this.pending.delete(msg.id)
    if (msg.error !== undefined) waiter.reject(new Error(`${this.label}: ${msg.error}`))
    else waiter.resolve(msg.value)
  }

  /**
   * Sends a request and resolves with the child's answer.
   * @param {string} type
   * @returns {Promise<any>} the answer: JSON from the child, unchecked
   */
  call (type, payload = {}) {
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.child.send({ ...payload, type, id })
    })
  }

  /** Asks the child to close what it opened and exit; kills it if it has not within `timeoutMs`. */
  async stop (timeoutMs = 10_000) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return await this.exited
    this.call('stop').catch(() => {})
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const result = await this.exited
    clearTimeout(timer)
    return result
  }
}

/**
 * Starts a child and waits for its `ready` message.
 * @param {string} file
 * @param {ChildOptions} [options]
 */
export async function startChild (file, options) {
  const child = new Child(file, options)
  const info = await child.ready
  return { child, info }
}

/**
 * The child's side of the protocol: `handlers` maps a request type to an
 * async function; `stop` must close everything and resolve, then the process exits.
 * @param {Record<string, (msg: any) => Promise<unknown>>} handlers each gets the request, its fields as the parent sent them
 */
export function serve (handlers) {
  // The monotonic clock V8's profiler stamps samples with, in µs, so a profile
  // can be cut to the window the load ran in.
  handlers = { clock: async () => Number(process.hrtime.bigint() / 1000n), ...handlers }
  process.on('message', async (/** @type {Message} */ msg) => {
    const handler = handlers[msg.type]
    try {
      if (handler === undefined) throw new Error(`unknown request ${msg.type}`)
      const value = await handler(msg)
      process.send?.({ type: 'reply', id: msg.id, value })
    } catch (err) {
      process.send?.({ type: 'reply', id: msg.id, error: /** @type {Error | undefined} */ (err)?.stack ?? String(err) })
    }
    if (msg.type === 'stop') {
      process.disconnect()
      process.exit(0)
    }
  })
  // The parent going away (a crashed or interrupted run) ends the child too.
  process.on('disconnect', () => process.exit(0))
}

/**
 * Tells the parent the child is ready, with whatever it needs to know (e.g. a port).
 * @param {Record<string, unknown>} [info]
 */
export function ready (info = {}) {
  process.send?.({ type: 'ready', ...info })
}
