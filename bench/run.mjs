#!/usr/bin/env node
// @ts-check
// `npm run bench`: every comparison of bench/README.md's Results tables, measured in one run,
// printed as markdown and written as JSON under bench/results/.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readConfig } from './lib/config.mjs'
import { report } from './lib/report.mjs'

const config = readConfig()
const here = dirname(fileURLToPath(import.meta.url))
const startedAt = new Date()
// Other work on the machine skews absolute numbers (ratios less so): say how busy it was.
const loadBefore = loadavg()
/** @type {import('./lib/config.mjs').Log} */
const log = (line) => console.error(`bench: ${line}`)

/** @type {Record<string, string>} */
const SECTION_FILES = {
  ingest: './sections/ingest.mjs',
  worker: './sections/worker.mjs',
  bursts: './sections/bursts.mjs',
  e2e: './sections/e2e.mjs',
  memory: './sections/memory.mjs'
}

/** @type {Record<string, import('./lib/report.mjs').SectionResult>} */
const results = {}
for (const name of config.sections) {
  log(`section ${name}`)
  const section = await import(SECTION_FILES[name])
  const started = performance.now()
  results[name] = await section[name](config, log)
  results[name].seconds = (performance.now() - started) / 1000
  log(`section ${name} took ${results[name].seconds.toFixed(1)} s`)
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryBytes: totalmem(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  loadAverage: { before: loadBefore, after: loadavg() }
}
const output = { startedAt: startedAt.toISOString(), commit: commitOf(), seconds: (Date.now() - startedAt.getTime()) / 1000, machine, config, results }
const text = report(output)
console.log(text)

const out = config.out ?? join(here, 'results', config.quick ? 'quick.tmp.json' : `${startedAt.toISOString().slice(0, 19).replaceAll(':', '-')}.json`)
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify({ ...output, report: text }, null, 2) + '\n')
log(`wrote ${out} after ${output.seconds.toFixed(1)} s`)

// The commit measured, and whether the package's sources differed from it.
function commitOf () {
  const git = (/** @type {string[]} */ ...args) => execFileSync('git', args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    return { id: git('rev-parse', '--short', 'HEAD'), sourcesModified: git('status', '--porcelain', '--', '../plugin', '../worker', '../index.ts') !== '' }
  } catch {
    // Outside a checkout (e.g. a snapshot of one commit built elsewhere), the caller may say which.
    return process.env.BENCH_COMMIT === undefined ? undefined : { id: process.env.BENCH_COMMIT, sourcesModified: false }
  }
}
