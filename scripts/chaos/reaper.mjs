// @ts-check
// A watchdog the harness forks first. The harness tells it every child pid it
// starts (redis-server included) and every directory it creates; when the
// harness goes away by any means, SIGKILL included, the IPC channel closes and
// the reaper kills what is left and removes the directories. So no run, however
// it ends, leaves a redis-server or a worker behind.
import { rmSync } from 'node:fs'

/** @type {Set<number>} */
const pids = new Set()
/** @type {Set<string>} */
const dirs = new Set()

/** @typedef {{ add?: number, remove?: number, dir?: string, forgetDir?: string }} ReaperMessage */

process.on('message', function onMessage (/** @type {ReaperMessage} */ msg) {
  if (msg.add) pids.add(msg.add)
  if (msg.remove) pids.delete(msg.remove)
  if (msg.dir) dirs.add(msg.dir)
  if (msg.forgetDir) dirs.delete(msg.forgetDir)
})

process.on('disconnect', function reap () {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  process.exit(0)
})

// Ctrl-C reaches the whole foreground process group; the reaper outlives it so
// it can still clean up if the harness dies while handling the signal.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {})
process.send?.({ ready: true })
