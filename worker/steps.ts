import { DelayedError, WaitingError, type Job } from 'bullmq'
import { deadline } from '../core/deadline.js'
import { WebhookErrors } from '../core/errors.js'
import type { DedupeOptions } from './options.js'
import type { WebhookEvent } from '../core/event.js'

/**
 * Runs one user step with a deadline: on timeout the attempt's signal aborts
 * with `WEBHOOK_WORKER_TIMEOUT` and the step rejects with it, whether or not
 * the user's code listens to the signal. The step also rejects as soon as the
 * signal aborts for another reason (the claim lost, a forced close), and `fn`
 * is not called when it has aborted already.
 */
export async function withTimeout<T> (step: string, timeoutMs: number, controller: AbortController, fn: () => T | Promise<T>): Promise<T> {
  return await deadline(timeoutMs, controller.signal, (stepSignal) => {
    // The user's code holds the attempt's signal, not the step's: a timeout aborts the attempt.
    stepSignal.addEventListener('abort', () => controller.abort(stepSignal.reason), { once: true })
    return fn()
  }, { error: () => new WebhookErrors.WEBHOOK_WORKER_TIMEOUT(step, timeoutMs) })
}

/** True for the error {@link withTimeout} rejects with. */
export function isTimeout (err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'WEBHOOK_WORKER_TIMEOUT'
}

/**
 * Puts the job back in the delayed set without spending an attempt, then
 * throws BullMQ's `DelayedError` so BullMQ leaves it there (bullmq 6: move
 * first, then throw). Used while another worker holds the event's claim.
 */
export async function delayWithoutAttempt (job: Job, token: string | undefined, delayMs: number): Promise<never> {
  await job.moveToDelayed(Date.now() + delayMs, token ?? job.token)
  throw new DelayedError()
}

/**
 * Puts the job back in wait without spending an attempt, then throws BullMQ's
 * `WaitingError` so BullMQ leaves it there. Used by a forced close: the next
 * worker runs the job at once instead of after a stall.
 */
export async function waitWithoutAttempt (job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token ?? job.token)
  throw new WaitingError()
}

/** Whether a step's promise settled within `ms` (or before `stop` aborted), and how. */
export async function settledWithin (running: Promise<unknown>, ms: number, stop: AbortSignal): Promise<'resolved' | 'rejected' | 'running'> {
  const outcome = running.then(() => 'resolved' as const, () => 'rejected' as const)
  // The outcome never rejects: a rejection is `stop` aborting.
  return await deadline(ms, stop, () => outcome, { fallback: () => 'running' as const }).catch(() => 'running' as const)
}

/** How long a duplicate waits for a busy claim: about the holder's remaining lease, between 100 ms and 5 s, jittered. */
export function busyDelayMs (heldForMs: number, random: () => number = Math.random): number {
  const d = Math.min(5000, Math.max(100, heldForMs))
  return Math.ceil(d / 2 + random() * (d / 2))
}

/** The done-marker TTL of an event; a TTL function returning nonsense falls back to the default. */
export function dedupeTtlMs (option: Required<DedupeOptions>['ttlMs'], fallbackMs: number, event: WebhookEvent, onBad: (value: unknown) => void): number {
  if (typeof option === 'number') return option
  let value: unknown
  try {
    value = option(event)
  } catch (err) {
    value = err
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1000) return value
  onBad(value)
  return fallbackMs
}

/** Anything thrown, as an `Error` (BullMQ stores `message` and `stack`). */
export function toError (value: unknown): Error {
  if (value instanceof Error) return value
  return new Error(typeof value === 'string' ? value : `Non-error thrown: ${String(value)}`)
}
