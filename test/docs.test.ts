import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

// The README is the front page and the rest lives in docs/: every relative
// link between them must land on a file, and every #anchor on a heading of
// that file, or a move breaks navigation without anyone noticing.
const root = fileURLToPath(new URL('..', import.meta.url))
const PAGES = ['README.md', 'CONTRIBUTING.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const MAX_README_LINES = 300

/** GitHub's heading anchor: lowercase, punctuation dropped except `-` and `_`, spaces to `-`; repeats get `-1`, `-2`, … */
function slugs (markdown: string): Set<string> {
  const out = new Set<string>()
  const seen = new Map<string, number>()
  let fence = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence
    const m = fence ? null : /^#{1,6} (.+)$/.exec(line)
    if (m === null) continue
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replaceAll(' ', '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

/** Every markdown link target outside code blocks and code spans. */
function links (markdown: string): string[] {
  const out: string[] = []
  let fence = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence
    if (fence) continue
    const prose = line.replace(/`[^`]*`/g, '``')
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1])
  }
  return out
}

t.test('the slug rules', async (t) => {
  t.same([...slugs('## Rate limits, coalescing and ordering\n### The `send` command\n## A\n## A')],
    ['rate-limits-coalescing-and-ordering', 'the-send-command', 'a', 'a-1'])
  t.same(links('[a](b.md#c) `[x](y)`\n```\n[p](q)\n```'), ['b.md#c'])
})

for (const page of PAGES) {
  t.test(`${page}: every relative link resolves, every anchor is a heading`, async (t) => {
    const text = readFileSync(join(root, page), 'utf8')
    const targets = links(text).filter((l) => !/^[a-z][a-z+.-]*:/i.test(l))
    if (page === 'README.md') t.ok(targets.length > 5, `${targets.length} links to check`)
    for (const target of targets) {
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const file = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path))
      if (!existsSync(join(root, file))) {
        t.fail(`${target}: ${file} does not exist`)
        continue
      }
      t.pass(`${target}: ${file} exists`)
      if (anchor === undefined) continue
      if (statSync(join(root, file)).isDirectory() || !file.endsWith('.md')) {
        t.fail(`${target}: an anchor into ${file}, which is not a markdown page`)
        continue
      }
      t.ok(slugs(readFileSync(join(root, file), 'utf8')).has(anchor), `${target}: #${anchor} is a heading of ${file}`)
    }
  })
}

t.test(`the README is the front page: at most ${MAX_README_LINES} lines`, async (t) => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length
  t.ok(lines <= MAX_README_LINES, `${lines} lines`)
})
