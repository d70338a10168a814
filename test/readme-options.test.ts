import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

// Keeps the documented option tables (docs/plugin.md, docs/worker.md,
// docs/poller.md) in sync with the TSDoc of the option
// interfaces: every option documented, nothing documented that does not exist,
// and simple defaults (a number, a quoted string, a boolean) the same in both.
const root = fileURLToPath(new URL('..', import.meta.url))

interface Member { name: string, optional: boolean, defaultValue: string | undefined }

function members (file: string, iface: string): Member[] {
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true)
  const out: Member[] = []
  source.forEachChild(function visit (node) {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== iface) return
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) && !ts.isMethodSignature(m)) continue
      const tag = ts.getJSDocTags(m).find((x) => x.tagName.text === 'defaultValue')
      const text = tag === undefined ? undefined : ts.getTextOfJSDocComment(tag.comment)?.trim()
      out.push({ name: (m.name as ts.Identifier).text, optional: m.questionToken !== undefined, defaultValue: text })
    }
  })
  if (out.length === 0) throw new Error(`interface ${iface} not found in ${file}`)
  return out
}

/** The option rows of the first table after `heading`: each option named in a row's first cell -> its default cell. */
function readmeTable (doc: string, heading: string): Map<string, string> {
  const readme = readFileSync(join(root, doc), 'utf8')
  const start = readme.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`${doc} has no heading ${heading}`)
  const lines = readme.slice(start).split('\n').slice(2)
  const first = lines.findIndex((l) => l.startsWith('| option'))
  const rows = new Map<string, string>()
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim())
    // A row may document several options at once: `lockDuration`, `stalledInterval`.
    for (const [, name] of cells[0].matchAll(/`([A-Za-z]+)[`.]/g)) if (!rows.has(name)) rows.set(name, cells[1])
  }
  return rows
}

const tables = [
  { file: 'plugin/options.ts', iface: 'WebhookPluginOptions', heading: '### Plugin options', doc: 'docs/plugin.md' },
  { file: 'worker/options.ts', iface: 'WebhookWorkerOptions', heading: '### Worker options', doc: 'docs/worker.md' },
  { file: 'poller/poller-options.ts', iface: 'PollerOptions', heading: '### Poller options', doc: 'docs/poller.md' }
]

for (const { file, iface, heading, doc } of tables) {
  t.test(`${iface} and the ${doc} table under "${heading}" agree`, async (t) => {
    const opts = members(file, iface)
    const rows = readmeTable(doc, heading)
    t.same([...rows.keys()].sort(), opts.map((m) => m.name).sort(), 'the same options in both')
    for (const m of opts) {
      if (m.optional) t.ok(m.defaultValue, `${m.name} has a @defaultValue`)
      const simple = m.defaultValue === undefined ? undefined : /^`([^`]+)`(?:\s|$)/.exec(m.defaultValue)?.[1]
      if (simple !== undefined && /^(?:-?[\d_.]+|'[^']*'|true|false|null)$/.test(simple)) {
        const shown = rows.get(m.name)?.replaceAll('_', '') ?? ''
        t.match(shown, `\`${simple.replaceAll('_', '')}\``, `${m.name}: README default matches the TSDoc default ${simple}`)
      }
    }
  })
}
