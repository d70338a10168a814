import { STATUS_CODES } from 'node:http'
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/** What became of one request, as logged on the plugin's `msg: 'webhook'` line. */
export type Outcome = 'accepted' | 'duplicate' | 'ignored' | 'responded' | 'rejected' | 'unavailable'

/** Counters of one registration, by outcome. */
export interface IntakeStats {
  /** Events enqueued (202). */
  accepted: number
  /** Events already in the queue (202, nothing added). */
  duplicates: number
  /** Verified events of a type `acceptTypes` leaves out (202, nothing added). */
  ignored: number
  /** Requests answered inline by the provider (200). */
  responded: number
  /** Requests refused with a 4xx. */
  rejected: number
  /** Requests answered 503. */
  unavailable: number
  /** Of those, the events refused because the backlog was over `maxBacklog`. */
  shed: number
  /** Bytes of request bodies read (or reserved by `Content-Length`) and not yet verified, now; at most `maxUnverifiedBytes`. */
  unverifiedBytes: number
}

/** The fields of one `msg: 'webhook'` line besides the standard ones. Never a secret, a signature or a body. */
export interface OutcomeFields {
  outcome: Outcome
  reason?: string
  eventId?: string
  type?: string
  /** Why, in more words (a provider's detail, never a secret or an expected signature). */
  detail?: string
  secretIndex?: number
  /** How long the enqueue took, when one was attempted. */
  enqueueMs?: number
  /** An error to log with the line (our own failure, or a user callback's). */
  err?: unknown
}

export function newStats (): IntakeStats {
  return { accepted: 0, duplicates: 0, ignored: 0, responded: 0, rejected: 0, unavailable: 0, shed: 0, unverifiedBytes: 0 }
}

const STAT_OF: Record<Outcome, keyof IntakeStats> = {
  accepted: 'accepted',
  duplicate: 'duplicates',
  ignored: 'ignored',
  responded: 'responded',
  rejected: 'rejected',
  unavailable: 'unavailable'
}

/** How a registration answers and logs: one line per request, then the reply. */
export interface Answerer {
  /** Sends a coded error (its status, code and generic message; `Retry-After` on 503). */
  fail: (request: FastifyRequest, reply: FastifyReply, error: FastifyError, fields: OutcomeFields) => FastifyReply
  /** Sends a success body. */
  succeed: (request: FastifyRequest, reply: FastifyReply, status: number, body: unknown, fields: OutcomeFields) => FastifyReply
}

/** Told about every answer, after its log line (the metrics hook). */
export type OutcomeObserver = (fields: OutcomeFields, status: number, elapsedMs: number) => void

/** The reason given when `maxBacklog` sheds an event. */
export const SHED_REASON = 'backlog_full'

export function createAnswerer (source: string, retryAfterSec: number, stats: IntakeStats, observe?: OutcomeObserver): Answerer {
  return { fail, succeed }

  function fail (request: FastifyRequest, reply: FastifyReply, error: FastifyError, fields: OutcomeFields): FastifyReply {
    const status = error.statusCode ?? 500
    if (status === 503) reply.header('retry-after', String(retryAfterSec))
    logLine(request, reply, status, fields)
    return reply.code(status).send({ statusCode: status, code: error.code, error: STATUS_CODES[status], message: error.message })
  }

  function succeed (request: FastifyRequest, reply: FastifyReply, status: number, body: unknown, fields: OutcomeFields): FastifyReply {
    logLine(request, reply, status, fields)
    return reply.code(status).send(body)
  }

  function logLine (request: FastifyRequest, reply: FastifyReply, status: number, fields: OutcomeFields): void {
    stats[STAT_OF[fields.outcome]]++
    if (fields.reason === SHED_REASON) stats.shed++
    const level = fields.err !== undefined ? 'error' : fields.outcome === 'unavailable' ? 'warn' : 'info'
    const log = request.log
    const wanted = levelEnabled(log, level)
    if (!wanted && observe === undefined) return
    const elapsedMs = reply.elapsedTime
    if (wanted) {
      const { err, ...rest } = fields
      const line = { ...rest, source, status, latencyMs: Math.round(elapsedMs * 100) / 100 }
      log[level](err === undefined ? line : { ...line, err }, 'webhook')
    }
    observe?.(fields, status, elapsedMs)
  }
}

// Building a line nobody writes costs two objects per request. Pino says
// whether a level is on; Fastify's `logger: false` logger (abstract-logging)
// has one function named noop for every level.
function levelEnabled (log: FastifyBaseLogger, level: 'error' | 'warn' | 'info'): boolean {
  const { isLevelEnabled } = log as { isLevelEnabled?: (level: string) => boolean }
  if (typeof isLevelEnabled === 'function') return isLevelEnabled.call(log, level)
  return log[level].name !== 'noop'
}
