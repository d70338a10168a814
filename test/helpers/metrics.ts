import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import type { Test } from 'tap'

/** The value of one sample line of a scrape, matched by name and labels (in any order). */
export function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

/**
 * Runs `main` (an ES module's text) in a child process in which importing
 * prom-client fails as if it were not installed; resolves with the child's result.
 */
export function runWithoutPromClient (t: Test, main: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const dir = t.testdir({
    'hooks.mjs': `export async function resolve (specifier, context, next) {
      if (specifier === 'prom-client' || specifier.startsWith('prom-client/')) throw new Error('Cannot find package prom-client')
      return next(specifier, context)
    }`,
    'register.mjs': "import { register } from 'node:module'; register('./hooks.mjs', import.meta.url)",
    'main.mjs': main
  })
  return spawnSync(process.execPath, ['--import', './register.mjs', 'main.mjs'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', ...env }, timeout: 20_000 })
}
