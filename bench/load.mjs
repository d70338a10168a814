// @ts-check
// The load generator, in its own process so its CPU never counts as the
// server's: autocannon over loopback, a fresh event id and a fresh signature
// per request (setupRequest). Driven by bench/run.mjs over IPC.
import autocannon from 'autocannon'
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { bodyOfSize, nowMs, PATH, sign, SIGNATURE_HEADER } from './lib/events.mjs'
import { ready, serve } from './lib/proc.mjs'

/** @typedef {Awaited<ReturnType<typeof run>>} RunResult what a `run` request answers */
/** @typedef {Awaited<ReturnType<typeof paced>>} PacedResult what a `paced` request answers */

/**
 * Runs one closed-loop load with autocannon: `{ port, bodySize, connections, duration }`.
 * Resolves with its request count, status counts, rate and latency percentiles.
 * @param {{ port: number, bodySize: number, connections: number, duration: number }} request
 */
async function run ({ port, bodySize, connections, duration }) {
  const body = bodyOfSize(bodySize)
  const tag = randomBytes(4).toString('hex')
  let seq = 0

  /** @param {import('autocannon').Request} req */
  function setupRequest (req) {
    const n = seq++
    const text = body(`evt_${tag}_${n}`, `obj-${n}`, Date.now())
    req.body = text
    req.headers = { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(text) }
    return req
  }

  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: [{ method: 'POST', path: PATH, setupRequest }]
  })
  const ok = result['2xx']
  return {
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statusCodes: result.statusCodeStats
  }
}

/**
 * Sends `rate` requests per second for `duration` seconds, each at its own
 * time (open loop), over at most `connections` keep-alive sockets:
 * `{ port, bodySize, rate, duration, connections }`. autocannon's rate option
 * sends each second's quota per connection back to back, which measures
 * bursts, not latency at a steady rate. Resolves with when each event was
 * sent and acknowledged (epoch ms).
 * @param {{ port: number, bodySize: number, rate: number, duration: number, connections: number }} request
 */
async function paced ({ port, bodySize, rate, duration, connections }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const body = bodyOfSize(bodySize)
  const tag = randomBytes(4).toString('hex')
  const total = Math.round(rate * duration)
  /** @type {Array<[string, number]>} */
  const sent = []
  /** @type {Array<[string, number]>} */
  const acked = []
  /** @type {Record<string, number>} */
  const statuses = {}
  let inFlight = 0
  let seq = 0
  /** @type {() => void} */
  let finish
  /** @type {Promise<void>} */
  const done = new Promise((resolve) => { finish = resolve })
  const start = performance.now()

  function send () {
    const n = seq++
    const id = `evt_${tag}_${n}`
    const sentAt = nowMs()
    const text = body(id, `obj-${n}`, Math.round(sentAt))
    sent.push([id, sentAt])
    inFlight++
    const req = request({
      agent,
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: PATH,
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(text), 'content-length': text.length }
    }, (res) => {
      res.resume()
      res.on('end', () => {
        statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1
        if (res.statusCode === 202) acked.push([id, nowMs()])
        settle()
      })
    })
    req.on('error', () => {
      statuses.error = (statuses.error ?? 0) + 1
      settle()
    })
    req.end(text)
  }

  function settle () {
    inFlight--
    if (seq === total && inFlight === 0) finish()
  }

  function tick () {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate))
    while (seq < due) send()
    if (seq < total) setTimeout(tick, 1)
  }

  tick()
  await done
  agent.destroy()
  return { sent, acked, statuses, seconds: (performance.now() - start) / 1000 }
}

serve({ run, paced, stop: async () => {} })
ready()
