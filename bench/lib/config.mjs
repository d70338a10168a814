// @ts-check
// The benchmark's flags and the two configurations it runs: the full one
// behind bench/README.md's Results tables, and --quick, a tiny run that only proves the
// harness still works (CI runs it; its numbers mean nothing).
import { parseArgs } from 'node:util'

export const SECTIONS = ['ingest', 'worker', 'bursts', 'e2e', 'memory']

const FULL = {
  quick: false,
  // seconds per measured ingest trial, and per e2e and memory run
  duration: 10,
  warmup: 3,
  // measured trials per server and body size (interleaved A/B/C, B/C/A, ...)
  rounds: 5,
  connections: 50,
  bodySizes: [1024, 16384],
  worker: { jobs: 20_000, concurrencies: [1, 10, 50], rounds: 3 },
  bursts: { events: 10_000, objects: 500, concurrency: 10, hydrateMs: 5 },
  e2e: { rate: 500, concurrency: 10 },
  memory: { bodySize: 16384, markers: 5_000 }
}

/** @type {typeof FULL} */
const QUICK = {
  quick: true,
  duration: 1,
  warmup: 0.5,
  rounds: 1,
  connections: 50,
  bodySizes: [1024, 16384],
  worker: { jobs: 300, concurrencies: [10], rounds: 1 },
  bursts: { events: 400, objects: 20, concurrency: 10, hydrateMs: 5 },
  e2e: { rate: 100, concurrency: 10 },
  memory: { bodySize: 16384, markers: 200 }
}

const USAGE = `Usage: npm run bench -- [--quick] [--only SECTION[,SECTION]] [--duration S] [--rounds N] [--out FILE]
  --quick        a tiny configuration that proves the harness runs (numbers are meaningless)
  --only         run only these sections: ${SECTIONS.join(', ')}
  --duration S   seconds per measured ingest trial, e2e run and memory run (default ${FULL.duration})
  --rounds N     measured trials per server and body size (default ${FULL.rounds})
  --out FILE     where to write the JSON (default bench/results/<date>.json, quick: bench/results/quick.tmp.json)`

/** @typedef {(line: string) => void} Log where a section says what it is doing */

/**
 * The run's configuration: one of the two above, the sections to run and where the JSON goes.
 * @typedef {typeof FULL & { sections: string[], out: string | undefined }} Config
 */

/**
 * Parses argv into the run's configuration; exits with the usage on a bad flag.
 * @returns {Config}
 */
export function readConfig (argv = process.argv.slice(2)) {
  /** @type {{ quick: boolean, only?: string, duration?: string, rounds?: string, out?: string, help: boolean }} */
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        duration: { type: 'string' },
        rounds: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false }
      }
    }))
  } catch (err) {
    usage(/** @type {Error} */ (err).message)
  }
  if (values.help) usage()
  // `sections` and `out` are set below.
  const config = /** @type {Config} */ (structuredClone(values.quick ? QUICK : FULL))
  if (values.duration !== undefined) config.duration = positive('--duration', values.duration)
  if (values.rounds !== undefined) config.rounds = Math.round(positive('--rounds', values.rounds))
  config.sections = SECTIONS
  if (values.only !== undefined) {
    config.sections = values.only.split(',').map((s) => s.trim()).filter(Boolean)
    const unknown = config.sections.filter((s) => !SECTIONS.includes(s))
    if (unknown.length > 0 || config.sections.length === 0) usage(`--only takes ${SECTIONS.join(', ')}; got ${values.only}`)
  }
  config.out = values.out
  return config
}

/**
 * @param {string} flag
 * @param {string} text
 */
function positive (flag, text) {
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) usage(`${flag} takes a positive number; got ${text}`)
  return n
}

/**
 * @param {string} [problem]
 * @returns {never}
 */
function usage (problem) {
  if (problem) console.error(`bench: ${problem}\n`)
  console.error(USAGE)
  process.exit(problem ? 2 : 0)
}
