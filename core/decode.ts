import { Worker, type Job, type JobJson } from 'bullmq'
import { EVENT_VERSION, SOURCE_PATTERN, type WebhookEvent } from './event.js'

/** An event the worker can process, or why not. */
export type DecodeResult =
  | { ok: true, event: WebhookEvent }
  | { ok: false, reason: string }

const ORIGINS: ReadonlyArray<WebhookEvent['origin']> = ['webhook', 'poll', 'replay']

/**
 * Checks job data against the event schema the worker understands. Data from
 * a newer producer (`v` other than 1) or a broken one is dead-lettered at once
 * (stage `decode`) rather than retried: no retry can make it readable.
 */
export function decodeEvent (data: unknown): DecodeResult {
  if (data instanceof UnparsedJobData) return bad(`job data is not valid JSON (${data.error})`)
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad(`job data is not an object but ${kind(data)}`)
  const d = data as Record<string, unknown>
  if (d.v !== EVENT_VERSION) return bad(`unknown event schema version ${JSON.stringify(d.v) ?? 'undefined'} (this worker reads ${EVENT_VERSION})`)
  if (typeof d.id !== 'string' || d.id === '') return bad('`id` is not a non-empty string')
  if (typeof d.source !== 'string' || !SOURCE_PATTERN.test(d.source)) return bad(`\`source\` does not match ${String(SOURCE_PATTERN)}`)
  if (typeof d.type !== 'string') return bad('`type` is not a string')
  if (!('payload' in d) || d.payload === undefined) return bad('`payload` is missing')
  if (typeof d.headers !== 'object' || d.headers === null || Array.isArray(d.headers)) return bad('`headers` is not an object')
  if (typeof d.receivedAt !== 'number' || !Number.isFinite(d.receivedAt)) return bad('`receivedAt` is not a number')
  if (d.sentAt !== undefined && (typeof d.sentAt !== 'number' || !Number.isFinite(d.sentAt))) return bad('`sentAt` is not a number')
  if (!ORIGINS.includes(d.origin as WebhookEvent['origin'])) return bad(`\`origin\` is not one of ${ORIGINS.join(', ')}`)
  if (d.replayKey !== undefined && (typeof d.replayKey !== 'string' || d.replayKey === '')) return bad('`replayKey` is not a non-empty string')
  return { ok: true, event: d as unknown as WebhookEvent }
}

/**
 * Job data that is not JSON text, kept as the text stored. It serializes as
 * that text, so a dead letter records (and a replay queues) the raw data.
 */
export class UnparsedJobData {
  constructor (readonly text: string, readonly error: string) {}
  toJSON (): string {
    return this.text
  }
}

/**
 * BullMQ's `Worker`, except for job data that is not JSON. BullMQ parses it
 * before any processor runs and, on failure, leaves the job active until it
 * stalls, over and over; here the job reaches the processor with
 * {@link UnparsedJobData}, which {@link decodeEvent} refuses (stage `decode`).
 */
export class DecodingWorker extends Worker {
  protected override createJob (json: JobJson, jobId: string): Job {
    try {
      return super.createJob(json, jobId)
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err
      const job = super.createJob({ ...json, data: 'null' }, jobId)
      job.data = new UnparsedJobData(json.data, err.message)
      return job
    }
  }
}

function bad (reason: string): DecodeResult {
  return { ok: false, reason }
}

function kind (value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}
