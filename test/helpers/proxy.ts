import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Test } from 'tap'

/** A TCP proxy in front of a server, whose traffic can be dropped (a partition) and let through again. */
export interface TcpProxy {
  /** `redis://` URL of the proxy. */
  url: string
  /** Drops every byte both ways, keeping the sockets open: the peers see silence, as in a network partition. */
  cut: () => void
  /** Lets traffic through again (what was dropped stays lost). */
  heal: () => void
}

/** Starts a proxy to `127.0.0.1:targetPort` on a free port, closed when the test ends. */
export async function tcpProxy (t: Test, targetPort: number): Promise<TcpProxy> {
  let open = true
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from)
      from.on('data', (chunk) => { if (open) to.write(chunk) })
      from.on('error', () => to.destroy())
      from.on('close', () => { sockets.delete(from); to.destroy() })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const { port } = server.address() as { port: number }
  return { url: `redis://127.0.0.1:${port}`, cut: () => { open = false }, heal: () => { open = true } }
}
