import t from 'tap'
import { readFileSync } from 'node:fs'
import { PluginErrors } from '../../core/errors.js'
import * as pluginEntry from '../../plugin/index.js'

// Every exported plugin error is documented in the errors table of docs/plugin.md under
// the code it carries, with its HTTP status, and every FST_ code in the table
// is one of the plugin's.
const readme = readFileSync(new URL('../../docs/plugin.md', import.meta.url), 'utf8')
const start = readme.indexOf('\n### Errors\n')
const section = readme.slice(start, readme.indexOf('\n### ', start + 1))

t.test('docs/plugin.md has the errors table', async (t) => {
  t.ok(start > 0, 'a "### Errors" section')
  t.match(section, /\| code \| status \| thrown by, when \|/)
})

t.test('every exported PluginErrors code has a row with its status', async (t) => {
  t.equal(pluginEntry.PluginErrors, PluginErrors, 'the table checked is the exported one')
  const rows = new Map([...section.matchAll(/^\| `((?:FST_)?WEBHOOK_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => [m[1], { status: m[2], when: m[3] }]))
  for (const [name, ErrorClass] of Object.entries(PluginErrors)) {
    const err = new ErrorClass('x')
    const row = rows.get(err.code)
    t.ok(row, `${name} is documented as ${err.code}`)
    // A deprecated alias carries its merged code, and docs/plugin.md names it.
    if (err.code === name) t.pass(`${name} carries its own code`)
    else t.match(section, `\`PluginErrors.${name}\``, `${name} is listed as a deprecated alias of ${err.code}`)
    if (err.statusCode !== undefined && err.statusCode < 500) t.match(row?.status, new RegExp(`\`${err.statusCode}\``), `${name}: status ${err.statusCode}`)
    else if (err.statusCode === 503) t.match(row?.status, /`503`/, `${name}: 503`)
    else t.match(row?.when, /register/, `${name}: thrown by register`)
  }
  for (const code of rows.keys()) if (code.startsWith('FST_')) t.ok(code in PluginErrors, `${code} in docs/plugin.md exists`)
})
