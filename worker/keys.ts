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
