// @ts-check
// The webhook sender, as a real provider runs it: signs each attempt, waits a
// bounded time for an answer, and retries anything but a 2xx with capped
// exponential backoff and jitter, then gives up.
import { Agent, request } from 'node:http'

/** @typedef {ReturnType<typeof createSender>} Sender */

/**
 * @param {object} opts
 * @param {string} opts.url the webhook endpoint
 * @param {(body: string) => Record<string, string>} opts.sign headers for one attempt
 * @param {ReturnType<import('./random.mjs').createRandom>} opts.random
 * @param {number} [opts.maxAttempts]
 * @param {number} [opts.baseDelayMs]
 * @param {number} [opts.maxDelayMs]
 * @param {number} [opts.timeoutMs] how long one attempt waits for an answer
 * @param {number} [opts.maxInFlight]
 * @param {number} [opts.lostAnswers] share of attempts whose answer is lost on the way back (the sender sees an error and retries)
 */
export function createSender (opts) {
  const { url, sign, random } = opts
  const maxAttempts = opts.maxAttempts ?? 8
  const baseDelayMs = opts.baseDelayMs ?? 250
  const maxDelayMs = opts.maxDelayMs ?? 4000
  const timeoutMs = opts.timeoutMs ?? 10_000
  const maxInFlight = opts.maxInFlight ?? 32
  const lostAnswers = opts.lostAnswers ?? 0
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight })
  const target = new URL(url)

  const stats = { deliveries: 0, attempts: 0, retries: 0, accepted: 0, gaveUp: 0, lostAnswers: 0, byStatus: /** @type {Record<string, number>} */ ({}) }
  /** @type {Array<() => void>} */
  const waiting = []
  /** @type {Set<NodeJS.Timeout>} */
  const timers = new Set()
  let inFlight = 0
  let pending = 0
  let stopped = false
  /** @type {Array<() => void>} */
  let idleWaiters = []

  /**
   * One attempt: its status code, or why there is none.
   * @param {string} body
   * @returns {Promise<number | 'lost' | 'error'>}
   */
  function post (body) {
    const loseAnswer = random.chance(lostAnswers)
    return new Promise((resolve) => {
      const headers = { ...sign(body), 'content-length': Buffer.byteLength(body) }
      const req = request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, timeout: timeoutMs }, (res) => {
        if (loseAnswer) {
          // The receiver has answered (and, on a 202, enqueued); the sender never learns it.
          stats.lostAnswers += 1
          res.destroy()
          return resolve('lost')
        }
        res.resume()
        res.on('end', () => resolve(/** @type {number} */ (res.statusCode)))
        res.on('error', () => resolve('error'))
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', () => resolve('error'))
      req.end(body)
    })
  }

  /** @param {number} attempt */
  function backoffMs (attempt) {
    const d = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
    return d / 2 + random.next() * d / 2
  }

  /**
   * @param {number} ms
   * @param {() => void} fn
   */
  function later (ms, fn) {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, ms)
    timers.add(timer)
  }

  /**
   * @param {string} body
   * @param {number} n the attempt, from 1
   * @returns {Promise<void>}
   */
  async function attempt (body, n) {
    if (stopped) return finish()
    if (inFlight >= maxInFlight) {
      waiting.push(() => attempt(body, n))
      return
    }
    inFlight += 1
    stats.attempts += 1
    if (n > 1) stats.retries += 1
    const status = await post(body)
    inFlight -= 1
    waiting.shift()?.()
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1
    if (typeof status === 'number' && status >= 200 && status < 300) {
      stats.accepted += 1
      return finish()
    }
    if (n >= maxAttempts) {
      stats.gaveUp += 1
      return finish()
    }
    later(backoffMs(n), () => attempt(body, n + 1))
  }

  function finish () {
    pending -= 1
    if (pending === 0) {
      for (const resolve of idleWaiters) resolve()
      idleWaiters = []
    }
  }

  return {
    stats,
    /**
     * Sends `body` after `delayMs`, retrying until a 2xx or the attempts run out.
     * @param {string} body
     */
    deliver (body, delayMs = 0) {
      if (stopped) return
      stats.deliveries += 1
      pending += 1
      later(delayMs, () => attempt(body, 1))
    },
    get pending () {
      return pending
    },
    /**
     * Resolves when every delivery got a 2xx or was given up.
     * @returns {Promise<void>}
     */
    idle () {
      if (pending === 0) return Promise.resolve()
      return new Promise((resolve) => idleWaiters.push(resolve))
    },
    /** Stops sending: scheduled deliveries are abandoned. */
    close () {
      stopped = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const resolve of idleWaiters) resolve()
      idleWaiters = []
      agent.destroy()
    }
  }
}
