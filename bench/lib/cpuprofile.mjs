// @ts-check
// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: by
// package, and by function (self and inclusive), with our built files mapped
// back to their TypeScript sources.
import { readFileSync, existsSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

/**
 * What a .cpuprofile says about one function (0-based lines and columns).
 * @typedef {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} CallFrame
 */
/** @typedef {{ id: number, callFrame: CallFrame, children?: number[] }} ProfileNode */
/** @typedef {{ nodes: ProfileNode[], startTime: number, samples: number[], timeDeltas: number[] }} Profile */

/**
 * Analyses a profile, keeping only samples stamped within [fromUs, toUs] when given.
 * Returns shares of busy time (everything but idle) by category and by function.
 * @param {string} file
 * @param {{ fromUs?: number, toUs?: number }} [window] µs on the profile's clock
 */
export function analyse (file, { fromUs = -Infinity, toUs = Infinity } = {}) {
  /** @type {Profile} */
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  /** @type {Map<number, number>} */
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  /** @type {Map<string, number>} */
  const self = new Map()
  /** @type {Map<string, number>} */
  const inclusive = new Map()
  /** @type {Map<string, number>} */
  const categories = new Map()
  let busy = 0
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]
    if (t < fromUs || t > toUs) continue
    // The delta before a sample is the time it stands for (V8's own convention).
    const dt = profile.timeDeltas[i]
    const node = /** @type {ProfileNode} */ (byId.get(profile.samples[i]))
    if (node.callFrame.functionName === '(idle)') continue
    busy += dt
    const key = frameKey(node.callFrame)
    add(self, key, dt)
    add(categories, category(node.callFrame), dt)
    const seen = new Set()
    for (let id = /** @type {number | undefined} */ (node.id); id !== undefined; id = parent.get(id)) {
      const k = frameKey(/** @type {ProfileNode} */ (byId.get(id)).callFrame)
      if (!seen.has(k)) {
        seen.add(k)
        add(inclusive, k, dt)
      }
    }
  }
  const share = (/** @type {Map<string, number>} */ map) => [...map].map(([key, us]) => ({ key, ms: us / 1000, share: us / busy })).sort((a, b) => b.ms - a.ms)
  return { busyMs: busy / 1000, categories: share(categories), self: share(self), inclusive: share(inclusive).filter((f) => !SPECIAL.has(f.key)) }
}

/**
 * @param {Map<string, number>} map
 * @param {string} key
 * @param {number} dt
 */
function add (map, key, dt) {
  map.set(key, (map.get(key) ?? 0) + dt)
}

/**
 * Which package a frame belongs to.
 * @param {Pick<CallFrame, 'url' | 'functionName'>} frame
 */
export function category ({ url, functionName }) {
  if (SPECIAL.has(functionName) && url === '') return functionName
  if (url === '') return 'native (V8 builtins, C++)'
  if (isOurs(url)) return 'fastify-hybrid-webhooks'
  if (url.startsWith('node:')) return 'node core'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  return 'bench harness'
}

/** @param {string} url */
function isOurs (url) {
  return !url.includes('/node_modules/') && /\/dist\/(?:plugin|worker|index)/.test(url)
}

/** @type {Map<string, SourceMap | null>} */
const maps = new Map()

/**
 * `name (file:line)`, with our dist files mapped to their .ts sources.
 * @param {CallFrame} frame
 */
function frameKey ({ functionName, url, lineNumber, columnNumber }) {
  const name = functionName || '(anonymous)'
  if (url === '') return name
  if (isOurs(url)) return `${name} (${sourceOf(url, lineNumber, columnNumber)})`
  const short = url.replace(/^file:\/\/.*node_modules\//, '').replace(/^file:\/\/.*\/(bench\/)/, '$1')
  return `${name} (${short}:${lineNumber + 1})`
}

/**
 * @param {string} url
 * @param {number} line
 * @param {number} column
 */
function sourceOf (url, line, column) {
  const path = fileURLToPath(url)
  if (!maps.has(path)) maps.set(path, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null)
  const map = maps.get(path)
  // `{}` when nothing maps there: its originalSource is undefined.
  const entry = /** @type {import('node:module').SourceMapping | undefined} */ (map?.findEntry(line, column))
  if (entry?.originalSource) return `${entry.originalSource.replace(/^(\.\.\/)+/, '')}:${entry.originalLine + 1}`
  return `${path.replace(/^.*\/dist\//, 'dist/')}:${line + 1}`
}
