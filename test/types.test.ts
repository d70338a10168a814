import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The typed routing and `acceptTypes`, checked by the compiler: the fixtures
// in test/types/ hold assignments that compile only when payloads narrow, and
// `// @ts-expect-error` lines that must stay errors (tsc reports an unused
// one, so a check that stops failing fails this test).
const root = fileURLToPath(new URL('..', import.meta.url))
const dir = join(root, 'test', 'types')
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.ts'))

t.setTimeout(180_000)

t.test('the fixtures compile under strict, every expected error still an error', async (t) => {
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--listFiles', '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' })
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
  t.same(errors, [], 'no compile errors')
  t.equal(r.status, 0, r.stderr)
  for (const f of ['stripe-routing.ts', 'github-routing.ts', 'accept-types.ts', 'untyped-routing.ts']) {
    t.ok(fixtures.includes(f), `${f} exists`)
    t.ok(r.stdout.includes(join(dir, f)), `${f} was compiled`)
  }
})

t.test('each fixture checks that mistakes are compile errors', async (t) => {
  for (const f of fixtures) {
    const expectations = readFileSync(join(dir, f), 'utf8').match(/\/\/ @ts-expect-error /g) ?? []
    t.ok(expectations.length >= 1, `${f} has @ts-expect-error lines`)
  }
})

t.test('provider SDKs are types only: no built file loads them', async (t) => {
  const built: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name))
      else if (e.name.endsWith('.js')) built.push(join(d, e.name))
    }
  }
  walk(join(root, 'dist'))
  t.ok(built.length > 0, 'the package is built')
  const loads = /from ['"](?:stripe|@octokit\/webhooks-types)['"]|(?:require|import)\(['"](?:stripe|@octokit\/webhooks-types)['"]\)/
  t.same(built.filter((file) => loads.test(readFileSync(file, 'utf8'))), [])
})
