/**
 * The `v0` scheme Slack and Zoom share: a `v0=<hex>` header holding the
 * HMAC-SHA256 of `v0:${timestamp}:${body}`, and a timestamp header in integer
 * seconds that must fall inside the preset's window.
 */
import type { KeyObject } from 'node:crypto'
import type { IncomingHeaders, VerifyFailure, VerifyInput, VerifyResult } from './provider.js'
import { checkWindow, decodeHex, fail, keyCache, matchingSecret, parseTimestampSec, singleHeader, utf8Key } from './util.js'

const SIGNATURE_BYTES = 32
const VERSIONED = /^([A-Za-z0-9]+)=(.*)$/s

/** What a `v0` preset reads from the headers, before the body is read and after. */
export interface V0Headers {
  ok: true
  ts: string
  timestampSec: number
  received: Buffer
}

/** The header names of one `v0` sender. */
export interface V0Names {
  signature: string
  timestamp: string
}

/** The `v0` scheme's header check and verify, for the given headers and window. */
export function v0Signature (names: V0Names, toleranceMs: number): {
  keyFor: (secret: string) => KeyObject | undefined
  readHeaders: (headers: IncomingHeaders, nowMs: number) => V0Headers | VerifyFailure
  verify: (input: VerifyInput, secrets: readonly string[], nowMs: number) => VerifyResult
} {
  const keyFor = keyCache(utf8Key)

  // What verify reads from the headers; checkHeaders runs it before the body is read.
  function readHeaders (headers: IncomingHeaders, nowMs: number): V0Headers | VerifyFailure {
    const sig = singleHeader(headers, names.signature)
    if (!sig.ok) return sig
    const ts = singleHeader(headers, names.timestamp)
    if (!ts.ok) return ts
    const m = VERSIONED.exec(sig.value)
    if (m === null) return fail('malformed_header', `${names.signature} is not version=hex`)
    if (m[1] !== 'v0') return fail('unsupported_version', `${names.signature} version ${m[1].slice(0, 10)}`)
    const timestampSec = parseTimestampSec(ts.value)
    if (timestampSec === undefined) return fail('malformed_header', `${names.timestamp} is not integer seconds`)
    const outside = checkWindow(timestampSec, nowMs, toleranceMs)
    if (outside !== undefined) return outside
    const received = decodeHex(m[2], SIGNATURE_BYTES)
    if (received === undefined) return fail('no_match', 'signature is not 32-byte hex')
    return { ok: true, ts: ts.value, timestampSec, received }
  }

  function verify ({ headers, rawBody }: VerifyInput, secrets: readonly string[], nowMs: number): VerifyResult {
    const read = readHeaders(headers, nowMs)
    if (!read.ok) return read
    const matched = matchingSecret(secrets, keyFor, 'sha256', [`v0:${read.ts}:`, rawBody], [read.received])
    return matched === -1 ? fail('no_match') : { ok: true, secretIndex: matched, timestampMs: read.timestampSec * 1000 }
  }

  return { keyFor, readHeaders, verify }
}
