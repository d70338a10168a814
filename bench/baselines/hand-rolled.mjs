// @ts-check
// Baseline (b): a typical tutorial's hand-rolled node:http receiver, with its
// crashes fixed and nothing else added. It buffers the body, compares decoded
// digests of equal length with timingSafeEqual (the tutorial's length-mismatch
// throw is the crash), JSON.parses, and makes one queue.add with a job id on a
// fail-fast producer (no offline queue); a rejected add answers 503 instead of
// an unhandled rejection (the tutorial's other crash). No timeout around add,
// no content-type check, no safe parser, no duplicate detection: that is the
// tutorial's design. Logging off (the tutorial logs nothing per request either).
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { PATH, SECRET, SIGNATURE_HEADER } from '../lib/events.mjs'
import { ready, serve } from '../lib/proc.mjs'

const DIGEST_BYTES = 32
const BODY_LIMIT = 1_048_576
const ACCEPTED = '{"received":true}'

const connection = new Redis(/** @type {string} */ (process.env.BENCH_REDIS_URL), { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
connection.on('error', () => {})
const queue = new Queue(/** @type {string} */ (process.env.BENCH_QUEUE), { connection })
await queue.waitUntilReady()

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {string} body
 */
function answer (res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(body)
}

const server = createServer(function receive (req, res) {
  if (req.method !== 'POST' || req.url !== PATH) return answer(res, 404, '{}')
  /** @type {Buffer[]} */
  const chunks = []
  let size = 0
  req.on('data', (chunk) => {
    size += chunk.length
    if (size > BODY_LIMIT) {
      answer(res, 413, '{}')
      req.destroy()
      return
    }
    chunks.push(chunk)
  })
  req.on('end', async () => {
    if (res.headersSent) return
    const rawBody = Buffer.concat(chunks)
    const header = req.headers[SIGNATURE_HEADER]
    if (typeof header !== 'string') return answer(res, 401, '{}')
    const given = Buffer.from(header, 'base64')
    const computed = createHmac('sha256', SECRET).update(rawBody).digest()
    if (given.length !== DIGEST_BYTES || !timingSafeEqual(given, computed)) return answer(res, 401, '{}')
    let payload
    try {
      payload = JSON.parse(rawBody.toString('utf-8'))
    } catch {
      return answer(res, 400, '{}')
    }
    if (payload === null || typeof payload !== 'object' || payload.event_id === undefined) return answer(res, 400, '{}')
    try {
      // A job id that BullMQ accepts whatever the sender's id looks like (the
      // tutorial's bare event_id breaks on numeric ids and ids with ':').
      await queue.add('process-event', payload, {
        jobId: `acme.${String(payload.event_id).replaceAll(':', '_')}`,
        attempts: 3,
        backoff: { type: 'exponential', delay: 2000 }
      })
    } catch {
      return answer(res, 503, '{}')
    }
    answer(res, 202, ACCEPTED)
  })
})

server.listen(0, '127.0.0.1', () => {
  serve({
    async stop () {
      await new Promise((resolve) => server.close(resolve))
      await queue.close()
      await connection.quit()
    }
  })
  ready({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port })
})
