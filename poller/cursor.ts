import type { RedisClient } from '../core/connection.js'
import { bounded, type Lease, type PollKeys } from '../core/lease.js'
import { WebhookErrors } from '../core/errors.js'
import { expected } from '../core/validate.js'

/**
 * A cursor kept outside Redis, e.g. in the application's database next to the
 * data it guards. `save` must be a compare-and-set.
 */
export interface CursorStore {
  /** The saved cursor, or `null`/`undefined` when none was saved yet. */
  load: () => Promise<string | null | undefined> | string | null | undefined
  /**
   * Saves `next` only if the stored cursor is still `prev` (`null`: none
   * stored yet) and returns whether it did, e.g.
   * `UPDATE cursors SET value = $next, token = $token WHERE name = $source AND value IS NOT DISTINCT FROM $prev AND token <= $token`.
   * `fence.token` grows with every lease, so a store can also refuse a token lower than the last one it saw.
   */
  save: (next: string, prev: string | null, fence: { token: number, source: string }) => Promise<boolean> | boolean
}

/** How a compare-and-set of the cursor ended. */
export type SaveOutcome = 'saved' | 'conflict' | 'lease-lost'

/** Where the cursor lives: Redis, or the user's store. */
export interface CursorBackend {
  /** The saved cursor, `null` when none was saved yet. */
  load: () => Promise<string | null>
  /** Saves `next` if the cursor is still `prev` and `lease` is still held. */
  save: (next: string, prev: string | null, lease: Lease) => Promise<SaveOutcome>
}

// Lease check and compare-and-set in one script: a run that lost its lease
// cannot save, even if its renewal has not noticed yet.
const SAVE = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
local current = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`

const OUTCOMES: Record<string, SaveOutcome> = { 1: 'saved', 0: 'conflict', '-1': 'lease-lost' }

/** The cursor in Redis, under the queue's keys, fenced by the lease. */
export function redisCursor (client: RedisClient, keys: PollKeys, timeoutMs: number): CursorBackend {
  async function load (): Promise<string | null> {
    return await bounded(client.get(keys.cursor), timeoutMs, 'loading the poll cursor')
  }
  async function save (next: string, prev: string | null, lease: Lease): Promise<SaveOutcome> {
    const answer = await bounded(
      client.eval(SAVE, 2, keys.cursor, keys.lease, next, prev ?? '', lease.token, prev === null ? '0' : '1'),
      timeoutMs, 'saving the poll cursor')
    return OUTCOMES[String(answer)] as SaveOutcome
  }
  return { load, save }
}

/**
 * The cursor in the user's store. The store's own compare-and-set keeps the
 * cursor from moving backwards; the lease is checked just before each save,
 * and the fencing token is passed so a store can refuse an older holder.
 */
export function storeCursor (store: CursorStore, source: string): CursorBackend {
  async function load (): Promise<string | null> {
    const value = await store.load()
    if (value === null || value === undefined) return null
    if (typeof value !== 'string') throw new WebhookErrors.WEBHOOK_POLLER_BAD_CURSOR_STORE(expected('store.load()', 'to resolve to a string, null or undefined', value))
    return value
  }
  async function save (next: string, prev: string | null, lease: Lease): Promise<SaveOutcome> {
    if (!await lease.held()) return 'lease-lost'
    const saved = await store.save(next, prev, { token: lease.token, source })
    if (typeof saved !== 'boolean') throw new WebhookErrors.WEBHOOK_POLLER_BAD_CURSOR_STORE(expected('store.save()', 'to resolve to a boolean (false when the compare failed)', saved))
    return saved ? 'saved' : 'conflict'
  }
  return { load, save }
}

/** When the last run reached `hasMore: false`; `null` before any run. */
export async function readSyncedAt (client: RedisClient, keys: PollKeys, timeoutMs: number): Promise<number | null> {
  const value = await bounded(client.get(keys.synced), timeoutMs, 'reading the poll lag')
  return value === null ? null : Number(value)
}

/**
 * Records that the provider had nothing more at `at`. With `onlyIfMissing`,
 * starts the lag clock when a cursor is first created.
 */
export async function markSynced (client: RedisClient, keys: PollKeys, at: number, timeoutMs: number, onlyIfMissing = false): Promise<void> {
  const write = onlyIfMissing ? client.set(keys.synced, at, 'NX') : client.set(keys.synced, at)
  await bounded(write, timeoutMs, 'recording the poll lag')
}
