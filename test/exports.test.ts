import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

// The public surface, values and types, of every entry point in
// package.json's `exports`, read from the built declarations. A name that
// disappears breaks users: the list below may only grow.
const root = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)
const pkg = require('../package.json') as { exports: Record<string, string | { types: string }> }
const snapshot = JSON.parse(readFileSync(new URL('./fixtures/exports.json', import.meta.url), 'utf8')) as Record<string, string[]>

function exportedNames (declarationFile: string): string[] {
  const program = ts.createProgram([declarationFile], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(declarationFile)
  if (source === undefined) throw new Error(`no declarations at ${declarationFile}`)
  const symbol = checker.getSymbolAtLocation(source)
  if (symbol === undefined) throw new Error(`${declarationFile} is not a module`)
  return checker.getExportsOfModule(symbol).map((s) => s.name).sort()
}

const entries = Object.entries(pkg.exports).filter(([, target]) => typeof target !== 'string')
for (const [entry, target] of entries) {
  t.test(`${entry} keeps every name it exported`, async (t) => {
    const names = exportedNames(`${root}${(target as { types: string }).types.slice(2)}`)
    const before = snapshot[entry]
    if (before === undefined) {
      t.fail(`${entry} is new: add its names to test/fixtures/exports.json`)
      return
    }
    const missing = before.filter((name) => !names.includes(name))
    t.same(missing, [], 'no name was removed')
    t.ok(names.length >= before.length)
  })
}

t.test('every entry point in the snapshot is still exported', async (t) => {
  t.same(Object.keys(snapshot).filter((entry) => pkg.exports[entry] === undefined), [])
})
