import { createHash } from 'node:crypto'

/**
 * Every Redis key the package writes beyond BullMQ's own lives under
 * `{prefix}:{queueName}:wh:`, so one hash-tag prefix (e.g. `{webhooks}`) puts
 * the whole pipeline of a queue in one Redis Cluster slot. Job ids always
 * contain `.` or `#` (see safeJobId), so they never meet the `wh` segment.
 */
export function queueKeyBase (prefix: string, queueName: string): string {
  return `${prefix}:${queueName}:wh:`
}

/** The dead-letter queue of a queue. */
export function deadLetterQueueName (queueName: string): string {
  return `${queueName}-dlq`
}

/** The poller's scheduler queue of a queue (so the webhook worker never takes poll jobs). */
export function pollQueueName (queueName: string): string {
  return `${queueName}-poll`
}

/** The keys of one event. */
export interface EventKeys {
  done: string
  claim: string
  replayMarker?: string
  replayClaim?: string
  /** The object's version and lease, when its applies are ordered. */
  object?: ObjectKeys
}

/** The keys of an event under a queue's key base (see `queueKeyBase`). */
export function eventKeys (base: string, idempotencyKey: string, replayKey?: string, objectKey?: string): EventKeys {
  const keys: EventKeys = { done: `${base}done:${idempotencyKey}`, claim: `${base}claim:${idempotencyKey}` }
  if (replayKey !== undefined) {
    keys.replayMarker = `${base}replay:${replayKey}`
    keys.replayClaim = `${base}claim-replay:${replayKey}`
  }
  if (objectKey !== undefined) keys.object = objectKeys(base, objectKey)
  return keys
}

/** The Redis keys of one object: its committed version and the lease that keeps its applies apart. */
export interface ObjectKeys {
  version: string
  lease: string
}

// Short keys are kept readable; long ones (and any starting with '#') are hashed,
// so the mapping stays injective and Redis keys stay small.
const MAX_RAW_KEY = 200

/** The keys of an object under a queue's key base (see `queueKeyBase`). */
export function objectKeys (base: string, objectKey: string): ObjectKeys {
  const part = objectKey.length <= MAX_RAW_KEY && !objectKey.startsWith('#')
    ? objectKey
    : `#${createHash('sha256').update(objectKey).digest('hex')}`
  return { version: `${base}version:${part}`, lease: `${base}object:${part}` }
}

/** The queue's hydration keys: the call budget and the pause a 429 sets. */
export interface HydrationKeys {
  bucket: string
  pause: string
}

/** The hydration keys under a queue's key base (see `queueKeyBase`). */
export function hydrationKeys (base: string): HydrationKeys {
  return { bucket: `${base}hydrate:bucket`, pause: `${base}hydrate:pause` }
}
