// Why this file exists: BullMQ's `queue.add` resolves the same for a new job
// and for a duplicate job id, so telling the two apart (202 "accepted" or
// "duplicate", the dedupe metric) cost a second command, an `EXISTS`, beside
// every add, plus BullMQ's per-add `Job` machinery. Here one script call does
// both: BullMQ's own `addStandardJob` Lua runs as a function inside a script
// of ours that checks the job key first.
//
// What it relies on: the `addStandardJob` command BullMQ defines on the
// connection (its Lua is read from there, never copied), and BullMQ's argument
// layout, packed with msgpackr exactly as BullMQ packs it (the dependency is
// pinned to the version BullMQ pins, so both pack alike). At startup the
// arguments built here are compared byte for byte with what BullMQ's own code
// builds for a probe job.
//
// How it runs: like every script of the package (core/scripts.ts). It is
// loaded with SCRIPT LOAD once the queue is ready, so each add is one EVALSHA;
// after a Redis restart emptied the script cache, the next add sends EVAL once.
//
// What it measured (bench/RESULTS.md): client CPU per add 27 µs through
// `queue.add` against 20 µs through the script, and 6 µs more for an `EXISTS`
// beside it; with it, ingest at 1 KB went from 0.86x to parity or better
// against a hand-rolled receiver.
//
// What it falls back to: when the Lua cannot be read, the arguments do not
// match (another BullMQ layout, a queue with default job options) or Redis
// refuses to load the script (it does not compile, SCRIPT is denied),
// `prepareAddScript` returns `undefined`, the producer logs it once and adds
// through `queue.add` with an `EXISTS` beside it.
import { Job, type Queue } from 'bullmq'
import { Packr } from 'msgpackr'
import type { RedisClient } from '../core/connection.js'
import { defineScript, loadScripts, runScript } from '../core/scripts.js'
import { JOB_NAME } from '../core/event.js'
import { eventJobOptions } from '../core/job-options.js'

/**
 * Adds an event job in one Redis call: BullMQ's own `addStandardJob` script,
 * run inside a script of ours that first asks whether the job already exists
 * (BullMQ's `add` resolves the same for a duplicate job id, so it would
 * otherwise take a second command).
 *
 * The Lua and the argument layout are BullMQ's, read from the running version:
 * the Lua from the command BullMQ defined on the connection, the arguments
 * checked byte for byte against what BullMQ's own code builds for a probe job.
 * When either cannot be read or does not match (another BullMQ major, another
 * backend), or Redis refuses to load the script, {@link prepareAddScript}
 * returns `undefined` and the producer adds through `queue.add` with an
 * `EXISTS` beside it.
 */
export interface AddScript {
  /**
   * Adds the job unless it exists; resolves `true` when it did (a duplicate).
   * `data` is the job's JSON text, as BullMQ would have stringified it.
   */
  add: (jobId: string, data: string) => Promise<boolean>
}

const SCRIPT = 'webhooksAddEvent'
// BullMQ's own settings for its packed arguments.
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true })

/**
 * Our script around BullMQ's `addStandardJob` Lua: the job's id when added,
 * `{ id }` when the job already existed, BullMQ's negative code on its own
 * refusal. Exported for the tests.
 */
export function wrapAddStandardJob (lua: string): string {
  // The chunk becomes a function body: its `return`s return from the function,
  // and its locals stay locals of one function, as in the chunk.
  return [
    'local function bullmqAddStandardJob()',
    lua,
    'end',
    'local packed = cmsgpack.unpack(ARGV[1])',
    'local existed = 0',
    "if packed[2] ~= '' then existed = redis.call('EXISTS', packed[1] .. packed[2]) end",
    'local result = bullmqAddStandardJob()',
    "if existed == 1 and type(result) == 'string' then return { result } end",
    'return result'
  ].join('\n')
}

interface Backend {
  addJobToTransaction?: (client: unknown, job: unknown, jobId: string, parentKeyOpts: object) => Promise<unknown>
}

interface CapturedCall { name: string, args: unknown[] }

/**
 * Reads BullMQ's add script and argument layout from a ready queue and loads
 * the script into Redis; `undefined` when this BullMQ cannot be matched or the
 * script cannot be loaded. Never throws.
 */
export async function prepareAddScript (queue: Queue, client: RedisClient): Promise<AddScript | undefined> {
  try {
    return await prepare(queue, client)
  } catch {
    return undefined
  }
}

async function prepare (queue: Queue, client: RedisClient): Promise<AddScript | undefined> {
  const probeId = 'webhooks-probe'
  const probeData = { probe: true }
  // The options as Queue.add merges them, so a queue with default job options does not match.
  const job = new Job(queue, JOB_NAME, probeData, { ...queue.defaultJobOptions, ...eventJobOptions(probeId) }, probeId)
  const backend = (job as unknown as { backend?: Backend }).backend
  if (typeof backend?.addJobToTransaction !== 'function') return undefined
  // BullMQ's own code builds the probe's command; the recorder only keeps it.
  let captured: CapturedCall | undefined
  const recorder = { runCommand: async (name: string, args: unknown[]) => { captured = { name, args }; return probeId } }
  await backend.addJobToTransaction(recorder, job.asJSON(), probeId, {})
  if (captured === undefined || !captured.name.startsWith('addStandardJob:') || captured.args.length !== 12) return undefined

  const scripts = (client as unknown as { scriptsSet?: Record<string, { lua?: unknown }> }).scriptsSet
  const lua = scripts?.[captured.name]?.lua
  if (typeof lua !== 'string') return undefined

  const keys = captured.args.slice(0, 9)
  if (!keys.every((key): key is string => typeof key === 'string')) return undefined
  const prefix = queue.toKey('')
  // The layout of BullMQ's addJobToTransaction: prefix, id, name, timestamp,
  // then parent, repeat and deduplication fields an event never has.
  const packArgs = (jobId: string, timestamp: number): Buffer =>
    packer.pack([prefix, jobId, JOB_NAME, timestamp, null, null, undefined, undefined, null, null])
  // BullMQ's Job puts `attempts` first; the probe comparison checks the rest.
  const packOpts = (jobId: string): Buffer => {
    const opts = eventJobOptions(jobId)
    return packer.pack({ attempts: opts.attempts, ...opts })
  }
  const ours = [...keys, packArgs(probeId, job.timestamp), JSON.stringify(probeData), packOpts(probeId)]
  if (!ours.every((value, i) => sameArg(value, captured?.args[i]))) return undefined

  const script = defineScript(`${SCRIPT}:${captured.name}`, wrapAddStandardJob(lua))
  // Loaded now, at readiness, so every add is one EVALSHA.
  await loadScripts(client, [script])

  return {
    async add (jobId: string, data: string): Promise<boolean> {
      const result = await runScript(client, script, keys, [packArgs(jobId, Date.now()), data, packOpts(jobId)])
      if (Array.isArray(result)) return true
      if (typeof result === 'string') return false
      throw new Error(`BullMQ's add script answered ${JSON.stringify(result)}`)
    }
  }
}

function sameArg (a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b)
  return a === b
}
