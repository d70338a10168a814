import type { FastifyBaseLogger } from 'fastify'
import { counter, histogram, METRIC_PREFIX, openMetrics, seconds, type Metrics } from '../core/prom.js'
import { probeSource, trackQueueGauges } from '../core/queue-gauges.js'
import type { QueueProbe } from '../core/queue-stats.js'
import { WebhookErrors } from '../core/errors.js'
import type { ResolvedPluginOptions } from './resolve-options.js'
import type { OutcomeObserver } from './outcome.js'

/** The metrics of one registration. */
export interface IngressMetrics {
  /** Counts and times one answer (the answerer's hook). */
  observe: OutcomeObserver
  /** Leaves the queue gauges (the counters stay: they are the process's totals). */
  close: () => void
}

const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const ENQUEUE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * Loads prom-client for the `metrics` option (`undefined` when off). Fails
 * with `WEBHOOK_MISSING_DEPENDENCY` when prom-client is not installed.
 */
export async function openPluginMetrics (options: ResolvedPluginOptions): Promise<Metrics | undefined> {
  return await openMetrics(options.metrics, (message, cause) => {
    const err = new WebhookErrors.WEBHOOK_MISSING_DEPENDENCY(message)
    err.cause = cause
    return err
  })
}

/** The metrics of one registration in the registry of `m`, and its queue gauges when `queueMetrics` is on. */
export function createIngressMetrics (m: Metrics, options: ResolvedPluginOptions, probe: QueueProbe, log: FastifyBaseLogger): IngressMetrics {
  const { requests, ack, enqueue } = ingressMetrics(m)
  const base = { name: options.name, source: options.source }
  const untrack = options.queueMetrics
    ? trackQueueGauges(m, probeSource(probe, (err) => { log.debug({ err }, 'webhook metrics: could not read the queue gauges') }))
    : () => {}

  return {
    observe (fields, _status, elapsedMs) {
      requests.inc({ ...base, outcome: fields.outcome, reason: fields.reason ?? '' })
      ack.observe({ ...base, outcome: fields.outcome }, seconds(elapsedMs))
      if (fields.enqueueMs !== undefined && (fields.outcome === 'accepted' || fields.outcome === 'duplicate')) {
        enqueue.observe(base, seconds(fields.enqueueMs))
      }
    },
    close: untrack
  }
}

function ingressMetrics (m: Metrics): {
  requests: ReturnType<typeof counter<'name' | 'source' | 'outcome' | 'reason'>>
  ack: ReturnType<typeof histogram<'name' | 'source' | 'outcome'>>
  enqueue: ReturnType<typeof histogram<'name' | 'source'>>
} {
  return {
    requests: counter(m, `${METRIC_PREFIX}ingress_requests_total`,
      'Webhook requests by outcome (accepted, duplicate, ignored, responded, rejected, unavailable) and reason.',
      ['name', 'source', 'outcome', 'reason']),
    ack: histogram(m, `${METRIC_PREFIX}ingress_ack_seconds`,
      'Time from the request to its answer.', ['name', 'source', 'outcome'], ACK_BUCKETS),
    enqueue: histogram(m, `${METRIC_PREFIX}ingress_enqueue_seconds`,
      'Time the enqueue took, for events Redis took.', ['name', 'source'], ENQUEUE_BUCKETS)
  }
}
