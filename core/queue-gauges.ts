/**
 * Queue gauges: computed at scrape time from Redis, by the processes that opt
 * in (the plugin by default), once per queue however many registrations in
 * the process share it.
 */
import type { Gauge, Registry } from 'prom-client'
import { within } from './connection.js'
import { gauge, METRIC_PREFIX, seconds, type Metrics } from './prom.js'
import type { QueueProbe, QueueStats } from './queue-stats.js'

/** What one scrape learns about a queue. */
export interface QueueSample {
  stats: QueueStats
  /** Cursor lag by poller source, in ms; `null` before its first complete run. */
  cursorLags: Map<string, number | null>
}

/** A queue to sample: `key` identifies it in Redis (prefix and name), `read` samples it. */
export interface GaugeSource {
  key: string
  queueName: string
  read: () => Promise<QueueSample>
  /** Told why a scrape could not read the queue (its gauges keep their last values). */
  onError: (err: unknown) => void
}

interface Tracked {
  source: GaugeSource
  refs: number
  /** Poller sources last reported, to drop their series when they disappear. */
  lagSources: Set<string>
}

interface RegistryGauges {
  sources: Map<string, Tracked>
  jobs: Gauge<'queue' | 'state'>
  deadLetters: Gauge<'queue'>
  oldest: Gauge<'queue'>
  lag: Gauge<'queue' | 'source'>
  sampling: Promise<void> | undefined
  sampledAt: number
}

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const
// The four gauges are collected in parallel at each scrape: one sampling round serves them all.
const SAMPLE_REUSE_MS = 1000
const SAMPLE_TIMEOUT_MS = 2000
const byRegistry = new WeakMap<Registry, RegistryGauges>()

/**
 * Adds a queue to the registry's queue gauges; returns the function that
 * removes it (its series go when the last tracker of the queue leaves).
 */
export function trackQueueGauges (m: Metrics, source: GaugeSource): () => void {
  const g = gaugesOf(m)
  const tracked = g.sources.get(source.key)
  if (tracked === undefined) g.sources.set(source.key, { source, refs: 1, lagSources: new Set() })
  else tracked.refs++
  let removed = false
  return function untrackQueueGauges () {
    if (removed) return
    removed = true
    const entry = g.sources.get(source.key)
    if (entry === undefined || --entry.refs > 0) return
    g.sources.delete(source.key)
    dropSeries(g, entry)
  }
}

/** The gauge source of a probe: its stats and its pollers' lags. */
export function probeSource (probe: QueueProbe, onError: (err: unknown) => void): GaugeSource {
  return {
    key: `${probe.prefix}:${probe.queueName}`,
    queueName: probe.queueName,
    read: async () => {
      const [stats, cursorLags] = await Promise.all([probe.stats(), probe.cursorLags()])
      return { stats, cursorLags }
    },
    onError
  }
}

function gaugesOf (m: Metrics): RegistryGauges {
  let g = byRegistry.get(m.registry)
  if (g !== undefined) return g
  const collect = async (): Promise<void> => { await sampleAll(created) }
  const created: RegistryGauges = {
    sources: new Map(),
    jobs: gauge(m, `${METRIC_PREFIX}queue_jobs`, 'Jobs in the event queue by state (waiting, active, delayed, failed).', ['queue', 'state'], collect),
    deadLetters: gauge(m, `${METRIC_PREFIX}dead_letters`, 'Dead letters not replayed yet.', ['queue'], collect),
    oldest: gauge(m, `${METRIC_PREFIX}queue_oldest_waiting_age_seconds`, 'Age of the job a worker takes next (0 when nothing waits).', ['queue'], collect),
    lag: gauge(m, `${METRIC_PREFIX}poller_cursor_lag_seconds`, 'Time since a poller last reached the end of the changes.', ['queue', 'source'], collect),
    sampling: undefined,
    sampledAt: 0
  }
  g = created
  byRegistry.set(m.registry, g)
  return g
}

async function sampleAll (g: RegistryGauges): Promise<void> {
  if (g.sampling === undefined && Date.now() - g.sampledAt >= SAMPLE_REUSE_MS) {
    g.sampling = Promise.all([...g.sources.values()].map(async (entry) => await sampleOne(g, entry)))
      .then(() => { g.sampledAt = Date.now() })
      .finally(() => { g.sampling = undefined })
  }
  await g.sampling
}

// A queue that cannot be read keeps its last values: a scrape never fails because Redis did.
async function sampleOne (g: RegistryGauges, entry: Tracked): Promise<void> {
  let sample: QueueSample | undefined
  const read = entry.source.read().then((s) => { sample = s }, entry.source.onError)
  if (!await within(read, SAMPLE_TIMEOUT_MS)) entry.source.onError(new Error(`reading the stats of queue ${entry.source.queueName} timed out`))
  if (sample === undefined || !g.sources.has(entry.source.key)) return
  const queue = entry.source.queueName
  for (const state of STATES) g.jobs.set({ queue, state }, sample.stats[state])
  g.deadLetters.set({ queue }, sample.stats.deadLetters)
  g.oldest.set({ queue }, seconds(sample.stats.oldestWaitingAgeMs ?? 0))
  for (const source of entry.lagSources) if (!sample.cursorLags.has(source)) g.lag.remove({ queue, source })
  entry.lagSources = new Set()
  for (const [source, lagMs] of sample.cursorLags) {
    if (lagMs === null) continue
    g.lag.set({ queue, source }, seconds(lagMs))
    entry.lagSources.add(source)
  }
}

function dropSeries (g: RegistryGauges, entry: Tracked): void {
  const queue = entry.source.queueName
  for (const state of STATES) g.jobs.remove({ queue, state })
  g.deadLetters.remove({ queue })
  g.oldest.remove({ queue })
  for (const source of entry.lagSources) g.lag.remove({ queue, source })
}
