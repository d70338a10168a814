import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PluginErrors, WebhookErrors, WorkerErrors } from '../../core/errors.js'
import * as main from '../../index.js'
import * as pluginEntry from '../../plugin/index.js'
import * as workerEntry from '../../worker/index.js'
import * as providersEntry from '../../providers/index.js'
import { BadPageError } from '../../poller/poller-run.js'
import { safeJobId } from '../../core/job-id.js'

// One table of coded errors: every code is documented in the errors table of
// docs/plugin.md and every row there is a code; the old per-side objects only alias it;
// FST_ prefixes belong to the plugin; and no shipped source throws an uncoded
// Error or TypeError outside the allowlist below.
const root = fileURLToPath(new URL('../..', import.meta.url))
const readme = readFileSync(join(root, 'docs/plugin.md'), 'utf8')
// Every page of the documentation, to check no second table of codes exists.
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))]
const allDocs = pages.map((f) => readFileSync(join(root, f), 'utf8')).join('\n')
const workerDoc = readFileSync(join(root, 'docs/worker.md'), 'utf8')
const start = readme.indexOf('\n### Errors\n')
const section = readme.slice(start, readme.indexOf('\n### ', start + 1))
const rows = new Map([...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => [m[1], { status: m[2].trim(), when: m[3] }]))
const codes = Object.keys(WebhookErrors)
type Ctor = new (...args: unknown[]) => Error & { code: string, statusCode?: number }
const table = WebhookErrors as unknown as Record<string, Ctor>

// The merged twins: each old name is kept, deprecated, as the new code's constructor.
const ALIASES: Record<string, Record<string, string>> = {
  PluginErrors: {
    FST_WEBHOOK_INVALID_OPTION: 'WEBHOOK_INVALID_OPTION',
    FST_WEBHOOK_PERSISTENCE: 'WEBHOOK_PERSISTENCE',
    FST_WEBHOOK_MISSING_DEPENDENCY: 'WEBHOOK_MISSING_DEPENDENCY'
  },
  WorkerErrors: {
    WEBHOOK_WORKER_INVALID_OPTION: 'WEBHOOK_INVALID_OPTION',
    WEBHOOK_WORKER_PERSISTENCE: 'WEBHOOK_PERSISTENCE',
    WEBHOOK_WORKER_MISSING_DEPENDENCY: 'WEBHOOK_MISSING_DEPENDENCY'
  }
}
const VIEWS: Record<string, Record<string, unknown>> = { PluginErrors, WorkerErrors }

t.test('the documentation has one errors table', async (t) => {
  t.ok(start > 0, 'a "### Errors" section')
  t.match(section, /\| code \| status \| thrown by, when \|/)
  t.equal([...allDocs.matchAll(/^\| code \| /gm)].length, 1, 'no second table of codes')
  t.match(workerDoc, /### Worker errors\n\n[^\n]*\[Errors\]\(plugin\.md#errors\)/, 'the worker errors section links to it')
})

t.test('every code of the table is documented, and every documented code exists', async (t) => {
  t.ok(codes.length >= 30, 'the table is complete')
  for (const code of codes) {
    const err = new table[code]('x', 1)
    t.equal(err.code, code, `${code}: the key is the code`)
    const row = rows.get(code)
    if (row === undefined) {
      t.fail(`${code} is not in the docs/plugin.md table`)
      continue
    }
    const http = err.statusCode !== undefined && (err.statusCode < 500 || err.statusCode === 503)
    if (http) t.match(row.status, new RegExp(`^\`${String(err.statusCode)}\``), `${code}: status ${String(err.statusCode)}`)
    else t.match(row.status, /^—/, `${code}: never an HTTP answer`)
    t.equal(/`TypeError`/.test(row.status), err instanceof TypeError, `${code}: docs/plugin.md says whether it is a TypeError`)
  }
  for (const code of rows.keys()) t.ok(code in WebhookErrors, `${code} in docs/plugin.md exists`)
})

t.test('the old objects keep every name; their merged names alias the new constructors', async (t) => {
  for (const [view, aliases] of Object.entries(ALIASES)) {
    for (const [name, value] of Object.entries(VIEWS[view])) {
      const merged = aliases[name]
      if (merged !== undefined) {
        t.equal(value, table[merged], `${view}.${name} === WebhookErrors.${merged}`)
        t.match(section, new RegExp(`\`${view}\\.${name}\`[^;]*?\`WebhookErrors\\.${merged}\``), `${view}.${name} is listed as deprecated`)
      } else {
        t.equal(value, table[name], `${view}.${name} is the table's own`)
      }
    }
    for (const name of Object.keys(aliases)) t.ok(name in VIEWS[view], `${view}.${name} is still exported`)
  }
  t.ok(new WebhookErrors.WEBHOOK_INVALID_OPTION('x') instanceof PluginErrors.FST_WEBHOOK_INVALID_OPTION, 'instanceof an alias holds')
  t.ok(new WebhookErrors.WEBHOOK_INVALID_OPTION('x') instanceof WorkerErrors.WEBHOOK_WORKER_INVALID_OPTION)
  t.ok(new PluginErrors.FST_WEBHOOK_MISSING_DEPENDENCY('x') instanceof TypeError, 'what was a TypeError stays one')
  t.ok(new WorkerErrors.WEBHOOK_WORKER_INVALID_OPTION('x') instanceof TypeError)
  t.notOk(new WebhookErrors.WEBHOOK_PERSISTENCE('x') instanceof TypeError)
})

t.test('FST_WEBHOOK_ is the plugin\'s prefix; every other code starts with WEBHOOK_', async (t) => {
  const pluginOwn = Object.keys(PluginErrors).filter((name) => ALIASES.PluginErrors[name] === undefined)
  t.same(codes.filter((c) => c.startsWith('FST_')).sort(), pluginOwn.sort(), 'the FST_ codes are exactly the plugin\'s own')
  for (const code of codes) t.match(code, /^(FST_)?WEBHOOK_[A-Z0-9_]+$/, code)
  // Only the plugin raises an FST_ code.
  for (const file of sources()) {
    for (const m of readFileSync(join(root, file), 'utf8').matchAll(/\b(?:WebhookErrors|PluginErrors)\.(FST_WEBHOOK_[A-Z0-9_]+)/g)) {
      t.ok(file.startsWith('plugin/') || file === 'core/errors.ts', `${file} raises ${m[1]}: only plugin/ may`)
    }
  }
})

t.test('every entry point exports the one table', async (t) => {
  for (const [name, entry] of Object.entries({ main, pluginEntry, workerEntry, providersEntry })) {
    t.equal(entry.WebhookErrors, WebhookErrors, `${name}.WebhookErrors`)
  }
  t.equal(main.PluginErrors, PluginErrors)
  t.equal(main.WorkerErrors, WorkerErrors)
})

t.test('the codes of their own', async (t) => {
  const page = new BadPageError('fetchChanges returned a bad page: x')
  t.ok(page instanceof TypeError, 'BadPageError is a TypeError')
  t.ok(page instanceof WebhookErrors.WEBHOOK_POLLER_BAD_PAGE)
  t.match(page, { name: 'TypeError', code: 'WEBHOOK_POLLER_BAD_PAGE', message: 'fetchChanges returned a bad page: x' })
  const option = new WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION('x')
  t.ok(option instanceof WebhookErrors.WEBHOOK_INVALID_OPTION, 'a provider option error is an option error')
  t.ok(option instanceof TypeError)
  t.throws(() => providersEntry.providers.stripe({ secret: '' }), { code: 'WEBHOOK_PROVIDER_INVALID_OPTION' })
  t.throws(() => providersEntry.providers.stripe({ secret: () => 'k' }).sign('{}'), { code: 'WEBHOOK_PROVIDER_BAD_SIGNING_SECRET', message: /sign\(\) needs \{ secret \}/ })
  t.throws(() => safeJobId('no spaces', 'x'), { name: 'TypeError', code: 'WEBHOOK_INVALID_JOB_ID', message: /Expected `source` to match/ })
  t.match(new WebhookErrors.WEBHOOK_POLLER_CLOSED('The poller is closed'), { name: 'Error', code: 'WEBHOOK_POLLER_CLOSED' }, 'a throw that had no code keeps its name')
  t.ok(new WebhookErrors.WEBHOOK_POLLER_CLOSED('x') instanceof WebhookErrors.WEBHOOK_POLLER_CLOSED)
  t.match(new WebhookErrors.WEBHOOK_INVALID_OPTION('x'), { name: 'FastifyError' }, 'a code that was a Fastify error stays one')
  t.equal(new WebhookErrors.WEBHOOK_REDIS_TIMEOUT(500, 'reading the poll pause').message, 'Redis did not answer within 500 ms while reading the poll pause')
  t.equal(new WebhookErrors.WEBHOOK_REDIS_NOT_READY(500, 'connecting').message, 'Redis was not ready within 500 ms (status: connecting)')
  t.equal(new WebhookErrors.WEBHOOK_POLLER_LEASE_LOST(7).message, 'The poll lease 7 was lost')
  t.equal(new WebhookErrors.WEBHOOK_DEAD_LETTER_CONTENDED('acme.1').message, 'The dead letter acme.1 kept changing while a failure was written to it')
})

// Uncoded errors that stay, each for a reason: none reaches a caller as a thrown error.
const ALLOWED: Array<{ file: string, text: string }> = [
  // Unreachable from the public API: every caller checked `connection` first, with its own coded option error.
  { file: 'core/connection.ts', text: 'Expected \\`connection\\` to be' },
  // Log only: a gauge source's onError logs it, and a scrape never fails because Redis did.
  { file: 'core/queue-gauges.ts', text: 'reading the stats of queue' },
  // The cause of a 503 FST_WEBHOOK_UNAVAILABLE, shown only in the log.
  { file: 'plugin/enqueue.ts', text: 'replicas confirmed the job within' },
  // The cause of a 503 FST_WEBHOOK_UNAVAILABLE, shown only in the log.
  { file: 'plugin/secrets.ts', text: 'the secret resolver returned a secret the provider cannot use' },
  // BullMQ's script broke its own contract: the enqueue answers 503 and logs it.
  { file: 'plugin/add-script.ts', text: 'BullMQ\'s add script answered' },
  // A sentinel thrown and caught inside the worker while it closes.
  { file: 'worker/worker.ts', text: 'new Error(\'closing\')' },
  // Wraps a non-Error a hook threw: the caller's own failure, not one of ours.
  { file: 'worker/steps.ts', text: 'Non-error thrown' },
  // An invariant: only called for claims that have object keys.
  { file: 'worker/claim.ts', text: 'holdObject: the claim has no object keys' }
]

function sources (): string[] {
  const files = ['index.ts']
  for (const room of ['core', 'providers', 'plugin', 'worker', 'poller', 'dead-letters', 'bin']) {
    for (const name of readdirSync(join(root, room))) if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(`${room}/${name}`)
  }
  return files
}

t.test('no uncoded Error, TypeError or RangeError in the shipped sources, but the allowlist', async (t) => {
  const found: Array<{ file: string, line: string }> = []
  for (const file of sources()) {
    for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
      if (/\bnew (?:Error|TypeError|RangeError)\(/.test(line)) found.push({ file, line: line.trim() })
    }
  }
  t.ok(found.length > 0, 'the scan sees the allowed ones')
  const offenders = found.filter(({ file, line }) => !ALLOWED.some((a) => a.file === file && line.includes(a.text)))
  t.same(offenders, [], 'give each a code from WebhookErrors, or a reason in ALLOWED')
  const stale = ALLOWED.filter((a) => !found.some(({ file, line }) => a.file === file && line.includes(a.text)))
  t.same(stale, [], 'every allowlist entry is still needed')
})
