import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sampleFile, tsSamples } from './helpers/samples.js'

// What a user installs: the tarball `npm pack` makes, and a project of theirs
// compiled against it. Packing runs in a copy of the built package, so the
// suite never rebuilds or rewrites the files other tests are reading.
const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

t.setTimeout(120_000)

function run (command: string, args: string[], cwd: string): { status: number | null, out: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

function walk (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)])
}

const work = t.testdir({})
const copy = join(work, 'copy')
const entries: string[] = ['package.json', 'scripts/pack-manifest.mjs', ...pkg.files.filter((f: string) => !f.startsWith('!'))]
for (const entry of entries) cpSync(join(root, entry), join(copy, entry), { recursive: true })
// The real prepack builds, then strips; the copy is already built.
t.match(pkg.scripts.prepack, /&& node scripts\/pack-manifest\.mjs strip$/, 'prepack ends by stripping the manifest')
const copied = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'))
copied.scripts.prepack = 'node scripts/pack-manifest.mjs strip'
writeFileSync(join(copy, 'package.json'), JSON.stringify(copied, null, 2))
const packed = run('npm', ['pack', '--silent', '--pack-destination', work], copy)
t.equal(packed.status, 0, packed.out)
const unpacked = join(work, 'unpacked')
mkdirSync(unpacked)
const tar = run('tar', ['xzf', join(work, `${pkg.name}-${pkg.version}.tgz`), '-C', unpacked, '--strip-components=1'], work)
t.equal(tar.status, 0, tar.out)
const files = walk(unpacked).map((f) => relative(unpacked, f))

t.test('the tarball: what the docs link, a license, no install scripts, no dangling source maps', async (t) => {
  const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'))
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare']) {
    t.equal(manifest.scripts[script], undefined, `no ${script} script for npm to list as an install script`)
  }
  t.equal(readFileSync(join(copy, 'package.json'), 'utf8'), JSON.stringify(copied, null, 2), 'postpack restored the manifest')
  t.ok(files.includes('LICENSE'))
  t.ok(files.includes('README.md'))
  t.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'))
  t.notOk(files.some((f) => f.endsWith('.map')), 'no maps shipped')
  const withMapComment = files.filter((f) => /\.(js|ts)$/.test(f) && readFileSync(join(unpacked, f), 'utf8').includes('sourceMappingURL'))
  t.same(withMapComment, [], 'no file points at a map')
  // The README and every docs page: each relative link, resolved from the page's folder.
  const pages = files.filter((f) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f))
  t.ok(pages.length > 5, `${pages.length} pages: the README and the docs`)
  for (const page of pages) {
    const text = readFileSync(join(unpacked, page), 'utf8')
    const links = [...text.matchAll(/\]\((?!https?:|#|mailto:)([^)#\s]+)/g)].map((m) => posix.normalize(posix.join(posix.dirname(page), m[1]!)).replace(/\/$/, ''))
    if (page === 'README.md') t.ok(links.length > 5, `${links.length} relative links`)
    for (const link of new Set(links)) t.ok(files.some((f) => f === link || f.startsWith(`${link}/`)), `${page}'s link ${link} is in the tarball`)
  }
})

function consumer (t: Test, name: string, overrides: Record<string, string>, shims: Record<string, string> = {}): void {
  const dir = join(work, name)
  const modules = join(dir, 'node_modules')
  mkdirSync(modules, { recursive: true })
  cpSync(unpacked, join(modules, pkg.name), { recursive: true })
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (entry === pkg.name || entry.startsWith('.')) continue
    const target = overrides[entry] ?? entry
    symlinkSync(join(root, 'node_modules', target), join(modules, entry))
  }
  cpSync(join(root, 'test/fixtures/consumer/consumer.ts'), join(dir, 'consumer.ts'))
  for (const [file, text] of Object.entries(shims)) writeFileSync(join(dir, file), text)
  // What a new user copies: the samples of the README, the testing page, the provider and worker recipes and the pull helpers' setups, as shipped, with the docs' prelude.
  const samples = tsSamples(unpacked, ['README.md', 'docs/testing.md', 'docs/providers.md', 'docs/worker.md', 'docs/pull-stripe.md', 'docs/pull-github.md', 'docs/pull-shopify.md'])
  t.ok(samples.length >= 20, `${samples.length} samples copied from the README and the docs`)
  for (const sample of samples) writeFileSync(join(dir, sampleFile(sample)), sample.code + 'export {}\n')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      preserveSymlinks: true,
      exactOptionalPropertyTypes: false
    },
    files: ['consumer.ts', ...Object.keys(shims), `node_modules/${pkg.name}/docs/prelude.ts`, ...samples.map(sampleFile)]
  }))
  const r = run(process.execPath, [tsc, '-p', '.'], dir)
  t.equal(r.status, 0, r.out)
}

t.test('a strict consumer project compiles against the tarball without skipLibCheck (ioredis 5)', async (t) => {
  consumer(t, 'ioredis5', {})
})

t.test('… and with ioredis 6, whose own declarations need a one-line shim for redis-errors', async (t) => {
  t.equal(JSON.parse(readFileSync(join(root, 'node_modules/ioredis-6/package.json'), 'utf8')).version.split('.')[0], '6')
  consumer(t, 'ioredis6', { ioredis: 'ioredis-6' }, { 'redis-errors.d.ts': "declare module 'redis-errors'\n" })
})
