import t from 'tap'
import { readFileSync } from 'node:fs'
import { PluginErrors } from '../../core/plugin-errors.js'
import * as pluginEntry from '../../plugin/index.js'

// Every exported plugin error code is documented in the README's errors table,
// with its HTTP status, and the table lists no code that does not exist.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('\n### Errors\n')
const section = readme.slice(start, readme.indexOf('\n### ', start + 1))

t.test('the README has a plugin errors table', async (t) => {
  t.ok(start > 0, 'a "### Errors" section')
  t.match(section, /\| code \| status \| when \|/)
})

t.test('every exported PluginErrors code has a row with its status', async (t) => {
  t.equal(pluginEntry.PluginErrors, PluginErrors, 'the table checked is the exported one')
  const rows = new Map([...section.matchAll(/^\| `(FST_WEBHOOK_[A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]]))
  for (const [code, ErrorClass] of Object.entries(PluginErrors)) {
    const row = rows.get(code)
    t.ok(row, `${code} is documented`)
    const err = new ErrorClass('x')
    t.equal(err.code, code)
    if (err.statusCode !== undefined && err.statusCode < 500) t.match(row, new RegExp(`\`${err.statusCode}\``), `${code}: status ${err.statusCode}`)
    else if (err.statusCode === 503) t.match(row, /`503`/, `${code}: 503`)
    else t.match(row, /register/, `${code}: thrown by register`)
  }
  for (const code of rows.keys()) t.ok(code in PluginErrors, `${code} in the README exists`)
})
