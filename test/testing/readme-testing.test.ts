import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

// The documentation's "Testing" example, run as written: extracted by its
// heading (wherever it lives), its package imports pointed at the built
// files, run in a fresh node. Its own assertions decide: exit code 0.
t.setTimeout(120_000)

const root = fileURLToPath(new URL('../..', import.meta.url))
// A section of its own in docs/testing.md, a subsection where it sits among others.
const HEADINGS = ['## Testing', '### Testing']
const DOCS = ['README.md', 'docs/testing.md']
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string, exports: Record<string, string | { default: string }> }

/** The first ```ts block of the section under the first of `headings` found, and the file it is in. */
function exampleBlock (headings: string[]): { file: string, code: string } {
  for (const file of DOCS.filter((f) => existsSync(join(root, f)))) {
    const text = readFileSync(join(root, file), 'utf8')
    const heading = headings.find((h) => text.includes(`\n${h}\n`))
    if (heading === undefined) continue
    const start = text.indexOf(`\n${heading}\n`)
    const rest = text.slice(start + heading.length + 2)
    const next = rest.search(/\n#{1,3} /)
    const section = next < 0 ? rest : rest.slice(0, next)
    const block = /```ts\n([\s\S]*?)\n```/.exec(section)
    if (block === null) throw new Error(`${file}: no ts block in the section ${heading}`)
    return { file, code: block[1] }
  }
  throw new Error(`no ${headings.join(' or ')} section in ${DOCS.join(' or ')}`)
}

/** The built file a package specifier resolves to through `exports`; other bare specifiers as this package resolves them. */
function resolveSpecifier (spec: string): string {
  if (spec.startsWith('node:')) return spec
  if (spec === pkg.name || spec.startsWith(`${pkg.name}/`)) {
    const target = pkg.exports[`.${spec.slice(pkg.name.length)}`]
    if (target === undefined || typeof target === 'string') throw new Error(`${spec} is not an entry point`)
    const file = join(root, target.default)
    if (!existsSync(file)) throw new Error(`${file} is not built: run npm run build`)
    return pathToFileURL(file).href
  }
  return import.meta.resolve(spec)
}

t.test('the "Testing" example runs as written and its assertions pass', async (t) => {
  const { file, code } = exampleBlock(HEADINGS)
  for (const used of ['privateRedis(', 'ready(app', 'signedRequest(', 'createWebhookWorker(', 'drain(', 'assert.']) {
    t.ok(code.includes(used), `${file}'s example uses ${used}`)
  }
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    .replace(/(from\s*|import\s*\(\s*)'([^'.][^']*)'/g, (_m, lead: string, spec: string) => `${lead}'${resolveSpecifier(spec)}'`)
  t.notMatch(js, /from '(?!file:|node:)/, 'every import resolved')
  const dir = mkdtempSync(join(tmpdir(), 'fhw-readme-testing-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const script = join(dir, 'example.mjs')
  writeFileSync(script, js)
  const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } })
  t.equal(r.signal, null, 'finished by itself: nothing it opened keeps it alive')
  t.equal(r.status, 0, `${r.stderr}${r.stdout}`)
})
