// @ts-check
// A side run of the sender on a scenario's stack, under its own run id (so
// the main run's accounting does not see it): a warm-up, or a batch whose
// processing is timed.
import { chaosProvider } from './provider.mjs'
import { createSender } from './sender.mjs'

/**
 * Sends `events` events and resolves with the sender once each is acknowledged (or given up); `observe` sees every attempt.
 * @param {import('./types.d.mts').Ctx} ctx
 * @param {{ events: number, label: string, senders?: number, observe?: (r: import('./types.d.mts').AttemptResult) => void }} batch
 */
export async function sendBatch ({ stack, s }, { events, label, senders = s.senders, observe }) {
  const sender = createSender({
    target: stack.target,
    path: '/v1/events',
    provider: chaosProvider(s.secret),
    events,
    senders,
    runId: `${s.name}-${label}-${Date.now().toString(36)}`,
    attemptTimeoutMs: s.attemptTimeoutMs
  })
  if (observe) sender.observe(observe)
  await sender.run()
  return sender
}
