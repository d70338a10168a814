import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

// The layout is the architecture: these rules keep it that way.
//   core/          shared by every side; imports nothing outside core/
//   providers/     framework-free presets; imports core/ only
//   poller/        the reconciler; imports core/ only
//   dead-letters/  record, store, sink and API; imports core/ only
//   worker/        the attempt pipeline; imports core/ and dead-letters/
//   plugin/        the Fastify route; only the entry points import it
//   testing/       the ./testing entry point: a test kit over all of the above
//   pull/          the ./pull entry point: hydrate and poll helpers; imports core/ (worker/ and poller/ types only)
//   worker/, poller/, dead-letters/ never import Fastify
// and no file reaches itself through its imports (type imports included).
const root = fileURLToPath(new URL('..', import.meta.url))
const ROOMS = ['core', 'providers', 'plugin', 'worker', 'poller', 'dead-letters', 'testing', 'pull', 'bin']
const ENTRY_POINTS = new Set(['index.ts', 'plugin/index.ts', 'worker/index.ts', 'providers/index.ts', 'testing/index.ts', 'pull/index.ts'])
// Rooms that sit behind an entry point of their own and may use the plugin's code and types.
const ENTRY_ROOMS = new Set(['testing'])

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

function sources (): string[] {
  const files = ['index.ts']
  for (const room of ROOMS) {
    for (const name of readdirSync(join(root, room))) {
      if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(`${room}/${name}`)
    }
  }
  return files
}

/** Every module specifier a file imports: relative ones resolved to a source path. */
function importsOf (file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  const found: string[] = []
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2]) as string
    found.push(spec.startsWith('.') ? normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts') : spec)
  }
  return found
}

const roomOf = (file: string): string => file.includes('/') ? file.slice(0, file.indexOf('/')) : '.'
const files = sources()
const graph = new Map(files.map((f) => [f, importsOf(f)]))

t.test('the rooms exist and hold the code', async (t) => {
  for (const room of ROOMS) t.ok(files.some((f) => roomOf(f) === room), `${room}/ has sources`)
  t.equal(files.filter((f) => roomOf(f) === '.').length, 1, 'index.ts is the only source at the top')
})

t.test('relative imports resolve to a source file', async (t) => {
  for (const [file, imports] of graph) {
    for (const target of imports.filter((i) => i.endsWith('.ts'))) {
      t.ok(graph.has(target) || target.startsWith('..'), `${file} → ${target}`)
    }
  }
})

t.test('nothing imports plugin/ but the entry points', async (t) => {
  const offenders: string[] = []
  for (const [file, imports] of graph) {
    if (ENTRY_POINTS.has(file) || ENTRY_ROOMS.has(roomOf(file)) || roomOf(file) === 'plugin') continue
    for (const target of imports) if (roomOf(target) === 'plugin') offenders.push(`${file} → ${target}`)
  }
  t.same(offenders, [])
})

t.test('each room imports only the rooms below it', async (t) => {
  const allowed: Record<string, string[]> = {
    core: ['core'],
    providers: ['core', 'providers'],
    poller: ['core', 'poller'],
    'dead-letters': ['core', 'dead-letters'],
    worker: ['core', 'dead-letters', 'worker'],
    pull: ['core', 'worker', 'poller', 'pull'],
    testing: ['core', 'providers', 'plugin', 'worker', 'dead-letters', 'testing']
  }
  const offenders: string[] = []
  for (const [file, imports] of graph) {
    const rooms = allowed[roomOf(file)]
    if (rooms === undefined || ENTRY_POINTS.has(file)) continue
    for (const target of imports.filter((i) => i.endsWith('.ts'))) {
      if (!rooms.includes(roomOf(target))) offenders.push(`${file} → ${target}`)
    }
  }
  t.same(offenders, [])
})

t.test('the worker, poller, dead letters, core and providers never import Fastify', async (t) => {
  const offenders: string[] = []
  for (const [file, imports] of graph) {
    if (!['worker', 'poller', 'dead-letters', 'core', 'providers'].includes(roomOf(file))) continue
    for (const target of imports) {
      if (target === 'fastify' || target === 'fastify-plugin' || target.startsWith('fastify/')) offenders.push(`${file} → ${target}`)
    }
  }
  t.same(offenders, [])
})

t.test('no import cycles', async (t) => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  function visit (file: string): void {
    state.set(file, 'open')
    stack.push(file)
    for (const next of (graph.get(file) ?? []).filter((i) => graph.has(i))) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' → '))
      else if (state.get(next) === undefined) visit(next)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of files) if (state.get(file) === undefined) visit(file)
  t.same(cycles, [])
})

t.test('the checker sees what it checks', async (t) => {
  // A rule over an empty graph passes vacuously: prove the parser finds imports.
  t.ok(importsOf('plugin/route.ts').some((i) => i.startsWith('core/')), 'plugin/route.ts imports core/')
  t.ok(importsOf('plugin/plugin.ts').includes('fastify-plugin'), 'a package import is found')
  t.ok(importsOf('worker/index.ts').some((i) => i.startsWith('poller/')), 'worker/index.ts re-exports the poller')
  t.ok(importsOf('dead-letters/sink.ts').includes('bullmq'), 'type imports count')
  t.ok(importsOf('testing/signed-request.ts').some((i) => i.startsWith('plugin/')), 'testing/ uses the plugin\'s defaults')
})
