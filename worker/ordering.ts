import { WebhookErrors } from '../core/errors.js'
import type { WebhookEvent } from '../core/event.js'
import type { ObjectKeyOf, ObjectVersion, VersionOf } from './options.js'
import { describeValue } from '../core/validate.js'
import { objectKeys, type ObjectKeys } from '../core/keys.js'

export { objectKeys, type ObjectKeys }

/** What the order check decided for a hydrated state. */
export type OrderDecision = 'apply' | 'stale' | 'unchanged' | 'incomparable'

/** Calls `objectKey(event)`; anything but a non-empty string or `undefined` is `WEBHOOK_WORKER_BAD_CALLBACK_VALUE`. */
export function objectKeyOf<P> (fn: ObjectKeyOf<P> | undefined, event: WebhookEvent<P>): string | undefined {
  if (fn === undefined) return undefined
  const key: unknown = fn(event)
  if (key === undefined || (typeof key === 'string' && key !== '')) return key
  throw new WebhookErrors.WEBHOOK_WORKER_BAD_CALLBACK_VALUE(`objectKey(event) must return a non-empty string or undefined, got ${describeValue(key)}`)
}

/** Calls `version(state)`; anything but a finite number, a bigint or a string is `WEBHOOK_WORKER_BAD_CALLBACK_VALUE`. */
export function versionOf<S> (fn: VersionOf<S>, state: S): ObjectVersion {
  const v: unknown = fn(state)
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint' || typeof v === 'string') return v
  throw new WebhookErrors.WEBHOOK_WORKER_BAD_CALLBACK_VALUE(`version(state) must return a finite number, a bigint or a string, got ${describeValue(v)}`)
}

/** How a version is stored in Redis: its type, then its text (numbers round-trip exactly through `String`). */
export function encodeVersion (v: ObjectVersion): string {
  if (typeof v === 'number') return `n:${String(v)}`
  if (typeof v === 'bigint') return `b:${v.toString()}`
  return `s:${v}`
}

/**
 * What is stored for an object: the version last committed, and for a
 * tombstone (the last commit was a `null` state), when the deletion was
 * confirmed, in µs on Redis's clock.
 */
export interface StoredVersion {
  version: ObjectVersion | undefined
  deletedAt?: number
}

/**
 * How a tombstone is stored: `d:<deletedAt µs>:<the version committed before it, stored form, or nothing>`.
 * A new prefix, so `n:`, `b:` and `s:` values read as before.
 */
export function encodeTombstone (deletedAt: number, version: ObjectVersion | undefined): string {
  return `d:${String(deletedAt)}:${version === undefined ? '' : encodeVersion(version)}`
}

/** The stored form back: a version, a tombstone, or `{ version: undefined }` for nothing stored (or a form this worker does not know). */
export function decodeStored (raw: string | undefined): StoredVersion {
  const tombstone = raw === undefined ? null : /^d:(\d{1,16}):(.*)$/s.exec(raw)
  if (tombstone === null) return { version: decodePlain(raw) }
  return { version: decodePlain(tombstone[2]), deletedAt: Number(tombstone[1]) }
}

/** The stored form back as a version (a tombstone's: the one committed before the deletion); `undefined` for nothing stored (or a form this worker does not know). */
export function decodeVersion (raw: string | undefined): ObjectVersion | undefined {
  return decodeStored(raw).version
}

function decodePlain (raw: string | undefined): ObjectVersion | undefined {
  if (raw === undefined || raw.length < 2 || raw[1] !== ':') return undefined
  const text = raw.slice(2)
  if (raw[0] === 's') return text
  if (raw[0] === 'b') {
    try {
      return BigInt(text)
    } catch {
      return undefined
    }
  }
  const n = raw[0] === 'n' && text !== '' ? Number(text) : Number.NaN
  return Number.isNaN(n) ? undefined : n
}

/**
 * -1, 0 or 1; `undefined` when the two cannot be compared (a string against a
 * number). Numbers and bigints compare by value, strings by code unit.
 */
export function compareVersions (a: ObjectVersion, b: ObjectVersion): -1 | 0 | 1 | undefined {
  if (typeof a === 'string' || typeof b === 'string') {
    if (typeof a !== 'string' || typeof b !== 'string') return undefined
    return a < b ? -1 : a > b ? 1 : 0
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  // A bigint against a non-integer number can only be compared as doubles.
  const exact = (typeof a === 'bigint' || Number.isInteger(a)) && (typeof b === 'bigint' || Number.isInteger(b))
  const x = exact ? BigInt(a) : Number(a)
  const y = exact ? BigInt(b) : Number(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Applied when nothing was committed or when the state has no version (`null`:
 * the object is gone); skipped as `stale` when older than the last committed
 * version, and as `unchanged` when equal and `skipEqual`. `incomparable` (a
 * string against a number: the version's type changed) is applied too.
 */
export function orderDecision (last: ObjectVersion | undefined, next: ObjectVersion | undefined, skipEqual: boolean): OrderDecision {
  if (last === undefined || next === undefined) return 'apply'
  const cmp = compareVersions(next, last)
  if (cmp === undefined) return 'incomparable'
  if (cmp === -1) return 'stale'
  if (cmp === 0 && skipEqual) return 'unchanged'
  return 'apply'
}

/**
 * The order decision against what is stored. After a tombstone, a state is
 * applied only if its fetch surely started after the deletion was confirmed
 * (`fetchedAfter`, the Redis time of the claim that preceded the call, is
 * later than `deletedAt`): the object was re-created, whatever its version.
 * Any other state may have been fetched before the deletion and is `stale`,
 * and so is a state of unknown fetch time (`undefined`: the event's payload).
 * `null` states are always applied.
 */
export function storedDecision (stored: StoredVersion, next: ObjectVersion | undefined, fetchedAfter: number | undefined, skipEqual: boolean): OrderDecision {
  if (stored.deletedAt === undefined || next === undefined) return orderDecision(stored.version, next, skipEqual)
  return fetchedAfter !== undefined && fetchedAfter > stored.deletedAt ? 'apply' : 'stale'
}
