// @ts-check
// Command-line flags of `npm run demo`.
import { parseArgs } from 'node:util'

export const USAGE = `Usage: npm run demo -- [options]

  --orders N        orders at the provider (default 200)
  --deliveries N    webhook deliveries to send, duplicates included, retries not (default 1000)
  --duplicates F    share of deliveries that repeat an earlier one (default 0.2)
  --reorder F       share of deliveries sent late, after newer events (default 0.1)
  --drop F          share of events never sent: the poller must find them (default 0.1)
  --errors F        share of provider API requests answered 500 (default 0.05)
  --lost-answers F  share of delivery attempts whose answer the sender never gets, so it retries (default 0.02)
  --duration MS     how long the provider keeps changing orders (default: 12 ms per delivery, 2 to 12 s)
  --workers N       worker instances sharing the queue (default 2)
  --seed N          seed for the changes and the delivery mix (default: random, printed)
  --db FILE         keep the SQLite database in FILE (default: a temporary file, removed)
  --provider NAME   'stripe': the built-in Stripe helpers against a fake Stripe API instead (uses --deliveries, --drop, --workers, --seed)
  --json            print the summary as JSON on stdout
  -h, --help        this text

Uses REDIS_URL when set; otherwise starts a private redis-server and stops it at the end.`

/** @satisfies {NonNullable<import('node:util').ParseArgsConfig['options']>} */
const SPEC = {
  orders: { type: 'string', default: '200' },
  deliveries: { type: 'string', default: '1000' },
  duplicates: { type: 'string', default: '0.2' },
  reorder: { type: 'string', default: '0.1' },
  drop: { type: 'string', default: '0.1' },
  errors: { type: 'string', default: '0.05' },
  'lost-answers': { type: 'string', default: '0.02' },
  duration: { type: 'string' },
  workers: { type: 'string', default: '2' },
  seed: { type: 'string' },
  db: { type: 'string' },
  provider: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false }
}

/**
 * Parses and checks the flags; throws a TypeError with a readable message on a bad one.
 * @param {string[]} argv
 */
export function parseDemoArgs (argv) {
  const { values } = parseArgs({ args: argv, options: SPEC, strict: true, allowPositionals: false })
  const deliveries = integer('deliveries', values.deliveries, 1)
  const options = {
    help: values.help,
    json: values.json,
    orders: integer('orders', values.orders, 1),
    deliveries,
    duplicates: share('duplicates', values.duplicates, 0, 0.9),
    reorder: share('reorder', values.reorder, 0, 1),
    drop: share('drop', values.drop, 0, 0.9),
    errors: share('errors', values.errors, 0, 0.5),
    lostAnswers: share('lost-answers', values['lost-answers'], 0, 0.5),
    durationMs: values.duration === undefined ? Math.min(12_000, Math.max(2000, deliveries * 12)) : integer('duration', values.duration, 100),
    workers: integer('workers', values.workers, 1, 16),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : integer('seed', values.seed, 0),
    db: values.db,
    provider: values.provider
  }
  if (options.provider !== undefined && options.provider !== 'stripe') throw new TypeError(`--provider must be 'stripe', got '${options.provider}'`)
  return options
}

/**
 * @param {string} name
 * @param {string} text
 * @param {number} min
 * @param {number} [max]
 */
function integer (name, text, min, max = Number.MAX_SAFE_INTEGER) {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) throw new TypeError(`--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got '${text}'`)
  return n
}

/**
 * @param {string} name
 * @param {string} text
 * @param {number} min
 * @param {number} max
 */
function share (name, text, min, max) {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new TypeError(`--${name} must be a number from ${min} to ${max}, got '${text}'`)
  return n
}
