// @ts-check
// A receiver built up feature by feature, to price what the plugin does on
// top of the hand-rolled baseline (bench/ab.mjs --a ablation:http --b ablation:fastify,exists).
// BENCH_VARIANT is a comma list:
// - http | fastify: the framework (node:http as in the hand-rolled baseline, or a Fastify route as in the bare route)
// - exists: an EXISTS on the job key before the add (the plugin's duplicate detection)
// - timeout: the add raced against a timer (the plugin's ackTimeoutMs)
// - sjson: secure-json-parse instead of JSON.parse, after a strict UTF-8 decode (the plugin's safe parse)
// - event: the plugin's job shape (a WebhookEvent around the payload, its job options)
// - autopipeline: ioredis auto-pipelining on the producer connection
// - cork: the producer's socket corked until the end of the event-loop turn, so
//   the EXISTS and the add (and those of requests handled in the same turn) leave in one write
// With only the framework it does what the hand-rolled baseline does.
import { Queue } from 'bullmq'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import sjson from 'secure-json-parse'
import { corkRedisWrites } from '../lib/cork.mjs'
import { PATH, SECRET, SIGNATURE_HEADER } from '../lib/events.mjs'
import { ready, serve } from '../lib/proc.mjs'

const features = new Set((process.env.BENCH_VARIANT ?? '').split(',').filter(Boolean))
const DIGEST_BYTES = 32
const ACCEPTED = '{"received":true}'
const utf8 = new TextDecoder('utf-8', { fatal: true })

if (features.has('cork')) corkRedisWrites()
const connection = new Redis(/** @type {string} */ (process.env.BENCH_REDIS_URL), { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: features.has('autopipeline') })
connection.on('error', () => {})
const queue = new Queue(/** @type {string} */ (process.env.BENCH_QUEUE), { connection })
await queue.waitUntilReady()

/**
 * @param {string | string[] | undefined} header
 * @param {Buffer} rawBody
 */
function verified (header, rawBody) {
  if (typeof header !== 'string') return false
  const given = Buffer.from(header, 'base64')
  const computed = createHmac('sha256', SECRET).update(rawBody).digest()
  return given.length === DIGEST_BYTES && timingSafeEqual(given, computed)
}

/** @param {Buffer} rawBody */
function parse (rawBody) {
  try {
    return features.has('sjson')
      ? sjson.parse(utf8.decode(rawBody), undefined, { protoAction: 'error', constructorAction: 'error' })
      : JSON.parse(rawBody.toString('utf-8'))
  } catch {
    return undefined
  }
}

/**
 * Resolves with the HTTP status to answer.
 * @param {{ event_id: unknown, type?: unknown }} payload
 */
async function enqueue (payload) {
  const jobId = `acme.${String(payload.event_id).replaceAll(':', '_')}`
  const data = features.has('event')
    ? { v: 1, id: String(payload.event_id), source: 'acme', type: String(payload.type ?? ''), payload, headers: {}, receivedAt: Date.now(), origin: 'webhook' }
    : payload
  const opts = features.has('event')
    ? { jobId, attempts: 1_000_000, backoff: { type: 'webhook' }, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: false }
    : { jobId, attempts: 3, backoff: { type: 'exponential', delay: 2000 } }
  const existed = features.has('exists') ? connection.exists(queue.toKey(jobId)) : undefined
  const added = queue.add(features.has('event') ? 'webhook' : 'process-event', data, opts)
  try {
    if (!features.has('timeout')) {
      await Promise.all([existed, added])
      return 202
    }
    let timer
    const deadline = new Promise((resolve) => { timer = setTimeout(resolve, 2000, 'timeout') })
    const outcome = await Promise.race([Promise.all([existed, added]), deadline])
    clearTimeout(timer)
    return outcome === 'timeout' ? 503 : 202
  } catch {
    return 503
  }
}

/**
 * @param {string | string[] | undefined} header
 * @param {Buffer} rawBody
 */
async function receive (header, rawBody) {
  if (!verified(header, rawBody)) return 401
  const payload = parse(rawBody)
  if (payload === null || typeof payload !== 'object' || payload.event_id === undefined) return 400
  return await enqueue(payload)
}

/** @type {number} */
let port
/** @type {() => Promise<unknown>} */
let close
if (features.has('fastify')) {
  const app = Fastify({ logger: false })
  await app.register(async function webhookScope (scope) {
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1_048_576 }, function rawBody (_req, body, done) {
      done(null, body)
    })
    scope.post(PATH, async function route (request, reply) {
      const status = await receive(request.headers[SIGNATURE_HEADER], /** @type {Buffer} */ (request.body))
      return reply.code(status).type('application/json').send(status === 202 ? ACCEPTED : '{}')
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  port = /** @type {import('node:net').AddressInfo} */ (app.server.address()).port
  close = () => app.close()
} else {
  const server = createServer(function route (req, res) {
    /** @type {Buffer[]} */
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', async () => {
      const status = await receive(req.headers[SIGNATURE_HEADER], Buffer.concat(chunks))
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(status === 202 ? ACCEPTED : '{}')
    })
  })
  await /** @type {Promise<void>} */ (new Promise((resolve) => server.listen(0, '127.0.0.1', resolve)))
  port = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  close = () => new Promise((resolve) => server.close(resolve))
}

serve({
  async stop () {
    await close()
    await queue.close()
    await connection.quit()
  }
})
ready({ port })
