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
