// @ts-check
// Slow clients: hundreds of sockets dribbling headers or stalling bodies
// while valid events flow. Valid events keep a p99 under 250 ms, every slow
// socket is closed within requestTimeout plus a second, and the app's RSS grows
// by less than 50 MB. The app sets requestTimeout and headersTimeout (Node only
// enforces requestTimeout once headersTimeout has passed) and a short
// connectionsCheckingInterval (Node looks for expired requests only that often:
// every 30 s by default).
import { sendBatch } from '../batch.mjs'
import { deliveryChecks } from '../checks.mjs'
import { sleep } from '../sender.mjs'
import { startSlowSockets } from '../slow-sockets.mjs'
import { check } from '../verify.mjs'

const P99_LIMIT_MS = 250
const RSS_LIMIT_MB = 50

/** @typedef {import('../types.d.mts').Figures} Figures */

/** @type {import('../types.d.mts').Scenario} */
export const slowClientsScenario = {
  full: 20000,
  short: 4000,
  ci: true,
  settings: (s) => ({
    slowSockets: s.short ? 200 : 400,
    // Valid events from a moderate number of senders: with 64 senders this
    // 2-core machine is saturated before any slow client connects, and the
    // p99 measures the queueing of the valid load itself.
    senders: Math.min(s.senders, 8),
    requestTimeout: 5000,
    app: { headersTimeout: 5000, connectionsCheckingInterval: 250 }
  }),
  plan: () => [],
  // The RSS baseline is taken once the app has served traffic (JIT, buffers, pools).
  // Its p99 is the reference: the same valid load without slow clients.
  before: async (ctx) => {
    /** @type {number[]} */
    const ms = []
    await sendBatch(ctx, { events: 2000, label: 'warm-up', observe: (r) => { if (r.status === 202) ms.push(r.latencyMs) } })
    return { warmUpP99Ms: p99(ms) }
  },
  during: slowLoad,
  checks: slowChecks,
  notes: (f) => [
    `valid events (${f.senders} senders): p99 ${f.validP99Ms} ms (${f.warmUpP99Ms} ms in the warm-up without slow clients), max ${f.answers.maxMs} ms; ${f.slowClosedByServer} slow sockets closed by the app (${f.slowSockets} open at a time), life median ${f.slowLifeMedianMs} ms, max ${f.slowLifeMaxMs} ms, answers ${JSON.stringify(f.slowStatuses)}; app RSS ${f.rssStartMb} MB -> max ${f.rssMaxMb} MB`
  ]
}

/** @param {import('../types.d.mts').SendingCtx} ctx */
async function slowLoad ({ stack, s }) {
  const rss = async () => (await stack.app.ask('memory')).rss
  const start = await rss()
  let max = start
  const sampling = { on: true }
  const sampler = (async () => {
    while (sampling.on) {
      max = Math.max(max, await rss().catch(() => 0))
      await sleep(250)
    }
  })()
  const slow = startSlowSockets({ target: stack.target, path: '/v1/events', sockets: /** @type {number} */ (s.slowSockets), dribbleMs: 1000 })
  const slowStarted = Date.now()
  return {
    async stop () {
      // On a fast machine the valid load can be done before requestTimeout has
      // run out once: keep the slow sockets until their first generation is due.
      const due = slowStarted + s.requestTimeout + 1500 - Date.now()
      if (due > 0) await sleep(due)
      sampling.on = false
      await sampler
      const figures = slow.stop()
      const mb = (/** @type {number} */ b) => Math.round(b / 1048576)
      return { ...figures, rssStartMb: mb(start), rssMaxMb: mb(max), rssGrowthMb: mb(max - start) }
    }
  }
}

/**
 * @param {Figures} f
 * @param {import('../types.d.mts').Settings} s
 */
function slowChecks (f, s) {
  const bound = s.requestTimeout + 1000
  f.validP99Ms = p99(f.answers.acceptedMs)
  const late = f.slowLives.filter((/** @type {{ ms: number }} */ l) => l.ms > bound).length
  delete f.slowLives
  const other = Object.keys(f.statuses).filter((code) => code !== '202')
  return [
    check('valid events: p99 of the 202 answers (ms)', f.validP99Ms, f.validP99Ms < P99_LIMIT_MS, `< ${P99_LIMIT_MS}`),
    check('valid events: answers other than 202', other.length === 0 ? 'none' : other.map((c) => `${c} x${f.statuses[c]}`).join(', '), other.length === 0, 'none'),
    check('slow sockets closed by the app', f.slowClosedByServer, f.slowClosedByServer >= f.slowSockets, `>= ${f.slowSockets}`),
    check(`slow sockets alive longer than ${bound} ms`, late, late === 0, 0),
    check('app RSS growth (MB)', f.rssGrowthMb, f.rssGrowthMb < RSS_LIMIT_MB, `< ${RSS_LIMIT_MB}`),
    ...deliveryChecks(f, s)
  ]
}

/** @param {number[]} values */
function p99 (values) {
  const ms = [...values].sort((a, b) => a - b)
  return ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.99))] ?? 0
}
