import t from 'tap'
import { readFileSync } from 'node:fs'
import { WorkerErrors } from '../../core/worker-errors.js'
import * as workerEntry from '../../worker/index.js'

// Every exported worker error code is documented in the README's worker errors
// table, and the table lists no code that does not exist.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('\n### Worker errors\n')
const end = readme.indexOf('\n## ', start + 1)
const section = readme.slice(start, end)

t.test('the README has a worker errors table', async (t) => {
  t.ok(start > 0, 'a "### Worker errors" section')
  t.match(section, /\| code \| when \|/)
})

t.test('every exported WorkerErrors code has a row, and every row is a real code', async (t) => {
  t.equal(workerEntry.WorkerErrors, WorkerErrors, 'the table checked is the exported one')
  const rows = new Set([...section.matchAll(/^\| `(WEBHOOK_WORKER_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]))
  for (const [code, ErrorClass] of Object.entries(WorkerErrors)) {
    t.ok(rows.has(code), `${code} is documented`)
    t.equal(new ErrorClass('x', 1).code, code)
  }
  for (const code of rows) t.ok(code in WorkerErrors, `${code} in the README exists`)
})

t.test('option errors are TypeErrors; the others are plain errors', async (t) => {
  t.ok(new WorkerErrors.WEBHOOK_WORKER_INVALID_OPTION('x') instanceof TypeError)
  t.notOk(new WorkerErrors.WEBHOOK_WORKER_LOCK_MISMATCH('x') instanceof TypeError)
  t.equal(new WorkerErrors.WEBHOOK_WORKER_TIMEOUT('apply', 60_000).message, 'apply exceeded its timeout of 60000 ms')
})
