import t from 'tap'
import { readFileSync } from 'node:fs'
import { WorkerErrors } from '../../core/errors.js'
import * as workerEntry from '../../worker/index.js'

// Every exported worker error is documented in the errors table of docs/plugin.md under
// the code it carries, and every WEBHOOK_WORKER_ code there is one of the worker's.
const readme = readFileSync(new URL('../../docs/plugin.md', import.meta.url), 'utf8')
const start = readme.indexOf('\n### Errors\n')
const section = readme.slice(start, readme.indexOf('\n### ', start + 1))
const workerDoc = readFileSync(new URL('../../docs/worker.md', import.meta.url), 'utf8')
const workerStart = workerDoc.indexOf('\n### Worker errors\n')
const workerSection = workerDoc.slice(workerStart, workerDoc.indexOf('\n## ', workerStart + 1))

t.test('docs/plugin.md has the errors table, and the worker errors section of docs/worker.md points to it', async (t) => {
  t.ok(start > 0, 'a "### Errors" section')
  t.match(section, /\| code \| status \| thrown by, when \|/)
  t.ok(workerStart > 0, 'a "### Worker errors" section')
  t.match(workerSection, /\(plugin\.md#errors\)/)
})

t.test('every exported WorkerErrors code has a row, and every row is a real code', async (t) => {
  t.equal(workerEntry.WorkerErrors, WorkerErrors, 'the table checked is the exported one')
  const rows = new Set([...section.matchAll(/^\| `(WEBHOOK_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]))
  for (const [name, ErrorClass] of Object.entries(WorkerErrors)) {
    const err = new ErrorClass('x', 1)
    t.ok(rows.has(err.code), `${name} is documented as ${err.code}`)
    if (err.code === name) t.pass(`${name} carries its own code`)
    else t.match(section, `\`WorkerErrors.${name}\``, `${name} is listed as a deprecated alias of ${err.code}`)
  }
  for (const code of rows) if (code.startsWith('WEBHOOK_WORKER_')) t.ok(code in WorkerErrors, `${code} in docs/plugin.md exists`)
})

t.test('option errors are TypeErrors; the others are plain errors', async (t) => {
  t.ok(new WorkerErrors.WEBHOOK_WORKER_INVALID_OPTION('x') instanceof TypeError)
  t.notOk(new WorkerErrors.WEBHOOK_WORKER_LOCK_MISMATCH('x') instanceof TypeError)
  t.equal(new WorkerErrors.WEBHOOK_WORKER_TIMEOUT('apply', 60_000).message, 'apply exceeded its timeout of 60000 ms')
})
