/**
 * Whether the producer may try an add now: Redis is ready, the queue is set up
 * on the connection, and under `persistenceCheck: 'refuse'` a check of the
 * current connection found Redis durable. It follows the connection's events,
 * runs the persistence check at each connect, logs the connection's ups and
 * downs once each, and decides at boot whether `register` must fail.
 */
import type { FastifyBaseLogger } from 'fastify'
import { within, type RedisClient } from '../core/connection.js'
import { checkPersistence, type PersistenceReport } from '../core/persistence.js'
import { WebhookErrors } from '../core/errors.js'
import type { ResolvedPluginOptions } from './resolve-options.js'

/** Why the gate refuses an add now. Each gives 503 with `Retry-After`. */
export type GateRefusal = 'redis_not_ready' | 'persistence_refused'

/** The options the gate reads. */
export type GateOptions = Pick<ResolvedPluginOptions, 'queueName' | 'requireRedisAtBoot' | 'readyTimeoutMs' | 'persistenceCheck'>

/** The producer's readiness, over one connection. */
export interface IntakeGate {
  /** True when an add would be attempted now. */
  readonly open: boolean
  /** Why an add must not be attempted now; `undefined` when it may. Never waits. */
  refusal: () => GateRefusal | undefined
  /** The last persistence check's report; `undefined` before one ran (or under `persistenceCheck: 'off'`). */
  readonly persistence: PersistenceReport | undefined
  /** Says that the queue is set up on the connection: until then every add is refused. */
  queueReady: () => void
  /**
   * Waits for Redis as the options require: the first connection attempt,
   * `setup` (the queue's setup, which never rejects) once connected, and the
   * persistence check under `'refuse'`, all within `readyTimeoutMs`. When
   * `register` must fail, runs `close` and then throws the coded error.
   */
  boot: (setup: Promise<unknown>, close: () => Promise<void>) => Promise<void>
  /** Stops following the connection's ready and close events. */
  detach: () => void
}

/** Starts following `client` at once; create it before anything else listens to the client, so the persistence check is the first command of each connection. */
export function createIntakeGate (client: RedisClient, options: GateOptions, log: FastifyBaseLogger): IntakeGate {
  let everReady = false
  let reportedDown = false
  let queueSetUp = false
  // Under 'refuse', nothing is accepted until a check of the current connection passed.
  let verified = options.persistenceCheck !== 'refuse'
  let lastCheck: Promise<PersistenceReport | undefined> = Promise.resolve(undefined)
  let lastReport: PersistenceReport | undefined

  client.on('error', onRedisError)
  client.on('ready', onRedisReady)
  client.on('close', onRedisClose)

  return {
    get open () { return refusal() === undefined },
    refusal,
    get persistence () { return lastReport },
    queueReady () { queueSetUp = true },
    boot,
    detach () {
      // The error listener stays: errors while the connection closes are still logged.
      client.off('ready', onRedisReady)
      client.off('close', onRedisClose)
    }
  }

  function refusal (): GateRefusal | undefined {
    if (!queueSetUp || client.status !== 'ready') return 'redis_not_ready'
    if (!verified) return 'persistence_refused'
    return undefined
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

  async function boot (setup: Promise<unknown>, close: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + options.readyTimeoutMs
    const left = (): number => Math.max(0, deadline - Date.now())
    if (options.requireRedisAtBoot) {
      await within(setup, left())
      if (!queueSetUp) {
        await close()
        throw new WebhookErrors.FST_WEBHOOK_REDIS_UNAVAILABLE_AT_BOOT(
          `Redis was not ready within ${options.readyTimeoutMs} ms (requireRedisAtBoot is true; status: ${client.status})`)
      }
    } else {
      // The first connection attempt, and once it connects the queue, so the
      // first request after `ready()` is accepted; a Redis that refuses the
      // connection does not hold the boot up, a silent one for `readyTimeoutMs` at most.
      await within(firstOutcome(client), left())
      if (client.status === 'ready') await within(setup, left())
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
