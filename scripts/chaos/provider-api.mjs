// @ts-check
// The provider's REST API, as the poller sees it: every event the sender
// creates is recorded here first (sent as a webhook or not), and
// `GET /changes?cursor=N&limit=L` lists them in creation order. The cursor is
// the position in that log, so no change is ever skipped.
import { createServer } from 'node:http'

export async function startProviderApi () {
  /** @type {Array<{ id: string, type: string, payload: unknown }>} */
  const log = []
  const stats = { pages: 0, listed: 0, caughtUpAt: 0, lastPageAt: 0 }
  const server = createServer(function onRequest (req, res) {
    const url = new URL(/** @type {string} */ (req.url), 'http://localhost')
    if (req.method !== 'GET' || url.pathname !== '/changes') {
      res.writeHead(404).end()
      return
    }
    const from = Number(url.searchParams.get('cursor') ?? '0')
    const limit = Number(url.searchParams.get('limit') ?? '100')
    const to = Math.min(log.length, from + limit)
    const events = log.slice(from, to)
    stats.pages++
    stats.lastPageAt = Date.now()
    stats.listed += events.length
    if (to === log.length) stats.caughtUpAt = Date.now()
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ events, cursor: String(to), hasMore: to < log.length }))
  })
  await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    /** The number of changes recorded so far. */
    get size () { return log.length },
    /**
     * Records a change (the event's webhook body), in creation order.
     * @param {string} id
     * @param {string} body
     */
    record (id, body) {
      const payload = JSON.parse(body)
      log.push({ id, type: payload.type, payload })
    },
    /**
     * How far the poller has listed: true once a page ended at the log's end after `sinceMs`.
     * @param {number} sinceMs
     */
    caughtUpSince (sinceMs) { return stats.caughtUpAt >= sinceMs },
    async close () {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
