import type { IncomingMessage } from 'node:http'
import { errorCodes, type FastifyRequest } from 'fastify'
import { WebhookErrors } from '../core/errors.js'
import type { IntakeStats } from './outcome.js'

/** The reason logged when a body does not fit in `maxUnverifiedBytes`. */
export const UNVERIFIED_FULL_REASON = 'unverified_bytes_full'

/**
 * The bytes of bodies read, or reserved by their `Content-Length`, and not
 * yet verified, across one route. Anyone can send a body; only a verified
 * sender should be able to make the server hold much of it.
 */
export interface UnverifiedBudget {
  /** Reserves `bytes` more for the request; `false`, reserving nothing, when they do not fit. */
  reserve: (request: IncomingMessage, bytes: number) => boolean
  /** Releases what the request holds; safe to call on every path, more than once. */
  release: (request: IncomingMessage) => void
}

const HELD = Symbol('unverifiedBytes')
type Holding = IncomingMessage & { [HELD]?: number }

/** A budget of `max` bytes whose current total is kept in `stats.unverifiedBytes`. */
export function createUnverifiedBudget (max: number, stats: IntakeStats): UnverifiedBudget {
  return {
    reserve (request, bytes) {
      if (stats.unverifiedBytes + bytes > max) return false
      stats.unverifiedBytes += bytes
      ;(request as Holding)[HELD] = ((request as Holding)[HELD] ?? 0) + bytes
      return true
    },
    release (request) {
      const held = (request as Holding)[HELD]
      if (held === undefined) return
      stats.unverifiedBytes -= held
      ;(request as Holding)[HELD] = undefined
    }
  }
}

/** The declared `Content-Length`, or `undefined` for a chunked body. */
export function declaredLength (request: IncomingMessage): number | undefined {
  const header = request.headers['content-length']
  return header === undefined ? undefined : Number(header)
}

type Done = (err: Error | null, body?: Buffer) => void

/**
 * A content-type parser that reads the raw body into one buffer. A declared
 * length was reserved before reading (by the route's `onRequest`), so the
 * body is copied into a buffer of that size as it arrives, never held twice;
 * a chunked body reserves each chunk as it is read and is refused with 503
 * as soon as it no longer fits. Over `bodyLimit` is 413, as Fastify's own
 * parser answers.
 */
export function createBodyReader (budget: UnverifiedBudget, bodyLimit: number) {
  return function readRawBody (request: FastifyRequest, payload: IncomingMessage, done: Done): void {
    const declared = declaredLength(request.raw)
    const body = declared === undefined ? undefined : Buffer.allocUnsafe(declared)
    const chunks: Buffer[] = []
    let received = 0

    payload.on('data', onData)
    payload.on('end', onEnd)
    payload.on('error', onError)

    function onData (chunk: Buffer): void {
      if (received + chunk.length > bodyLimit) return stop(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
      if (body !== undefined) {
        if (received + chunk.length > body.length) return stop(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
        chunk.copy(body, received)
      } else if (budget.reserve(request.raw, chunk.length)) {
        chunks.push(chunk)
      } else {
        return stop(new WebhookErrors.FST_WEBHOOK_UNAVAILABLE())
      }
      received += chunk.length
    }

    function onEnd (): void {
      if (body !== undefined && received !== body.length) return stop(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
      detach()
      done(null, body ?? Buffer.concat(chunks, received))
    }

    function onError (err: Error & { statusCode?: number }): void {
      if (typeof err.statusCode !== 'number' || err.statusCode < 400) err.statusCode = 400
      stop(err)
    }

    // What was held goes back at once; the answer closes the connection.
    function stop (err: Error): void {
      detach()
      chunks.length = 0
      budget.release(request.raw)
      done(err)
    }

    function detach (): void {
      payload.removeListener('data', onData)
      payload.removeListener('end', onEnd)
      payload.removeListener('error', onError)
    }
  }
}
