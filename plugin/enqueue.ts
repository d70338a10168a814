/**
 * The producer's add path: the event's job id and data, the add (one script
 * call, or BullMQ's `add` with an `EXISTS`) within `ackTimeoutMs`, and the
 * replicas' confirmations under `waitReplicas`. Whether an add may be tried
 * at all is the intake gate's decision (`intake-gate.ts`).
 */
import { Queue } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import { deadline } from '../core/deadline.js'
import { createProducerClient, within, type ManagedClient, type RedisClient } from '../core/connection.js'
import { JOB_NAME, serializeEvent, type WebhookEvent } from '../core/event.js'
import { safeJobId } from '../core/job-id.js'
import { eventJobOptions } from '../core/job-options.js'
import type { PersistenceReport } from '../core/persistence.js'
import { prepareAddScript, type AddScript } from './add-script.js'
import { createIntakeGate, type GateRefusal } from './intake-gate.js'
import type { ResolvedPluginOptions } from './resolve-options.js'

/** Why an event could not be enqueued. Each gives 503 with `Retry-After`. */
export type EnqueueFailureReason = GateRefusal | 'enqueue_timeout' | 'enqueue_failed' | 'not_replicated'

const WAIT_SLACK_MS = 100

export type EnqueueOutcome =
  | { ok: true, jobId: string, duplicate: boolean }
  | { ok: false, reason: EnqueueFailureReason, cause?: unknown }
  // Permanent, unlike the others: no retry can serialize the same event.
  | { ok: false, reason: 'unserializable', cause: RangeError }

/** Adds events to the queue, fails fast when Redis cannot take them, and watches Redis' settings. */
export interface EventProducer {
  readonly queue: Queue
  readonly client: RedisClient
  /** True when an add would be attempted now. */
  readonly ready: boolean
  /** The last persistence check's report; `undefined` before one ran (or under `persistenceCheck: 'off'`). */
  readonly persistence: PersistenceReport | undefined
  /** Waits for Redis as the options require; throws a coded error when `register` must fail. */
  boot: () => Promise<void>
  /**
   * Adds the event's job. `payloadJson`, when given, is the payload's own JSON
   * text (the verified body), stored as it is instead of serializing the
   * parsed payload again.
   */
  add: (event: WebhookEvent, payloadJson?: string) => Promise<EnqueueOutcome>
  /** How jobs are added: `script` (one round trip) or `queue` (BullMQ's `add` and an `EXISTS`). */
  readonly addMode: 'script' | 'queue' | undefined
  /** Closes the queue and the producer connection (a connection the user passed stays open). */
  close: () => Promise<void>
}

type ProducerOptions = Pick<ResolvedPluginOptions,
  'connection' | 'queueName' | 'prefix' | 'ackTimeoutMs' | 'requireRedisAtBoot' | 'readyTimeoutMs' | 'persistenceCheck' | 'name' | 'waitReplicas'>

/** For the tests: `addScript: false` forces the `queue.add` path. */
export interface ProducerInternals { addScript?: boolean }

/**
 * Builds the producer: a fail-fast connection, its intake gate, and a
 * BullMQ `Queue` on it. Connecting starts at once.
 */
export function createEventProducer (options: ProducerOptions, log: FastifyBaseLogger, internals: ProducerInternals = {}): EventProducer {
  let addScript: AddScript | undefined
  let addMode: EventProducer['addMode']

  const managed: ManagedClient = createProducerClient(options.connection, {
    connectionName: `webhooks:${options.name}`,
    // One command per add: holding it for the turn's end bought no
    // throughput and kept every request's buffers alive for longer.
    batchWrites: false
  })
  const client = managed.client
  // Before the queue: the gate's listeners run first on each connect.
  const gate = createIntakeGate(client, options, log)
  // The producer only runs BullMQ's add script: skipping BullMQ's own INFO-based
  // version check keeps a Redis that refuses INFO usable.
  const queue = new Queue(options.queueName, { connection: client, prefix: options.prefix, skipVersionCheck: true })
  queue.on('error', () => {}) // connection errors are logged by the gate
  const initialized = queue.waitUntilReady().then(async () => {
    addScript = internals.addScript === false ? undefined : await prepareAddScript(queue, client)
    addMode = addScript === undefined ? 'queue' : 'script'
    if (addScript === undefined && internals.addScript !== false) {
      log.info({ queueName: options.queueName }, 'webhook intake: BullMQ\'s add script could not be matched or loaded; adding through queue.add with a separate duplicate check')
    }
    gate.queueReady()
  }, () => {})

  return {
    queue,
    client,
    get ready () { return gate.open },
    get persistence () { return gate.persistence },
    get addMode () { return addMode },
    boot: async () => { await gate.boot(initialized, close) },
    add,
    close
  }

  async function add (event: WebhookEvent, payloadJson?: string): Promise<EnqueueOutcome> {
    const refused = gate.refusal()
    if (refused !== undefined) return { ok: false, reason: refused }
    const jobId = safeJobId(event.source, event.id)
    // Serialized before Redis is asked anything, so an event too deep for
    // JSON.stringify (a RangeError) is never mistaken for a Redis failure.
    let data: string
    try {
      data = serializeEvent(event, payloadJson)
    } catch (err) {
      if (err instanceof RangeError) return { ok: false, reason: 'unserializable', cause: err }
      throw err
    }
    const startedAt = Date.now()
    const adding = addScript !== undefined
      ? addScript.add(jobId, data)
      : addWithExists(jobId, event)
    try {
      const duplicate = await deadline(options.ackTimeoutMs, undefined, () => adding, { fallback: (): typeof TIMED_OUT => TIMED_OUT })
      if (duplicate === TIMED_OUT) return { ok: false, reason: 'enqueue_timeout' }
      if (options.waitReplicas > 0) {
        const replicated = await waitForReplicas(startedAt)
        if (replicated !== undefined) return replicated
      }
      return { ok: true, jobId, duplicate }
    } catch (err) {
      return { ok: false, reason: 'enqueue_failed', cause: err }
    }
  }

  // BullMQ's add resolves the same for a duplicate job id. An EXISTS written
  // on the same connection just before the add script runs first, so it says
  // whether the job was already there (two concurrent first deliveries may
  // both count as new; neither is lost).
  async function addWithExists (jobId: string, event: WebhookEvent): Promise<boolean> {
    const existed = client.exists(queue.toKey(jobId))
    const added = queue.add(JOB_NAME, event, eventJobOptions(jobId))
    existed.catch(() => {})
    const [count] = await Promise.all([existed, added])
    return count === 1
  }

  /**
   * WAIT on the connection that wrote the job, for what is left of the
   * deadline. A duplicate's add writes too (BullMQ logs a `duplicated` event),
   * so WAIT also covers the first delivery's job. `undefined` when enough
   * replicas confirmed, else the failure.
   */
  async function waitForReplicas (startedAt: number): Promise<EnqueueOutcome | undefined> {
    const remainingMs = options.ackTimeoutMs - (Date.now() - startedAt)
    if (remainingMs < 1) return { ok: false, reason: 'enqueue_timeout' }
    // Redis looks at blocked clients' timeouts on its cron (every 100 ms at the
    // default hz): asked for less, WAIT answers before our own deadline.
    const waitMs = Math.max(1, remainingMs - WAIT_SLACK_MS)
    const confirmed = await deadline(remainingMs, undefined, async () => await client.wait(options.waitReplicas, waitMs), { fallback: (): typeof TIMED_OUT => TIMED_OUT })
    if (confirmed === TIMED_OUT) return { ok: false, reason: 'enqueue_timeout' }
    if (confirmed >= options.waitReplicas) return undefined
    return { ok: false, reason: 'not_replicated', cause: new Error(`${confirmed} of ${options.waitReplicas} replicas confirmed the job within ${waitMs} ms`) }
  }

  async function close (): Promise<void> {
    gate.detach()
    // The connection first: a queue still waiting for its first ready only
    // settles once the connection has ended.
    await managed.close()
    await within(queue.close().catch(() => {}), 2000)
  }
}

const TIMED_OUT = Symbol('timed out')
