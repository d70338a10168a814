// @ts-check
// The events every benchmark sends: JSON bodies of an exact size with a fresh
// event id, signed with the generic HMAC scheme (docs/providers.md's "Generic HMAC":
// HMAC-SHA256 of the raw body, base64, in `x-provider-signature`, id in `event_id`).
import { createHmac } from 'node:crypto'

/** The shared secret of every benchmark server and load run. */
export const SECRET = 'bench-secret-9f1c2b7e4d'

/** The signature header of the generic HMAC scheme. */
export const SIGNATURE_HEADER = 'x-provider-signature'

/** The route every server answers on. */
export const PATH = '/v1/events'

/**
 * The signature a sender puts in `x-provider-signature`.
 * @param {string} body
 */
export function sign (body, secret = SECRET) {
  return createHmac('sha256', secret).update(body).digest('base64')
}

/**
 * A body builder for bodies of exactly `size` bytes (ASCII, so bytes ==
 * characters): `{"event_id":…,"type":…,"object_id":…,"sent_at":…,"data":{"pad":…}}`.
 * Ids and times vary in length, so the padding is computed per body.
 * @param {number} size
 */
export function bodyOfSize (size) {
  const padding = 'x'.repeat(size)
  /**
   * @param {string} id
   * @param {string} objectId
   * @param {number} sentAt epoch ms
   */
  return function body (id, objectId, sentAt) {
    const head = `{"event_id":"${id}","type":"order.updated","object_id":"${objectId}","sent_at":${sentAt},"data":{"pad":"`
    const tail = '"}}'
    const pad = size - head.length - tail.length
    if (pad < 0) throw new Error(`a body of ${size} bytes cannot hold event ${id}`)
    return head + padding.slice(0, pad) + tail
  }
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function nowMs () {
  return performance.timeOrigin + performance.now()
}
