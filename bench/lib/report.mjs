// @ts-check
// The run's markdown: one table per section and the benchmark targets with the
// measured ratio for each.
import { fmt, mb, table, times } from './stats.mjs'

/**
 * A section's result: the markdown table the report prints, an optional note,
 * and its figures (kept in the JSON; `targets()` reads some).
 * @typedef {{ table: string, note?: string, seconds?: number, [figure: string]: any }} SectionResult
 */
/**
 * What run.mjs writes: when, which commit, on what machine, and every section's result.
 * @typedef {object} RunOutput
 * @property {string} startedAt
 * @property {{ id: string, sourcesModified: boolean } | undefined} commit
 * @property {{ cpus: number, cpuModel: string | undefined, memoryBytes: number, loadAverage: { before: number[], after: number[] }, node: string, platform: string }} machine
 * @property {import('./config.mjs').Config} config
 * @property {Record<string, SectionResult>} results
 */

/** @type {Record<string, string>} */
const TITLES = {
  ingest: '1. Ingest',
  worker: '2. Worker',
  bursts: '3. Bursts',
  e2e: '4. End to end',
  memory: '5. Memory'
}

/**
 * The whole report as markdown.
 * @param {RunOutput} output
 */
export function report ({ machine, config, results, startedAt, commit }) {
  const at = commit === undefined ? '' : ` of commit ${commit.id}${commit.sourcesModified ? ' (with uncommitted changes to the sources)' : ''}`
  const parts = [
    `Run ${startedAt}${at}${config.quick ? ' (--quick: a smoke run, numbers are meaningless)' : ''} on ${machine.cpus} × ${machine.cpuModel}, ` +
    `${mb(machine.memoryBytes)}, Node.js ${machine.node}; load average ${machine.loadAverage.before[0].toFixed(1)} before, ${machine.loadAverage.after[0].toFixed(1)} after.`
  ]
  for (const [name, result] of Object.entries(results)) {
    parts.push(`### ${TITLES[name]}\n\n${result.table}${result.note ? `\n\n${result.note}` : ''}`)
  }
  const rows = targets(results)
  if (rows.length > 0) parts.push(`### Targets\n\n${table(['target', 'measured', 'met'], rows)}`)
  return parts.join('\n\n')
}

/** @param {Record<string, SectionResult>} results */
function targets (results) {
  /** @type {string[][]} */
  const rows = []
  /**
   * @param {string} name
   * @param {number} value
   * @param {string} shown
   * @param {boolean} ok
   */
  const check = (name, value, shown, ok) => rows.push([name, shown, Number.isFinite(value) ? (ok ? 'yes' : 'no') : '-'])
  for (const [kb, r] of Object.entries(results.ingest?.ratios ?? {})) {
    check(`ingest ${kb}: req/s ≥ 1.0× hand-rolled (required)`, r.rpsVsHand, times(r.rpsVsHand), r.rpsVsHand >= 1)
    check(`ingest ${kb}: req/s ≥ 0.6× bare route (goal)`, r.rpsVsBare, times(r.rpsVsBare), r.rpsVsBare >= 0.6)
    check(`ingest ${kb}: p99 ≤ 2× bare route`, r.p99VsBare, times(r.p99VsBare), r.p99VsBare <= 2)
  }
  const w = results.worker?.ratios?.[10]
  if (w !== undefined) check('worker: ≥ 0.6× bare BullMQ at concurrency 10', w, times(w), w >= 0.6)
  const b = results.bursts
  if (b !== undefined) check('bursts: ≤ 1.2 hydrate calls per distinct object (objectKey and hydrateCacheMs)', b.callsPerObject, fmt(b.callsPerObject, 2), b.callsPerObject <= 1.2)
  const m = results.memory
  if (m !== undefined) {
    check('ingest RSS ≤ 150 MB', m.pluginPeakRss, mb(m.pluginPeakRss), m.pluginPeakRss <= 150 * 1048576)
    check('≤ 200 bytes of Redis per done marker', m.bytesPerMarker, `${fmt(m.bytesPerMarker)} B`, m.bytesPerMarker <= 200)
  }
  return rows
}
