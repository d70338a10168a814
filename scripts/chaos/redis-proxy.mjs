// @ts-check
// A TCP proxy in front of Redis, as its own process: what a virtual IP or a
// managed service's endpoint does in a failover. The app and the workers
// connect here; `{ cmd: 'switch', port }` points it at a new primary and drops
// every open connection, so each client reconnects to the new one.
import { connect, createServer } from 'node:net'

/** @type {import('./types.d.mts').ProxyConfig} */
const config = JSON.parse(/** @type {string} */ (process.env.CHAOS_CONFIG))
process.on('disconnect', () => process.exit(0))

let target = config.targetPort
/** @type {Set<{ client: import('node:net').Socket, upstream: import('node:net').Socket }>} */
const open = new Set()

const server = createServer(function onClient (client) {
  const upstream = connect(target, '127.0.0.1')
  const pair = { client, upstream }
  open.add(pair)
  client.pipe(upstream)
  upstream.pipe(client)
  function drop () {
    open.delete(pair)
    client.destroy()
    upstream.destroy()
  }
  client.on('error', drop)
  upstream.on('error', drop)
  client.on('close', drop)
  upstream.on('close', drop)
})

process.on('message', function onCommand (/** @type {{ cmd?: string, port: number } | undefined} */ msg) {
  if (msg?.cmd !== 'switch') return
  target = msg.port
  for (const { client, upstream } of open) {
    client.destroy()
    upstream.destroy()
  }
  open.clear()
  process.send?.({ reply: 'switch' })
})

server.listen(config.port, '127.0.0.1', () => process.send?.({ ready: true, port: config.port }))
