/**
 * Senders that batch several events in one signed JSON array (SendGrid,
 * HubSpot): the batch is one job, its id derived from the ids of its events,
 * so a retry of the same batch, re-signed with a fresh timestamp, is a duplicate.
 */
import { createHash } from 'node:crypto'
import { idFromValue, typeFromValue } from './util.js'

/** The events of a batch body: the array, or a lone object as a batch of one. */
export function batchItems (items: unknown[] | undefined, value: Record<string, unknown>): unknown[] {
  return items ?? [value]
}

/**
 * The batch's id: the id of its one event, or a digest of every event id,
 * sorted (a re-ordered batch is the same batch) and length-prefixed (no two
 * lists of ids give one digest). `undefined` when an event has no usable id.
 */
export function batchId (items: readonly unknown[], field: string): string | undefined {
  const ids: string[] = []
  for (const item of items) {
    const id = typeof item === 'object' && item !== null && !Array.isArray(item) ? idFromValue((item as Record<string, unknown>)[field]) : undefined
    if (id === undefined) return undefined
    ids.push(id)
  }
  if (ids.length === 0) return undefined
  if (ids.length === 1) return ids[0]
  const hash = createHash('sha256')
  for (const id of ids.sort()) hash.update(`${Buffer.byteLength(id)}:${id}`)
  return `batch:${hash.digest('hex')}`
}

/** The type shared by every event of the batch, `'mixed'` when they differ. */
export function batchType (items: readonly unknown[], field: string): string {
  const types = new Set(items.map((item) => typeof item === 'object' && item !== null ? typeFromValue((item as Record<string, unknown>)[field]) : ''))
  return types.size === 1 ? [...types][0] : 'mixed'
}
