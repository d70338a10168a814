// @ts-check
// The end of every scenario: wait for the queue to drain, then hold what the
// sender was told (acknowledged) against what the ledger saw (effects).
import { callsOpenDuring, countEffects, openLedger, readLedger } from './ledger.mjs'
import { sleep } from './sender.mjs'

/** @typedef {import('./types.d.mts').Stack} Stack */

/**
 * Waits until nothing is pending in the queue (waiting, active, delayed), or
 * `deadlineMs` after the last send. Returns the time it took (from the last
 * acknowledgement) or `undefined` when it did not drain. Whether every
 * acknowledged event got its effect is the accounting's business, not this.
 * @param {Stack} stack
 * @param {number} lastSendAt
 * @param {number} deadlineMs
 * @returns {Promise<number | undefined>}
 */
export async function waitForDrain (stack, lastSendAt, deadlineMs) {
  const db = openLedger(stack.ledgerFile, { readonly: true })
  try {
    /** @type {number | undefined} */
    let stableSince
    let effects = -1
    while (Date.now() - lastSendAt < deadlineMs) {
      const c = await stack.counts()
      const now = countEffects(db)
      // A kill's jobs sit in `active` until the stall check moves them, so an
      // empty queue must also stay empty, with no new effect, for a while.
      if (c.pending === 0 && now === effects) {
        // Two empty looks a stalled-interval apart: a stalled job shows up as active again.
        stableSince ??= Date.now()
        if (Date.now() - stableSince >= 1500) return stableSince - lastSendAt
      } else {
        stableSince = undefined
      }
      effects = now
      await sleep(250)
    }
    return undefined
  } finally {
    db.close()
  }
}

/**
 * The accounting: lost, doubled and unexpected effects, apply calls beyond one
 * per event, and how many of those kills can explain.
 *
 * `expected` is what must have an effect: by default what the sender had
 * acknowledged (plus, when the poller runs, what it dropped: the poller must
 * recover it). An expected event found among `deadLettered` is counted there,
 * not as lost; one with an effect too is counted in `appliedAndDeadLettered`.
 * With `runId`, only that sender run's events are read from the ledger.
 * @param {Stack} stack
 * @param {import('./types.d.mts').Sender} sender
 * @param {import('./types.d.mts').FaultRecord[]} kills the faults that landed
 * @param {{ runId?: string, expected?: Set<string>, deadLettered?: Set<string> }} [opts]
 */
export function account (stack, sender, kills, { runId, expected, deadLettered = new Set() } = {}) {
  const ledger = readLedger(stack.ledgerFile, { runId })
  const want = expected ?? sender.stats.acked
  let lost = 0
  let doubled = 0
  let dead = 0
  let both = 0
  for (const id of want) {
    const n = ledger.effectCounts.get(id) ?? 0
    if (deadLettered.has(id)) {
      dead++
      if (n > 0) both++
    } else if (n === 0) lost++
    if (n > 1) doubled++
  }
  let unexpected = 0
  for (const id of ledger.effectCounts.keys()) if (!want.has(id)) unexpected++
  const injected = ledger.outcomes['injected-failure'] ?? 0
  const extraCalls = ledger.calls - ledger.effectCounts.size - injected
  let openAtKills = 0
  for (const k of kills) {
    // An app kill loses requests, never an apply in progress; a worker kill or
    // freeze re-opens its own calls only.
    const own = k.kind === 'worker' || k.kind === 'worker-freeze'
    k.openCalls = k.kind === 'app' ? 0 : callsOpenDuring(stack.ledgerFile, k.at, k.at + (k.recoveredMs ?? 0), own ? k.pid : undefined)
    openAtKills += k.openCalls
  }
  return {
    acked: sender.stats.acked.size,
    expected: want.size,
    lost,
    doubledEffects: doubled,
    unexpectedEffects: unexpected,
    deadLetteredEvents: dead,
    appliedAndDeadLettered: both,
    applyCalls: ledger.calls,
    injectedFailures: injected,
    extraApplyCalls: extraCalls,
    callsOpenAtKills: openAtKills,
    faultsMidApply: kills.filter((k) => /** @type {number} */ (k.openCalls) > 0).length,
    eventsWithSeveralKeys: ledger.eventsWithSeveralKeys,
    outcomes: ledger.outcomes,
    effectsByOrigin: ledger.effectsByOrigin
  }
}

/**
 * A named check: its figure, what it must be, and whether it holds.
 * @param {string} name
 * @param {unknown} value
 * @param {unknown} ok
 * @param {unknown} expected
 */
export function check (name, value, ok, expected) {
  return { name, value, expected, ok: Boolean(ok) }
}
