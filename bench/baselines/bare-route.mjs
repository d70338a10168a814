// @ts-check
// Baseline (a), the ceiling: a bare Fastify route that checks the same HMAC
// as the plugin's generic scheme on the raw body buffer and answers 202. It
// does not parse the body and enqueues nothing, so no receiver that verifies
// and enqueues can be faster. Logging off.
import Fastify from 'fastify'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { PATH, SECRET, SIGNATURE_HEADER } from '../lib/events.mjs'
import { ready, serve } from '../lib/proc.mjs'

const DIGEST_BYTES = 32
const ACCEPTED = '{"received":true}'

const app = Fastify({ logger: false })

await app.register(async function webhookScope (scope) {
  // Raw bytes for this scope only, as the plugin does.
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1_048_576 }, function rawBody (_req, body, done) {
    done(null, body)
  })
  scope.post(PATH, async function receive (request, reply) {
    const header = request.headers[SIGNATURE_HEADER]
    const given = typeof header === 'string' ? Buffer.from(header, 'base64') : undefined
    const expected = createHmac('sha256', SECRET).update(/** @type {Buffer} */ (request.body)).digest()
    // Equal-length digests only: timingSafeEqual throws on a length mismatch.
    if (given === undefined || given.length !== DIGEST_BYTES || !timingSafeEqual(given, expected)) {
      return reply.code(401).send({ statusCode: 401, error: 'Unauthorized' })
    }
    return reply.code(202).type('application/json').send(ACCEPTED)
  })
})

await app.listen({ port: 0, host: '127.0.0.1' })
serve({ stop: () => app.close() })
ready({ port: /** @type {import('node:net').AddressInfo} */ (app.server.address()).port })
