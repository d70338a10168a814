// Why this file exists: ioredis writes each command to its socket as it is
// sent, so the commands of one event-loop turn (a job's claim and commit, and
// those of every job handled in the same turn) cost a `write()` system call
// each; socket writes were about a quarter of the worker's CPU in profiles.
//
// What it relies on: ioredis' instance `sendCommand` (wrapped per instance,
// the prototype untouched), its `status` and `stream` (the net.Socket, corked
// and uncorked with Node's own `cork()`/`uncork()`).
//
// What it measured (bench/RESULTS.md): worker CPU per job at concurrency 10
// 161 -> 141 µs, client side 176 -> 129 µs across two runs. On the producer it
// was dropped: corking made Redis run each burst while the HTTP server waited,
// and throughput fell (0.85-0.89x), so the producer sends each add at once.
// ioredis' `enableAutoPipelining` was measured too and lost p99 (x1.8).
//
// What it falls back to: nothing is needed; it is used only on standalone
// clients this package created (a Cluster keeps a socket per node and is left
// alone), and `batchWrites: false` turns it off.
import type { Redis } from 'ioredis'

type SendCommand = Redis['sendCommand']

/**
 * Makes the commands a client sends in one event-loop turn leave in one socket
 * `write()`: the first command of a turn corks the socket, a `setImmediate`
 * uncorks it. Replies still settle command by command, in order.
 *
 * Only for standalone clients this package created: the instance's own
 * `sendCommand` is wrapped, the prototype is untouched. A reconnect brings a new
 * socket, which the next command corks; an old socket is uncorked whatever
 * became of it.
 */
export function batchWrites (client: Redis): void {
  const send: SendCommand = client.sendCommand
  let corked: Redis['stream'] | undefined

  client.sendCommand = function sendInBatch (this: Redis, ...args: Parameters<SendCommand>) {
    if (corked === undefined && this.status === 'ready') {
      const socket = this.stream
      if (socket?.writable === true) {
        corked = socket
        socket.cork()
        setImmediate(uncork)
      }
    }
    return send.apply(this, args)
  }

  function uncork (): void {
    const socket = corked
    corked = undefined
    socket?.uncork()
  }
}
