import { createHash } from 'node:crypto'
import { isCluster, type RedisClient } from './connection.js'

/** A Lua script and its SHA1, run with EVALSHA (EVAL once if Redis lost its script cache). */
export interface LuaScript {
  name: string
  lua: string
  sha: string
}

/** Wraps Lua source as a {@link LuaScript}. */
export function defineScript (name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/**
 * Runs a script in one round trip: EVALSHA, falling back to EVAL only after a
 * Redis restart emptied its script cache (scripts are loaded at start, see
 * {@link loadScripts}, so the hot path never pays two).
 */
export async function runScript (client: RedisClient, script: LuaScript, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args)
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await client.eval(script.lua, keys.length, ...keys, ...args)
  }
}

/**
 * Loads scripts into Redis's cache (on every master of a cluster). On a
 * cluster this is a warm-up only: a master that is down or restarting must not
 * stop a worker from starting, and {@link runScript} sends EVAL once to a node
 * that lacks a script.
 */
export async function loadScripts (client: RedisClient, scripts: LuaScript[]): Promise<void> {
  if (!isCluster(client)) {
    await Promise.all(scripts.map((s) => client.script('LOAD', s.lua)))
    return
  }
  await Promise.all(client.nodes('master').flatMap((node) => scripts.map((s) => node.script('LOAD', s.lua).catch(() => {}))))
}
