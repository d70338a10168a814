// @ts-check
// A sender that behaves like a webhook provider: each event is POSTed until a
// 2xx comes back, every attempt signed afresh (new timestamp, new signature),
// every non-2xx and every connection error retried with capped, jittered
// exponential backoff. It records what was acknowledged and how every attempt
// went, so the harness can hold the app to its contract.
import { Agent, request } from 'node:http'

/** @typedef {import('./types.d.mts').AttemptResult} AttemptResult */

/**
 * @typedef {object} SenderOptions
 * @property {() => {host: string, port: number}} target where the app listens now
 * @property {string} path the webhook route
 * @property {{ sign: (body: string) => Record<string, string> }} provider
 * @property {number} events how many events to send
 * @property {number} senders how many concurrent senders
 * @property {string} runId prefix of the event ids
 * @property {number} [attemptTimeoutMs] a provider's own response deadline (a hang is counted past it)
 * @property {number} [giveUpMs] stop retrying one event after this long (a failure of the run)
 * @property {number} [backoffBaseMs]
 * @property {number} [backoffCapMs]
 * @property {(n: number) => object} [data] extra fields of event n's `data` (e.g. `{ poison: true }`)
 * @property {(n: number) => boolean} [drop] true for an event whose webhook is never sent (a provider's lost delivery)
 * @property {(id: string, body: string) => void} [onCreate] called as each event comes to be, sent or not (the provider's own record of it)
 */

/** @param {SenderOptions} o */
export function createSender (o) {
  const attemptTimeoutMs = o.attemptTimeoutMs ?? 30000
  const giveUpMs = o.giveUpMs ?? 300000
  const baseMs = o.backoffBaseMs ?? 50
  const capMs = o.backoffCapMs ?? 1000
  const rampMs = 1000 / o.senders
  const agent = new Agent({ keepAlive: true, maxSockets: o.senders })
  const stats = {
    /** @type {Set<string>} */
    acked: new Set(),
    /** @type {Set<string>} */
    dropped: new Set(),
    /** @type {string[]} */
    givenUp: [],
    attempts: 0,
    /** @type {Record<string, number>} */
    statuses: {},
    /** @type {Record<string, number>} */
    connectionErrors: {},
    timeouts: 0,
    maxLatencyMs: 0,
    firstSendAt: 0,
    lastAckAt: 0
  }
  let next = 0
  let finished = false
  /**
   * Listeners told about every attempt: ({ status, error, latencyMs, at }).
   * @type {Set<(r: AttemptResult) => void>}
   */
  const observers = new Set()

  /** @param {number} n */
  function eventId (n) {
    return `${o.runId}-${n}`
  }

  /** @param {number} n */
  function bodyOf (n) {
    return JSON.stringify({ event_id: eventId(n), type: 'chaos.tick', data: { n, ...o.data?.(n) } })
  }

  /**
   * @param {string} body
   * @returns {Promise<AttemptResult>}
   */
  function attempt (body) {
    return new Promise((resolve) => {
      const { host, port } = o.target()
      const headers = { ...o.provider.sign(body), 'content-length': Buffer.byteLength(body) }
      const started = Date.now()
      let settled = false
      /** @param {{ status?: number, error?: string }} result */
      function done (result) {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({ ...result, latencyMs: Date.now() - started, at: started })
      }
      const req = request({ host, port, path: o.path, method: 'POST', headers, agent }, function onResponse (res) {
        res.resume()
        res.on('end', () => done({ status: res.statusCode }))
        res.on('error', (/** @type {NodeJS.ErrnoException} */ err) => done({ error: err.code ?? err.message }))
      })
      // The deadline is the provider's, not the app's: a request still open at
      // this point is a hang, and it is counted as one.
      const timer = setTimeout(() => {
        req.destroy()
        done({ error: 'TIMEOUT' })
      }, attemptTimeoutMs)
      req.on('error', (/** @type {NodeJS.ErrnoException} */ err) => done({ error: err.code ?? err.message }))
      req.end(body)
    })
  }

  /** @param {AttemptResult} r */
  function record (r) {
    stats.attempts++
    if (r.error === 'TIMEOUT') stats.timeouts++
    if (r.error) stats.connectionErrors[r.error] = (stats.connectionErrors[r.error] ?? 0) + 1
    else stats.statuses[String(r.status)] = (stats.statuses[String(r.status)] ?? 0) + 1
    if (r.status !== undefined && r.latencyMs > stats.maxLatencyMs) stats.maxLatencyMs = r.latencyMs
    for (const fn of observers) fn(r)
  }

  /** @param {number} n */
  async function deliver (n) {
    const body = bodyOf(n)
    o.onCreate?.(eventId(n), body)
    if (o.drop?.(n)) {
      stats.dropped.add(eventId(n))
      return
    }
    const firstAt = Date.now()
    for (let k = 0; ; k++) {
      const r = await attempt(body)
      record(r)
      if (r.status !== undefined && r.status >= 200 && r.status < 300) {
        stats.acked.add(eventId(n))
        stats.lastAckAt = Date.now()
        return
      }
      if (Date.now() - firstAt > giveUpMs) {
        stats.givenUp.push(eventId(n))
        return
      }
      const d = Math.min(capMs, baseMs * 2 ** Math.min(k, 20))
      await sleep(d / 2 + Math.random() * d / 2)
    }
  }

  async function loop () {
    while (next < o.events) {
      await deliver(next++)
    }
  }

  return {
    stats,
    eventId,
    /** @param {(r: AttemptResult) => void} fn */
    observe (fn) {
      observers.add(fn)
      return () => observers.delete(fn)
    },
    /** Sends every event; resolves when each is acknowledged or given up. */
    async run () {
      stats.firstSendAt = Date.now()
      // Senders join one by one over about a second, as a provider's traffic
      // ramps up, instead of 64 cold connections in the same millisecond.
      await Promise.all(Array.from({ length: o.senders }, (_, i) => sleep(i * rampMs).then(loop)))
      finished = true
      agent.destroy()
      return stats
    },
    /** How many events have been acknowledged (or dropped on purpose) so far: the progress faults are timed by. */
    get ackedCount () { return stats.acked.size + stats.dropped.size },
    get started () { return next },
    /** True once every event is acknowledged or given up. */
    get finished () { return finished }
  }
}

/**
 * @param {number} ms
 * @returns {Promise<void>}
 */
export function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
