import { Queue } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import { createProducerClient, within, type ManagedClient, type RedisClient } from '../core/connection.js'
import { JOB_NAME, serializeEvent, type WebhookEvent } from '../core/event.js'
import { safeJobId } from '../core/job-id.js'
import { eventJobOptions } from '../core/job-options.js'
import { checkPersistence, type PersistenceReport } from '../core/persistence.js'
import { prepareAddScript, type AddScript } from './add-script.js'
import { WebhookErrors } from '../core/errors.js'
import type { ResolvedPluginOptions } from './options.js'

/** Why an event could not be enqueued. Each gives 503 with `Retry-After`. */
export type EnqueueFailureReason = 'redis_not_ready' | 'persistence_refused' | 'enqueue_timeout' | 'enqueue_failed' | 'not_replicated'

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

/** Builds the producer: a fail-fast connection and a BullMQ `Queue` on it. Connecting starts at once. */
export function createEventProducer (options: ProducerOptions, log: FastifyBaseLogger, internals: ProducerInternals = {}): EventProducer {
  let everReady = false
  let reportedDown = false
  let queueReady = false
  // Under 'refuse', nothing is accepted until a check of the current connection passed.
  let verified = options.persistenceCheck !== 'refuse'
  let lastCheck: Promise<PersistenceReport | undefined> = Promise.resolve(undefined)
  let lastReport: PersistenceReport | undefined
  let addScript: AddScript | undefined
  let addMode: EventProducer['addMode']

  const managed: ManagedClient = createProducerClient(options.connection, {
    onError: onRedisError,
    connectionName: `webhooks:${options.name}`,
    // One command per add: holding it for the turn's end bought no
    // throughput and kept every request's buffers alive for longer.
    batchWrites: false
  })
  const client = managed.client
  client.on('ready', onRedisReady)
  client.on('close', onRedisClose)
  // The producer only runs BullMQ's add script: skipping BullMQ's own INFO-based
  // version check keeps a Redis that refuses INFO usable.
  const queue = new Queue(options.queueName, { connection: client, prefix: options.prefix, skipVersionCheck: true })
  queue.on('error', () => {}) // connection errors are logged by onRedisError
  const initialized = queue.waitUntilReady().then(async () => {
    addScript = internals.addScript === false ? undefined : await prepareAddScript(queue, client)
    addMode = addScript === undefined ? 'queue' : 'script'
    if (addScript === undefined && internals.addScript !== false) {
      log.info({ queueName: options.queueName }, 'webhook intake: BullMQ\'s add script could not be matched; adding through queue.add with a separate duplicate check')
    }
    queueReady = true
  }, () => {})

  return {
    queue,
    client,
    get ready () { return queueReady && verified && client.status === 'ready' },
    get persistence () { return lastReport },
    get addMode () { return addMode },
    boot,
    add,
    close
  }

  function onRedisReady (): void {
    everReady = true
    reportedDown = false
    log.info({ queueName: options.queueName }, 'webhook intake: Redis is ready')
    if (options.persistenceCheck !== 'off') lastCheck = runPersistenceCheck()
  }

  function onRedisClose (): void {
    if (options.persistenceCheck === 'refuse') verified = false
    if (everReady && !reportedDown) {
      reportedDown = true
      log.warn({ queueName: options.queueName }, 'webhook intake: lost the Redis connection; answering 503 until it is back')
    }
  }

  function onRedisError (err: Error): void {
    if (reportedDown) return
    reportedDown = true
    log.warn({ queueName: options.queueName, err: { message: err.message, code: (err as { code?: string }).code } },
      'webhook intake: Redis is not reachable; answering 503 until it is')
  }

  async function runPersistenceCheck (): Promise<PersistenceReport> {
    const report = await checkPersistence(client)
    lastReport = report
    const fields = { queueName: options.queueName, aof: report.aof, maxmemoryPolicy: report.maxmemoryPolicy, problems: report.problems }
    if (report.ok) {
      verified = true
      log.info(fields, 'webhook intake: Redis persistence verified (appendonly yes, noeviction)')
    } else if (!report.verifiable) {
      // Managed services may deny INFO: refusing them would leave no way to run there.
      verified = true
      log.warn(fields, 'webhook intake: Redis persistence is unverifiable (INFO refused); make sure appendonly is yes and maxmemory-policy is noeviction')
    } else if (options.persistenceCheck === 'refuse') {
      verified = false
      log.error(fields, 'webhook intake: Redis is not durable; refusing webhooks (503) until it is')
    } else {
      log.warn(fields, 'webhook intake: Redis is not durable; an acknowledged webhook can be lost')
    }
    return report
  }

  async function boot (): Promise<void> {
    const deadline = Date.now() + options.readyTimeoutMs
    const left = (): number => Math.max(0, deadline - Date.now())
    if (options.requireRedisAtBoot) {
      await within(initialized, left())
      if (!queueReady) {
        await close()
        throw new WebhookErrors.FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT(
          `Redis was not ready within ${options.readyTimeoutMs} ms (requireRedisAtBoot is true; status: ${client.status})`)
      }
    } else {
      // The first connection attempt, and once it connects the queue, so the
      // first request after `ready()` is accepted; a Redis that refuses the
      // connection does not hold the boot up, a silent one for `readyTimeoutMs` at most.
      await within(firstOutcome(client), left())
      if (client.status === 'ready') await within(initialized, left())
    }
    if (client.status !== 'ready' || options.persistenceCheck !== 'refuse') return
    await within(lastCheck, left())
    const report = lastReport
    if (report !== undefined && report.verifiable && !report.ok) {
      await close()
      throw new WebhookErrors.WEBHOOK_PERSISTENCE(
        `Redis is not durable and persistenceCheck is 'refuse': ${report.problems.join('; ')}`)
    }
  }

  async function add (event: WebhookEvent, payloadJson?: string): Promise<EnqueueOutcome> {
    if (!queueReady || client.status !== 'ready') return { ok: false, reason: 'redis_not_ready' }
    if (!verified) return { ok: false, reason: 'persistence_refused' }
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
      const duplicate = await withDeadline(adding, options.ackTimeoutMs)
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
    const confirmed = await withDeadline(client.wait(options.waitReplicas, waitMs), remainingMs)
    if (confirmed === TIMED_OUT) return { ok: false, reason: 'enqueue_timeout' }
    if (confirmed >= options.waitReplicas) return undefined
    return { ok: false, reason: 'not_replicated', cause: new Error(`${confirmed} of ${options.waitReplicas} replicas confirmed the job within ${waitMs} ms`) }
  }

  async function close (): Promise<void> {
    client.off('ready', onRedisReady)
    client.off('close', onRedisClose)
    // The connection first: a queue still waiting for its first ready only
    // settles once the connection has ended.
    await managed.close()
    await within(queue.close().catch(() => {}), 2000)
  }
}

const TIMED_OUT = Symbol('timed out')

/**
 * The promise's outcome, or {@link TIMED_OUT} after `ms`. One timer and one
 * promise per call; a late rejection is absorbed.
 */
function withDeadline<T> (promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, TIMED_OUT)
    promise.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (err: unknown) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

async function firstOutcome (client: RedisClient): Promise<void> {
  if (client.status === 'ready') return
  await new Promise<void>((resolve) => {
    function settle (): void {
      client.off('ready', settle)
      client.off('error', settle)
      client.off('end', settle)
      resolve()
    }
    client.once('ready', settle)
    client.once('error', settle)
    client.once('end', settle)
  })
}
