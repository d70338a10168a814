// @ts-check
// The provider both ends use: the generic HMAC preset with a signed timestamp,
// so every attempt the sender makes carries a fresh timestamp and signature.
import { providers } from 'fastify-hybrid-webhooks'

export const TIMESTAMP_HEADER = 'x-chaos-timestamp'

/** @param {string} secret */
export function chaosProvider (secret) {
  return providers.hmac({ secret, timestampHeader: TIMESTAMP_HEADER })
}
