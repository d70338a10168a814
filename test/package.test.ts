import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// These tests load the built package through its own name and `exports` map,
// exactly as a user's app does (`npm test` builds first).
const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

function node (args: string[], cwd: string): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('package.json: ESM, engines, exports with types, peers', async (t) => {
  t.equal(pkg.type, 'module')
  t.equal(pkg.engines.node, '>=20.19')
  for (const entry of ['.', './plugin', './worker', './providers', './testing', './pull']) {
    const target = pkg.exports[entry]
    t.ok(existsSync(join(root, target.default)), `${entry} is built`)
    t.ok(existsSync(join(root, target.types)), `${entry} has generated types`)
  }
  t.same(pkg.peerDependencies, {
    fastify: '^5', bullmq: '^6', ioredis: '^5.9 || ^6', 'prom-client': '^15', stripe: '>=14', '@octokit/rest': '>=20', '@shopify/admin-api-client': '^1'
  })
  t.same(pkg.peerDependenciesMeta, {
    'prom-client': { optional: true }, stripe: { optional: true }, '@octokit/rest': { optional: true }, '@shopify/admin-api-client': { optional: true }
  }, 'metrics and the pull helpers\' SDKs are opt-in')
  for (const peer of Object.keys(pkg.peerDependencies)) t.ok(pkg.devDependencies[peer], `${peer} is also a dev dependency`)
  t.match(pkg.devDependencies.typescript, /^~5\.9\./, 'TypeScript pinned below 7')
  t.equal(pkg.scripts.prepare, 'npm run build', 'npm ci builds')
})

t.test('the worker entry never loads fastify', async (t) => {
  const dir = t.testdir({
    'hooks.mjs': `export async function resolve (specifier, context, next) {
      if (/^(fastify|fastify-plugin)($|\\/)|^@fastify\\/(?!error)/.test(specifier)) throw new Error('fastify was loaded: ' + specifier)
      return next(specifier, context)
    }`,
    'register.mjs': "import { register } from 'node:module'; register('./hooks.mjs', import.meta.url)",
    'main.mjs': `
      try { await import('fastify'); console.log('guard broken') } catch (err) { console.log('guard works') }
      const w = await import('fastify-hybrid-webhooks/worker')
      console.log('worker loaded', typeof w.safeJobId)`
  })
  const r = node(['--import', './register.mjs', 'main.mjs'], dir)
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /guard works/, 'importing fastify throws in this process')
  t.match(r.stdout, /worker loaded function/)
})

t.test('the testing entry never loads fastify: it serves apps that bring their own', async (t) => {
  const dir = t.testdir({
    'hooks.mjs': `export async function resolve (specifier, context, next) {
      if (/^(fastify|fastify-plugin)($|\\/)|^@fastify\\/(?!error)/.test(specifier)) throw new Error('fastify was loaded: ' + specifier)
      return next(specifier, context)
    }`,
    'register.mjs': "import { register } from 'node:module'; register('./hooks.mjs', import.meta.url)",
    'main.mjs': `
      const testing = await import('fastify-hybrid-webhooks/testing')
      console.log('testing loaded', typeof testing.signedRequest, typeof testing.drain)`
  })
  const r = node(['--import', './register.mjs', 'main.mjs'], dir)
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /testing loaded function function/)
})

t.test('a CommonJS app can require() every entry point', async (t) => {
  const dir = t.testdir({
    'app.cjs': `
      const root = require('fastify-hybrid-webhooks')
      const plugin = require('fastify-hybrid-webhooks/plugin')
      const worker = require('fastify-hybrid-webhooks/worker')
      const testing = require('fastify-hybrid-webhooks/testing')
      console.log(JSON.stringify({ root: Object.keys(root).sort(), plugin: Object.keys(plugin).sort(), worker: Object.keys(worker).sort(), testing: Object.keys(testing).sort(), id: worker.safeJobId('acme', '1') }))`
  })
  const r = node(['app.cjs'], dir)
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.equal(out.id, 'acme.1')
  t.ok(out.worker.includes('safeJobId'))
  t.ok(out.testing.includes('signedRequest'))
  for (const name of [...out.worker, ...out.plugin]) t.ok(out.root.includes(name), `the root entry re-exports ${name}`)
})

t.test('the root entry re-exports the same bindings as ./plugin and ./worker', async (t) => {
  const root = await import('fastify-hybrid-webhooks') as Record<string, unknown>
  const plugin = await import('fastify-hybrid-webhooks/plugin') as Record<string, unknown>
  const worker = await import('fastify-hybrid-webhooks/worker') as Record<string, unknown>
  for (const [name, value] of Object.entries({ ...worker, ...plugin })) {
    if (name !== 'default') t.equal(root[name], value, name)
  }
})

t.test('the plugin is the default export of the root and ./plugin entries, and a named export of both', async (t) => {
  const root = await import('fastify-hybrid-webhooks') as Record<string, unknown>
  const plugin = await import('fastify-hybrid-webhooks/plugin') as Record<string, unknown>
  t.type(root.default, 'function')
  t.equal(root.default, root.webhookPlugin, 'root default is webhookPlugin')
  t.equal(plugin.default, plugin.webhookPlugin, './plugin default is webhookPlugin')
  t.equal(root.default, plugin.webhookPlugin, 'one plugin, whichever entry')
  const meta = (root.default as Record<symbol, { name?: string, fastify?: string } | undefined>)[Symbol.for('plugin-meta')]
  t.match(meta, { name: 'fastify-hybrid-webhooks', fastify: '5.x' }, 'a fastify-plugin with its name and Fastify range')
})

t.test('entry points name every export (no export *)', async (t) => {
  for (const file of ['index.ts', 'plugin/index.ts', 'worker/index.ts', 'providers/index.ts', 'testing/index.ts']) {
    const src = readFileSync(join(root, file), 'utf8')
    t.notMatch(src, /export \* /, file)
  }
})

t.test('CLI and scripts stay runnable: the test harness names its redis hint', async (t) => {
  const dir = t.testdir({})
  writeFileSync(join(dir, 'probe.mjs'), `import { redisInstallHint } from ${JSON.stringify(join(root, 'scripts/redis-server.mjs'))}; console.log(redisInstallHint())`)
  const r = node(['probe.mjs'], dir)
  t.match(r.stdout, /apt-get install -y redis-server/)
})
