// @ts-check
// The hostile delivery schedule: which changes happen when, and what the
// sender does with each resulting webhook (drop it, send it late so later
// events overtake it, send it again).
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * @typedef {object} Mix
 * @property {number} deliveries
 * @property {number} dup
 * @property {number} reorder
 * @property {number} drop
 */
/** @typedef {ReturnType<typeof createScenario>} Scenario */

/**
 * How many events a run needs for `deliveries` first sends and duplicates.
 * `dup` and `reorder` are shares of deliveries, `drop` a share of events.
 * @param {Mix} mix
 */
export function planMix ({ deliveries, dup, reorder, drop }) {
  const duplicates = Math.round(deliveries * dup)
  const firsts = deliveries - duplicates
  const events = Math.max(1, Math.round(firsts / (1 - drop)))
  return { events, delivered: firsts, dropped: events - firsts, duplicates, reordered: Math.round(deliveries * reorder) }
}

/**
 * Runs the schedule: changes orders over `durationMs`, hands every webhook to
 * the sender as the mix says, and forces one 429 burst on the API part way in.
 * @param {object} opts
 * @param {import('./provider.mjs').FakeProvider} opts.provider
 * @param {import('./sender.mjs').Sender} opts.sender
 * @param {import('./random.mjs').Random} opts.random
 * @param {Mix} opts.mix
 * @param {number} opts.durationMs
 * @param {number} [opts.burstMs]
 */
export function createScenario ({ provider, sender, random, mix, durationMs, burstMs = 1500 }) {
  const plan = planMix(mix)
  const times = Array.from({ length: plan.events }, () => random.next() * durationMs).sort((a, b) => a - b)
  const droppedEvents = new Set(random.shuffle(times.map((_, i) => i)).slice(0, plan.dropped))
  const deliveredEvents = times.map((_, i) => i).filter((i) => !droppedEvents.has(i))
  // Delivery k is the k-th send: firsts first, then duplicates (an event may be duplicated more than once).
  const sends = deliveredEvents.map((i) => ({ event: i, delayMs: random.int(2, 40) }))
  for (let k = 0; k < plan.duplicates && deliveredEvents.length > 0; k++) {
    sends.push({ event: random.pick(deliveredEvents), delayMs: random.int(100, 2500) })
  }
  for (const k of random.shuffle(sends.map((_, k) => k)).slice(0, plan.reordered)) {
    sends[k].delayMs += random.int(400, 2500)
  }
  /** @type {Map<number, number[]>} */
  const sendsByEvent = new Map()
  for (const s of sends) {
    if (!sendsByEvent.has(s.event)) sendsByEvent.set(s.event, [])
    sendsByEvent.get(s.event)?.push(s.delayMs)
  }

  const lastChange = new Map() // order id -> index of its last change
  const stats = { changes: 0, droppedEvents: 0, scheduledDeliveries: 0, duplicateDeliveries: plan.duplicates, reorderedDeliveries: plan.reordered }
  let stopped = false

  async function run () {
    const startedAt = Date.now()
    let burstDone = false
    for (let i = 0; i < times.length; i++) {
      if (stopped) break
      const wait = startedAt + times[i] - Date.now()
      if (wait > 0) await sleep(wait)
      if (stopped) break
      if (!burstDone && times[i] >= durationMs * 0.4) {
        burstDone = true
        provider.throttle(burstMs, 1)
      }
      const event = provider.changeRandomOrder()
      stats.changes += 1
      lastChange.set(event.order_id, i)
      if (droppedEvents.has(i)) {
        stats.droppedEvents += 1
        continue
      }
      const body = JSON.stringify(event)
      for (const delayMs of sendsByEvent.get(i) ?? []) {
        stats.scheduledDeliveries += 1
        sender.deliver(body, delayMs)
      }
    }
    if (!burstDone && !stopped) provider.throttle(burstMs, 1)
  }

  return {
    plan,
    stats,
    run,
    /** Orders whose latest change was never sent as a webhook: only the poller can bring them up to date. */
    ordersOnlyThePollerCanFix () {
      let n = 0
      for (const i of lastChange.values()) if (droppedEvents.has(i)) n += 1
      return n
    },
    stop () {
      stopped = true
    }
  }
}
