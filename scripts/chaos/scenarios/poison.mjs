// @ts-check
// Poison: 1 % of the events fail hydrate for good (PermanentError). Every
// acknowledged event is either applied once or dead-lettered, never both and
// never neither. Then the bug is fixed (the workers are told so), the dead
// letters are replayed through the package's createDeadLetters, and each is
// applied once; a second replay changes nothing.
import { createDeadLetters } from 'fastify-hybrid-webhooks/worker'
import { deliveryChecks } from '../checks.mjs'
import { readLedger } from '../ledger.mjs'
import { sleep } from '../sender.mjs'
import { check, waitForDrain } from '../verify.mjs'

const POISON_EVERY = 100

/** @typedef {import('../types.d.mts').Figures} Figures */

/** @type {import('../types.d.mts').Scenario} */
export const poisonScenario = {
  full: 20000,
  short: 3000,
  ci: true,
  plan: () => [],
  sender: () => ({ data: poisonData }),
  after: replayPhase,
  checks: poisonChecks,
  notes: (f) => [`${f.poisoned} poisoned of ${f.acked} acknowledged; ${f.deadLetters} dead letters of ${f.deadLetterEvents} events (${JSON.stringify(f.deadLetterStages)}); replayed ${f.replay.replayed}, applied once ${f.replay.appliedOnce}, queue drained ${f.replay.drainMs} ms after the replay; second replay: ${f.replay.secondAlreadyReplayed} already-replayed, ${f.replay.effectsChanged} new effects`]
}

/**
 * Event n's extra data: `poison: true` for one event in a hundred.
 * @param {number} n
 * @returns {{ poison?: true }}
 */
export function poisonData (n) {
  return n % POISON_EVERY === POISON_EVERY - 1 ? { poison: true } : {}
}

/**
 * True for the id of a poisoned event.
 * @param {string} eventId
 */
export function isPoisoned (eventId) {
  return poisonData(Number(eventId.slice(eventId.lastIndexOf('-') + 1))).poison === true
}

/**
 * How many of a run's acknowledged events (and dropped ones, which a poller recovers) were poisoned.
 * @param {import('../types.d.mts').Sender} sender
 */
export function poisonedAcked (sender) {
  let n = 0
  for (const id of [...sender.stats.acked, ...sender.stats.dropped]) if (isPoisoned(id)) n++
  return n
}

/**
 * Fix, replay every dead letter, wait for the queue to drain, check each was
 * applied once; replay again (everything, and each letter by id), wait, and
 * check nothing moved.
 * @param {import('../types.d.mts').SendingCtx} ctx
 * @param {Figures} f
 */
export async function replayPhase (ctx, f) {
  const { stack, s, sender, runId } = ctx
  // A poisoned event can be dead-lettered more than once: each redelivery after
  // its job was dead-lettered (a sender's retry, the poller) is a new failure.
  const letters = await stack.deadLetterEventIds()
  const dlIds = [...new Set(letters)]
  /** @type {Record<string, number>} */
  const stages = {}
  /** @type {Array<Record<string, unknown>>} */
  const unexpected = []
  const poisoned = poisonedAcked(sender)
  const notPoisoned = dlIds.filter((id) => !isPoisoned(id)).length
  await Promise.all(stack.workers.map((w) => w.ask('fix')))
  const dl = createDeadLetters({ connection: stack.connection, queueName: stack.common.queueName, prefix: stack.common.prefix })
  try {
    for (const letter of await dl.list({}, { limit: 1000 })) {
      stages[letter.stage] = (stages[letter.stage] ?? 0) + 1
      if (!isPoisoned(letter.event.id) && unexpected.length < 10) unexpected.push({ eventId: letter.event.id, stage: letter.stage, error: letter.error, attemptsMade: letter.attemptsMade })
    }
    const first = await dl.replay({})
    const firstAt = Date.now()
    const drainMs = await waitForDrain(stack, firstAt, s.drainDeadlineMs)
    const afterFirst = readLedger(stack.ledgerFile, { runId })
    const appliedOnce = dlIds.filter((id) => afterFirst.effectCounts.get(id) === 1).length
    const second = await dl.replay({})
    const byId = await Promise.all((await dl.list({ replayed: true }, { limit: 1000 })).map((letter) => dl.replay(letter.id)))
    await sleep(s.stalledInterval * 2)
    await waitForDrain(stack, Date.now(), s.drainDeadlineMs)
    const afterSecond = readLedger(stack.ledgerFile, { runId })
    return {
      poisoned,
      deadLetterEvents: dlIds.length,
      deadLetters: letters.length,
      deadLettersNotPoisoned: notPoisoned,
      deadLetterStages: stages,
      deadLettersNotPoisonedSample: unexpected,
      replay: {
        replayed: first.filter((r) => r.status === 'replayed').length,
        drainMs,
        appliedOnce,
        effectsFromReplays: afterFirst.effectsByOrigin.replay ?? 0,
        doubledAfterReplay: dlIds.filter((id) => (afterFirst.effectCounts.get(id) ?? 0) > 1).length,
        secondReplayed: second.filter((r) => r.status === 'replayed').length + byId.filter((r) => r.status === 'replayed').length,
        secondAlreadyReplayed: byId.filter((r) => r.status === 'already-replayed').length,
        effectsChanged: countEffects(afterSecond) - countEffects(afterFirst),
        callsChanged: afterSecond.calls - afterFirst.calls,
        pendingDeadLetters: await dl.count({ replayed: false })
      }
    }
  } finally {
    await dl.close()
  }
}

/** @param {ReturnType<typeof readLedger>} ledger */
function countEffects (ledger) {
  let n = 0
  for (const v of ledger.effectCounts.values()) n += v
  return n
}

/**
 * Acknowledged = applied once ⊎ dead letters, then the replays.
 * @param {Figures} f
 */
export function replayChecks (f) {
  const r = f.replay
  return [
    check('acknowledged events both applied and dead-lettered', f.appliedAndDeadLettered, f.appliedAndDeadLettered === 0, 0),
    check('events dead-lettered = poisoned events acknowledged', `${f.deadLetterEvents} / ${f.poisoned}`, f.deadLetterEvents === f.poisoned && f.deadLettersNotPoisoned === 0 && f.poisoned > 0, 'equal, > 0'),
    check('dead letters at stage hydrate', f.deadLetterStages.hydrate ?? 0, f.deadLetterStages.hydrate === f.deadLetters, f.deadLetters),
    check('letters replayed after the fix; their events applied once each (by a replay)', `${r.replayed}; ${r.appliedOnce} (${r.effectsFromReplays})`,
      r.replayed === f.deadLetters && r.appliedOnce === f.deadLetterEvents && r.effectsFromReplays === f.deadLetterEvents && r.doubledAfterReplay === 0, `${f.deadLetters}; ${f.deadLetterEvents} (${f.deadLetterEvents})`),
    check('second replay: letters replayed again', r.secondReplayed, r.secondReplayed === 0, 0),
    check('second replay: reported already-replayed', r.secondAlreadyReplayed, r.secondAlreadyReplayed === f.deadLetters, f.deadLetters),
    check('second replay: effects and apply calls changed', `${r.effectsChanged} / ${r.callsChanged}`, r.effectsChanged === 0 && r.callsChanged === 0, '0 / 0'),
    check('dead letters still pending', r.pendingDeadLetters, r.pendingDeadLetters === 0, 0)
  ]
}

/**
 * @param {Figures} f
 * @param {import('../types.d.mts').Settings} s
 */
function poisonChecks (f, s) {
  return [...replayChecks(f), ...deliveryChecks(f, s, { deadLetters: false })]
}
