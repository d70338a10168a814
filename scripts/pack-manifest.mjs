// @ts-check
// `npm pack` and `npm publish` run this around packing (prepack: strip,
// postpack: restore). The packed package.json keeps no `prepare` script: it
// builds this repository on `npm ci`, but npm lists any lifecycle script of a
// dependency as an install script to review, so a consumer would be warned
// about a build that never runs for them.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

const manifest = 'package.json'
const saved = 'package.json.unpacked'

const command = process.argv[2]
if (command === 'strip') {
  if (existsSync(saved)) throw new Error(`${saved} exists: a previous pack did not finish; restore it first (node scripts/pack-manifest.mjs restore)`)
  const text = readFileSync(manifest, 'utf8')
  const pkg = JSON.parse(text)
  writeFileSync(saved, text)
  delete pkg.scripts.prepare
  writeFileSync(manifest, JSON.stringify(pkg, null, 2) + '\n')
} else if (command === 'restore') {
  if (existsSync(saved)) renameSync(saved, manifest)
} else {
  console.error('usage: node scripts/pack-manifest.mjs strip|restore')
  process.exitCode = 2
}
