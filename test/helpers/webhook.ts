import { createHmac, timingSafeEqual } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import type { Test } from 'tap'
import { webhookPlugin } from '../../plugin/plugin.js'
import type { WebhookPluginOptions } from '../../plugin/options.js'
import type { ContentKind, InlineResponse, ParsedBody, Provider, SecretOption, SignOptions, VerifyResult } from '../../providers/provider.js'
import { cleanQueue, redisUrl, testClient, uniqueName } from './redis.js'
import { waitFor } from './wait.js'

export { waitFor }

/** Options of the pipeline tests' own provider. */
export interface TestProviderOptions {
  secret: SecretOption
  contentTypes?: ContentKind[]
  bodyLimit?: number
  /** Records the index of every secret `verify` compared against. */
  tried?: number[]
  /** Makes `verify`, `toEvent` or `respond` throw. */
  throwIn?: 'verify' | 'toEvent' | 'respond'
}

/**
 * A small provider for pipeline tests, independent of the presets:
 * `x-test-signature: <hex HMAC-SHA256 of "{x-test-timestamp}.{body}">`, the id
 * in the body's `id`, the type in `type`, `x-test-topic` copied into events.
 * A `type: 'handshake'` body is answered inline; `type: 'inline'` is answered
 * inline after the enqueue.
 */
export function testProvider (options: TestProviderOptions): Provider {
  const tried = options.tried
  return {
    name: 'testprov',
    secret: options.secret,
    contentTypes: options.contentTypes ?? ['json', 'form'],
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    eventHeaders: ['x-test-topic'],
    verify ({ headers, rawBody }, secrets, nowMs): VerifyResult {
      if (options.throwIn === 'verify') throw new Error('verify exploded')
      const sig = headers['x-test-signature']
      const ts = headers['x-test-timestamp']
      if (sig === undefined || ts === undefined) return { ok: false, reason: 'missing_header' }
      if (Array.isArray(sig) || Array.isArray(ts)) return { ok: false, reason: 'duplicate_header' }
      if (!/^[0-9a-f]{64}$/.test(sig) || !/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'malformed_header' }
      const ageMs = nowMs - Number(ts) * 1000
      if (ageMs > 300_000) return { ok: false, reason: 'timestamp_too_old' }
      if (ageMs < -300_000) return { ok: false, reason: 'timestamp_too_new' }
      const received = Buffer.from(sig, 'hex')
      let matched = -1
      secrets.forEach((secret, i) => {
        tried?.push(i)
        const expected = createHmac('sha256', secret).update(`${ts}.`).update(rawBody).digest()
        if (timingSafeEqual(expected, received) && matched === -1) matched = i
      })
      return matched === -1 ? { ok: false, reason: 'no_match' } : { ok: true, secretIndex: matched, timestampMs: Number(ts) * 1000 }
    },
    toEvent (parsed: ParsedBody) {
      if (options.throwIn === 'toEvent') throw new Error('toEvent exploded')
      const id = parsed.value.id
      if (typeof id !== 'string' && typeof id !== 'number') return { ok: false, reason: 'missing_id' }
      const type = typeof parsed.value.type === 'string' ? parsed.value.type : ''
      return typeof parsed.value.replay === 'string'
        ? { ok: true, id: String(id), type, replayKey: parsed.value.replay }
        : { ok: true, id: String(id), type }
    },
    respond (parsed: ParsedBody): InlineResponse | undefined {
      if (options.throwIn === 'respond') throw new Error('respond exploded')
      if (parsed.value.type === 'handshake') return { statusCode: 200, body: { challenge: parsed.value.challenge }, enqueue: false }
      if (parsed.value.type === 'inline') return { statusCode: 200, body: undefined, enqueue: true }
      return undefined
    },
    sign (body, signOptions = {}) {
      const secret = signOptions.secret ?? (typeof options.secret === 'string' ? options.secret : Array.isArray(options.secret) ? options.secret[0] : '')
      const ts = String(signOptions.timestampSec ?? Math.floor(Date.now() / 1000))
      const sig = createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')
      return { 'content-type': signOptions.contentType ?? 'application/json', 'x-test-timestamp': ts, 'x-test-signature': sig }
    }
  }
}

/** A JSON log line as pino writes it. */
export type LogLine = Record<string, unknown> & { msg?: string, level?: number }

/** A pino logger writing into an array, for asserting log lines. */
export function captureLogs (): { logger: ReturnType<typeof pino>, lines: LogLine[], text: () => string } {
  const lines: LogLine[] = []
  const raw: string[] = []
  const stream = new Writable({
    write (chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue
        raw.push(line)
        lines.push(JSON.parse(line))
      }
      done()
    }
  })
  return { logger: pino({ level: 'debug' }, stream), lines, text: () => raw.join('\n') }
}

export interface TestApp {
  app: FastifyInstance
  lines: LogLine[]
  logText: () => string
  queueName: string
  /** The `msg: 'webhook'` lines. */
  webhookLines: () => LogLine[]
}

/**
 * A Fastify app with the plugin registered on a fresh queue of the shared test
 * Redis. Closed, and its keys removed, when the test ends.
 */
export async function buildApp (
  t: Test,
  options: Partial<WebhookPluginOptions> & { provider: Provider },
  serverOptions: FastifyServerOptions = {}
): Promise<TestApp> {
  const { logger, lines, text } = captureLogs()
  const queueName = options.queueName ?? uniqueName('ingress')
  const app = Fastify({ loggerInstance: logger, connectionTimeout: 30_000, requestTimeout: 15_000, ...serverOptions })
  const redis = testClient(t)
  t.teardown(async () => {
    await app.close()
    await cleanQueue(redis, options.prefix ?? 'bull', queueName)
  })
  await app.register(webhookPlugin, { connection: redisUrl(), ackTimeoutMs: 2000, ...options, queueName })
  await app.ready()
  for (const name of app.webhooks.keys()) await untilReady(app, name)
  return { app, lines, logText: text, queueName, webhookLines: () => lines.filter((l) => l.msg === 'webhook') }
}

/** A JSON body and its signed headers. */
export function signed (provider: Provider, body: unknown, options: SignOptions & { type?: string } = {}): { payload: string, headers: Record<string, string> } {
  const payload = typeof body === 'string' ? body : JSON.stringify(body)
  return { payload, headers: provider.sign(payload, options) }
}

/** Waits until the registration `name` (`source:path` by default) would enqueue (Redis ready, and verified under 'refuse'). */
export async function untilReady (app: { webhooks: ReadonlyMap<string, { ready: boolean }> }, name: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => app.webhooks.get(name)?.ready === true, timeoutMs, `intake ${name} to be ready`)
}
