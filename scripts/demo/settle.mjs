// @ts-check
// After the last delivery: let the pipeline catch up before the check.
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

/**
 * Runs the poller until one run reaches the provider's latest change (so
 * every dropped change is in the queue), then waits for an empty queue. Gives
 * up at `deadline` (the check then says what is missing), or when `stopped()`.
 * @param {object} opts
 * @param {import('./pipeline.mjs').Pipeline} opts.pipeline
 * @param {string} opts.target the provider's latest cursor
 * @param {number} opts.deadline ms since epoch
 * @param {() => boolean} opts.stopped
 * @param {(backlog: number) => void} opts.onBacklog
 */
export async function catchUp ({ pipeline, target, deadline, stopped, onBacklog }) {
  for (;;) {
    if (Date.now() >= deadline || stopped()) return
    /** @type {{ skipped?: string, cursor?: string }} */
    const result = await pipeline.poller.runOnce().catch(() => ({ skipped: 'error' }))
    if (result.skipped === undefined && result.cursor === target) break
    await sleep(200)
  }
  /** @type {number | undefined} */
  let idleSince
  for (;;) {
    if (Date.now() >= deadline || stopped()) return
    const backlog = await pipeline.backlog()
    onBacklog(backlog)
    if (backlog === 0) {
      idleSince ??= Date.now()
      // Empty for a moment, not between a job's completion and its successor's add.
      if (Date.now() - idleSince >= 300) return
    } else idleSince = undefined
    await sleep(100)
  }
}

/**
 * On a Redis the demo does not own, it leaves nothing behind.
 * @param {string} url
 * @param {string} queueName
 */
export async function removeQueueKeys (url, queueName) {
  const client = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `bull:${queueName}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await client.del(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
}
