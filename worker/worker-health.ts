import type { Worker } from 'bullmq'
import type { RedisClient } from '../core/connection.js'
import { deadline } from '../core/deadline.js'
import type { WorkerStats } from './reporter.js'

/** `pass`: fine; `warn`: look at it, the worker copes on its own; `fail`: restart it. */
export type WorkerHealthStatus = 'pass' | 'warn' | 'fail'

/** What `handle.health()` answers: a liveness check. */
export interface WorkerHealth {
  /** `fail` when the worker is closed, stopped or refused to start; `warn` while starting or while Redis is unreachable. */
  status: WorkerHealthStatus
  /** True while BullMQ's worker is taking jobs. */
  running: boolean
  /** Why the status is not `pass`. */
  message?: string
  /** A `PING` on the worker's connection; `warn` while Redis is unreachable (the worker waits the outage out). */
  redis: { status: WorkerHealthStatus, message?: string, latencyMs?: number }
  stats: WorkerStats
}

/** Where the start of a worker stands. */
export interface StartState {
  readonly state: 'starting' | 'started' | 'failed'
  readonly error?: Error
}

/** Follows a start promise without handling its rejection for anyone else. */
export function trackStart (started: Promise<void>): StartState {
  const tracked: { state: StartState['state'], error?: Error } = { state: 'starting' }
  started.then(() => { tracked.state = 'started' }, (err: Error) => {
    tracked.state = 'failed'
    tracked.error = err
  })
  return tracked
}

/** What the check reads from a worker handle. */
export interface HealthInputs {
  worker: Worker
  client: RedisClient
  start: StartState
  closing: boolean
  stats: WorkerStats
  timeoutMs: number
}

/** Liveness: is this worker taking jobs, and can it reach Redis? */
export async function checkWorkerHealth ({ worker, client, start, closing, stats, timeoutMs }: HealthInputs): Promise<WorkerHealth> {
  const running = worker.isRunning()
  const redis = await pingRedis(client, timeoutMs)
  let status: WorkerHealthStatus = redis.status
  let message = redis.message
  if (start.state === 'failed') [status, message] = ['fail', `the worker refused to start: ${start.error?.message ?? 'unknown error'}`]
  else if (closing) [status, message] = ['fail', 'the worker is closed']
  else if (start.state === 'starting') [status, message] = ['warn', 'the worker is starting']
  else if (!running) [status, message] = ['fail', 'BullMQ\'s worker stopped taking jobs']
  const health: WorkerHealth = { status, running, redis, stats }
  if (message !== undefined) health.message = message
  return health
}

async function pingRedis (client: RedisClient, timeoutMs: number): Promise<WorkerHealth['redis']> {
  // Worker connections queue commands while Redis is away: do not wait for the reconnect.
  if (client.status !== 'ready') return { status: 'warn', message: `Redis is not reachable (connection ${client.status}); the worker waits for it` }
  const started = Date.now()
  try {
    await deadline(timeoutMs, undefined, async () => await client.ping())
    return { status: 'pass', latencyMs: Date.now() - started }
  } catch (err) {
    // A timeout says `no answer within <timeoutMs> ms`.
    return { status: 'warn', message: `Redis did not answer: ${(err as Error).message}` }
  }
}
