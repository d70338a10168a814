// @ts-check
// An experiment, not part of any benchmarked configuration: hold every ioredis
// connection's writes in this process until the end of the event-loop turn,
// so the commands issued in one turn (one request's EXISTS and add, or the
// adds of several requests) leave in one write() instead of one each.
// Variants named `cork` in bench/servers use it to price that change.
import { Redis } from 'ioredis'

const CORKED = Symbol('corked')

/** Patches ioredis in this process so each connection corks its socket for the rest of the turn on its first command. */
export function corkRedisWrites () {
  const send = Redis.prototype.sendCommand
  /** @type {Redis['sendCommand']} */
  Redis.prototype.sendCommand = function corkingSendCommand (command, stream) {
    // The flag is this module's own, on the connection object.
    const self = /** @type {Redis & { [CORKED]?: boolean }} */ (this)
    const socket = this.stream
    if (socket !== undefined && this.status === 'ready' && self[CORKED] !== true) {
      self[CORKED] = true
      socket.cork()
      setImmediate(() => {
        self[CORKED] = false
        socket.uncork()
      })
    }
    return send.call(this, command, stream)
  }
}
