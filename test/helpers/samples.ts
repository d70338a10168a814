import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A fenced `ts` block of a markdown page: its page, the line its code starts on, and the code. */
export interface Sample { page: string, line: number, code: string }

/** Every `ts` block of these pages (paths relative to `root`), in order. */
export function tsSamples (root: string, pages: string[]): Sample[] {
  const out: Sample[] = []
  for (const page of pages) {
    const lines = readFileSync(join(root, page), 'utf8').split('\n')
    let open: Sample | undefined
    for (const [i, line] of lines.entries()) {
      if (open === undefined && line.trim() === '```ts') open = { page, line: i + 2, code: '' }
      else if (open !== undefined && line.trim().startsWith('```')) {
        out.push(open)
        open = undefined
      } else if (open !== undefined) open.code += line + '\n'
    }
  }
  return out
}

/** A file name for a sample, unique per page and line. */
export function sampleFile (sample: Sample): string {
  return `${sample.page.replace(/[^a-z0-9]+/gi, '_')}_${sample.line}.ts`
}
