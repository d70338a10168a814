import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The SDKs are optional: the main entry, ./plugin, ./worker, ./providers and
// ./testing never load them, ./pull loads them only when a helper is created
// without a client, and then a missing one is a coded error naming it.
const root = fileURLToPath(new URL('../..', import.meta.url))
const hide = fileURLToPath(new URL('../fixtures/hide-sdks.mjs', import.meta.url))

function run (code: string): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, ['--import', hide, '--input-type=module', '-e', code], {
    cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

t.test('no entry point loads an SDK', async (t) => {
  const r = run(`
    for (const entry of ['index.js', 'plugin/index.js', 'worker/index.js', 'providers/index.js', 'testing/index.js', 'pull/index.js']) {
      await import('./dist/' + entry)
    }
    console.log('loaded')`)
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /loaded/)
  t.notMatch(r.stderr, /resolve-sdk/, 'no SDK was even resolved')
})

t.test('the hook does hide the SDKs (the check above can fail)', async (t) => {
  const r = run("await import('stripe')")
  t.not(r.status, 0)
  t.match(r.stderr, /resolve-sdk stripe/)
})

t.test('a helper given credentials instead of a client needs its SDK, and says which', async (t) => {
  const r = run(`
    const { stripePull, stripePoll, githubPull, githubPoll, shopifyPull } = await import('./dist/pull/index.js')
    const attempts = {
      stripePull: () => stripePull({ apiKey: 'sk_test_x' }),
      stripePoll: () => stripePoll({ apiKey: 'sk_test_x' }),
      githubPull: () => githubPull({ auth: 'ghp_x' }),
      githubPoll: () => githubPoll({ auth: 'ghp_x', owner: 'o', repo: 'r' }),
      shopifyPull: () => shopifyPull({ shop: 'a.myshopify.com', accessToken: 'shpat_x', apiVersion: '2025-01' })
    }
    const out = {}
    for (const [name, make] of Object.entries(attempts)) {
      try { make(); out[name] = 'created' } catch (err) { out[name] = err.code + ': ' + err.message }
    }
    console.log(JSON.stringify(out))`)
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Record<string, string>
  t.match(out.stripePull, /^WEBHOOK_MISSING_DEPENDENCY: .*'stripe'.*npm install stripe/)
  t.match(out.stripePoll, /^WEBHOOK_MISSING_DEPENDENCY: .*'stripe'/)
  t.match(out.githubPull, /^WEBHOOK_MISSING_DEPENDENCY: .*'@octokit\/rest'/)
  t.match(out.githubPoll, /^WEBHOOK_MISSING_DEPENDENCY: .*'@octokit\/rest'/)
  t.equal(out.shopifyPull, 'created', 'Shopify needs no SDK: fetch is built in')
})
