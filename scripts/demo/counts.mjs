// @ts-check
// The figures of the summary: what each part counted, gathered at the end.

/** @typedef {ReturnType<typeof newCounts>} Counts */

/** Every counter at zero; the pipeline adds to some while it runs. */
export function newCounts () {
  return {
    deliveries: 0,
    deliveryAttempts: 0,
    senderRetries: 0,
    senderGaveUp: 0,
    lostAnswers: 0,
    duplicatesSent: 0,
    reordered: 0,
    dropped: 0,
    ordersOnlyPollerCanFix: 0,
    duplicatesSkipped: 0,
    dupAtIngress: 0,
    dupInWorker: 0,
    dupInDatabase: 0,
    staleSkipped: 0,
    staleInWorker: 0,
    staleInDatabase: 0,
    alreadyCurrent: 0,
    currentInWorker: 0,
    currentInDatabase: 0,
    hydrateCalls: 0,
    hydrate429: 0,
    hydrate500: 0,
    apiRequests: 0,
    api429: 0,
    api429Burst: 0,
    api500: 0,
    pollRuns: 0,
    pollPages: 0,
    pollEvents: 0,
    applied: 0,
    appliedFromWebhook: 0,
    appliedFromPoll: 0,
    deadLetters: 0
  }
}

/**
 * Adds what the sender, the scenario, the provider and the app counted, and the totals.
 * @param {Counts} counts
 * @param {object} parts
 * @param {import('./sender.mjs').Sender} parts.sender
 * @param {import('./scenario.mjs').Scenario} parts.scenario
 * @param {import('./provider.mjs').FakeProvider} parts.provider
 * @param {import('fastify-hybrid-webhooks').IntakeStats | undefined} parts.intakeStats
 * @param {number} parts.deadLetters
 */
export function collectCounts (counts, { sender, scenario, provider, intakeStats, deadLetters }) {
  Object.assign(counts, {
    deliveries: sender.stats.deliveries,
    deliveryAttempts: sender.stats.attempts,
    senderRetries: sender.stats.retries,
    senderGaveUp: sender.stats.gaveUp,
    lostAnswers: sender.stats.lostAnswers,
    duplicatesSent: scenario.plan.duplicates,
    reordered: scenario.plan.reordered,
    dropped: scenario.stats.droppedEvents,
    ordersOnlyPollerCanFix: scenario.ordersOnlyThePollerCanFix(),
    apiRequests: provider.stats.requests,
    api429: provider.stats.rateLimited,
    api429Burst: provider.stats.burstRateLimited,
    api500: provider.stats.serverErrors,
    dupAtIngress: intakeStats?.duplicates ?? 0,
    deadLetters
  })
  counts.duplicatesSkipped = counts.dupAtIngress + counts.dupInWorker + counts.dupInDatabase
  counts.staleSkipped = counts.staleInWorker + counts.staleInDatabase
  counts.alreadyCurrent = counts.currentInWorker + counts.currentInDatabase
  return counts
}
