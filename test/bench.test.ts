import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The benchmark is never a timed assertion: this only proves `npm run bench`
// still runs end to end (every section, a private Redis each) and writes its
// JSON. Its numbers are not looked at.
t.setTimeout(150_000)

const root = fileURLToPath(new URL('..', import.meta.url))

t.test('node bench/run.mjs --quick runs every section and writes its JSON', async (t) => {
  const dir = t.testdir({})
  const out = join(dir, 'bench.json')
  // Outside tap's coverage and process tracking: the bench is a black box here.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, ['bench/run.mjs', '--quick', '--out', out], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, `exit code (stderr tail: ${stderr.slice(-2000)})`)
  t.ok(existsSync(out), 'the JSON was written')
  const result = JSON.parse(readFileSync(out, 'utf8'))
  t.same(Object.keys(result.results).sort(), ['bursts', 'e2e', 'ingest', 'memory', 'worker'], 'every section ran')
  t.equal(result.config.quick, true)
  for (const section of Object.values(result.results) as Array<{ table: string }>) t.match(section.table, /^\| /, 'each section has a table')
  t.match(stdout, /### 1\. Ingest/, 'the table is printed')
  t.match(stdout, /### Targets/)
})
