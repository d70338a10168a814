import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sampleFile, tsSamples, type Sample } from './helpers/samples.js'

// Every `ts` sample in the README and docs/ compiles under `--strict`, as its
// own module, against the built package (imported by its name, as a user
// would) and docs/prelude.ts: the one visible list of the names samples may
// use without declaring them. A sample that is not TypeScript is fenced as
// `text` or `sh`.
const root = fileURLToPath(new URL('..', import.meta.url))
const PAGES = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

const all = tsSamples(root, PAGES)

t.test('the pages have TypeScript samples to check', async (t) => {
  t.ok(all.length >= 30, `${all.length} samples`)
  t.ok(all.some((s) => s.page === 'README.md'), 'the README has some')
})

t.test('every ts sample compiles under --strict', { timeout: 120_000 }, async (t) => {
  // Inside the package, so `fastify-hybrid-webhooks/…` resolves to its own
  // exports (dist/, built by `npm test`) and the SDKs to node_modules.
  const dir = mkdtempSync(join(root, '.docs-code-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const names = new Map<string, Sample>()
  for (const sample of all) {
    const name = sampleFile(sample)
    names.set(name, sample)
    // `export {}` makes a sample without imports a module too, so samples never see each other's names.
    writeFileSync(join(dir, name), sample.code + 'export {}\n')
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true
    },
    files: ['../docs/prelude.ts', ...names.keys()]
  }))
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir, '--pretty', 'false'], { encoding: 'utf8' })
  // Name each error by its page and line, not by the scratch file.
  const errors = tsc.stdout.split('\n').filter((l) => l.includes('error TS')).map((line) => {
    const m = /([^/\\]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const sample = m === null ? undefined : names.get(m[1])
    return sample === undefined || m === null ? line : `${sample.page}:${sample.line + Number(m[2]) - 1}: ${m[4]}`
  })
  t.same(errors, [], 'no type errors')
  t.equal(tsc.status, 0, tsc.stderr)
})

t.test('the prelude declares placeholders only', async (t) => {
  const prelude = readFileSync(join(root, 'docs/prelude.ts'), 'utf8')
  const start = prelude.indexOf('declare global {')
  const end = prelude.indexOf('\n}\n', start)
  t.ok(start > 0 && end > start, 'one `declare global` block')
  // Outside it: comments, type-only imports and `export {}`, so the prelude adds no value nor a real import.
  const outside = (prelude.slice(0, start) + prelude.slice(end + 3)).split('\n').filter((l) => l.trim() !== '')
  t.same(outside.filter((l) => !/^(?:\/\*\*|\s\*|\/\/|import type |export \{\}$)/.test(l)), [])
})
