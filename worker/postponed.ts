/** Why an attempt gives its job back without spending an attempt. */
export type PostponeReason = 'rate-limited' | 'object-busy'

/**
 * Thrown inside an attempt that must wait: hydration is paused or over its
 * budget, or another job is applying the same object. The processor releases
 * the claim and delays the job by `delayMs` without spending an attempt.
 */
export class Postponed extends Error {
  override name = 'Postponed'
  readonly reason: PostponeReason
  readonly delayMs: number

  constructor (reason: PostponeReason, delayMs: number, options?: { cause?: unknown }) {
    super(reason === 'rate-limited' ? `Hydration is rate limited for ${delayMs} ms` : `The object is being applied by another job (${delayMs} ms)`, options)
    this.reason = reason
    this.delayMs = delayMs
  }
}

/** The delay of a postponed job: `delayMs` plus up to 10% (at most 1 s), so jobs given back together come back spread out. */
export function postponedDelayMs (delayMs: number, random: () => number = Math.random): number {
  return Math.ceil(delayMs + random() * Math.min(1000, delayMs / 10))
}
