import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { RedisClient } from '../core/connection.js'
import type { PollRunEvent } from './poller-run.js'
import { counter, METRIC_PREFIX, openMetrics, workerMissingDependency, type MetricsOption } from '../core/prom.js'
import { probeSource, trackQueueGauges } from '../core/queue-gauges.js'
import { QueueProbe } from '../core/queue-stats.js'

/** What the poller's metrics need to know. */
export interface PollerMetricsOptions {
  metrics: MetricsOption
  queueMetrics: boolean
  queueName: string
  prefix: string
  pollQueueName: string
  source: string
}

/**
 * Counts the poller's runs and enqueued changes from its `run` events, and
 * with `queueMetrics` adds its queue (and its own poll queue's lag) to the
 * queue gauges. Resolves to the function that stops both; to a no-op when
 * `metrics` is off. Rejects with `WEBHOOK_MISSING_DEPENDENCY` without prom-client.
 */
export async function attachPollerMetrics (o: PollerMetricsOptions, emitter: EventEmitter, client: RedisClient, log: Logger): Promise<() => Promise<void>> {
  const m = await openMetrics(o.metrics, workerMissingDependency)
  if (m === undefined) return async () => {}
  const runs = counter(m, `${METRIC_PREFIX}poller_runs_total`, 'Scheduled poll runs by result (completed, a stop reason, or skipped: busy, paused).', ['queue', 'source', 'result'])
  const events = counter(m, `${METRIC_PREFIX}poller_events_total`, 'Changes the poller enqueued.', ['queue', 'source'])
  const labels = { queue: o.queueName, source: o.source }

  function countRun (run: PollRunEvent): void {
    if ('skipped' in run) {
      runs.inc({ ...labels, result: run.skipped })
      return
    }
    runs.inc({ ...labels, result: run.stopped ?? 'completed' })
    events.inc(labels, run.events)
  }
  emitter.on('run', countRun)

  let probe: QueueProbe | undefined
  let untrack = (): void => {}
  if (o.queueMetrics) {
    probe = new QueueProbe(client, { queueName: o.queueName, prefix: o.prefix, pollQueueName: o.pollQueueName })
    untrack = trackQueueGauges(m, probeSource(probe, (err) => { log.debug({ err }, 'poller metrics: could not read the queue gauges') }))
  }
  return async function detachPollerMetrics () {
    emitter.off('run', countRun)
    untrack()
    await probe?.close()
  }
}
