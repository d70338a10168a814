/**
 * prom-client is an optional peer dependency: it is imported only when a
 * `metrics` option asks for it, so the package runs without it installed.
 * Every metric is created once per registry and shared by label, so two
 * registrations (or a plugin and a worker) in one process never collide.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { WebhookErrors } from './errors.js'
import { expected } from './validate.js'

/** The `metrics` option: `true` for prom-client's default registry, or a `Registry` of yours. */
export type MetricsOption = boolean | Registry

type PromClient = typeof import('prom-client')

/** prom-client and the registry metrics go to. */
export interface Metrics {
  prom: PromClient
  registry: Registry
}

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'webhook_'

/** Checks a `metrics` option; `undefined` when usable. Duck-typed: an app may hold another copy of prom-client. */
export function metricsProblem (value: unknown): string | undefined {
  if (typeof value === 'boolean') return undefined
  const r = value as Partial<Registry> | null
  if (typeof r === 'object' && r !== null && typeof r.registerMetric === 'function' &&
    typeof r.getSingleMetric === 'function' && typeof r.metrics === 'function') return undefined
  return expected('metrics', 'a boolean or a prom-client Registry', value)
}

/**
 * Loads prom-client for a `metrics` option: `undefined` when metrics are off.
 * Throws the error `missing` builds when prom-client cannot be imported.
 */
export async function openMetrics (option: MetricsOption, missing: (message: string, cause: unknown) => Error): Promise<Metrics | undefined> {
  if (option === false) return undefined
  let prom: PromClient
  try {
    const mod = await import('prom-client') as PromClient & { default?: PromClient }
    prom = mod.default ?? mod
  } catch (err) {
    throw missing('metrics need prom-client, an optional peer dependency: run `npm install prom-client`', err)
  }
  return { prom, registry: option === true ? prom.register : option }
}

/** The worker side's error for a missing prom-client, for {@link openMetrics}. */
export function workerMissingDependency (message: string, cause: unknown): Error {
  const err = new WebhookErrors.WEBHOOK_MISSING_DEPENDENCY(message)
  err.cause = cause
  return err
}

/** The counter `name` of the registry, created on first use. */
export function counter<T extends string> (m: Metrics, name: string, help: string, labelNames: readonly T[]): Counter<T> {
  const found = m.registry.getSingleMetric(name) as Counter<T> | undefined
  return found ?? new m.prom.Counter({ name, help, labelNames, registers: [m.registry] })
}

/** The histogram `name` of the registry, created on first use. */
export function histogram<T extends string> (m: Metrics, name: string, help: string, labelNames: readonly T[], buckets: number[]): Histogram<T> {
  const found = m.registry.getSingleMetric(name) as Histogram<T> | undefined
  return found ?? new m.prom.Histogram({ name, help, labelNames, buckets, registers: [m.registry] })
}

/** The gauge `name` of the registry, created on first use; `collect` runs at every scrape. */
export function gauge<T extends string> (m: Metrics, name: string, help: string, labelNames: readonly T[], collect?: () => Promise<void>): Gauge<T> {
  const found = m.registry.getSingleMetric(name) as Gauge<T> | undefined
  if (found !== undefined) return found
  return new m.prom.Gauge({
    name,
    help,
    labelNames,
    registers: [m.registry],
    ...(collect === undefined ? {} : { collect })
  })
}

/** Seconds from milliseconds, for `_seconds` metrics. */
export function seconds (ms: number): number {
  return ms / 1000
}
