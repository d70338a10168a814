/**
 * A worker process's own small HTTP endpoint: Prometheus scrapes `/metrics`,
 * the orchestrator probes `/healthz`. Plain `node:http`: a worker never loads
 * Fastify.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { metricsProblem, openMetrics, workerMissingDependency, type MetricsOption } from '../core/prom.js'
import { checkInteger, checkOneOf, checkString, expected, unknownKeys } from '../core/validate.js'
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import type { WorkerHealth, WorkerHealthStatus } from './worker-health.js'

/** Where `/healthz` reads the worker's health: the handle, or a function. */
export type WorkerHealthSource = { health: () => Promise<WorkerHealth> } | (() => Promise<WorkerHealth>)

/** Options of {@link serveWorkerOps}. */
export interface WorkerOpsOptions {
  /** The port to listen on; `0` picks a free one (read it from `url`). */
  port: number
  /** The interface to listen on. @defaultValue every interface, as `node:http` does */
  host?: string
  /**
   * The registry `/metrics` renders: the worker's `metrics` option, `true`
   * for prom-client's default registry or a `Registry`. Without it (or
   * `false`), `/metrics` answers 404.
   */
  metrics?: MetricsOption
  /** The worker whose `health()` `/healthz` answers (or a function returning it). Without it, `/healthz` answers 404. */
  health?: WorkerHealthSource
  /**
   * The lowest status `/healthz` answers with 503. `'fail'` (the default)
   * fits a liveness probe: 503 only when the worker should be restarted, 200
   * while it waits out a Redis outage (`warn`). `'warn'` also answers 503
   * while it starts or while Redis is unreachable.
   * @defaultValue `'fail'`
   */
  failOn?: 'fail' | 'warn'
}

/** A running ops endpoint. */
export interface WorkerOps {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string
  /** Stops listening and closes open connections. */
  close: () => Promise<void>
}

const KNOWN = ['port', 'host', 'metrics', 'health', 'failOn'] as const
const ALLOWED = 'GET, HEAD'
const SEVERITY: Record<WorkerHealthStatus, number> = { pass: 0, warn: 1, fail: 2 }

/**
 * Serves a worker's `GET /metrics` (the Prometheus text of its registry) and
 * `GET /healthz` (its `health()` as JSON: 200, or 503 from `failOn` up) on a
 * small `node:http` server; other paths answer 404, other methods 405.
 * Rejects with `WEBHOOK_INVALID_OPTION` on a bad option,
 * `WEBHOOK_MISSING_DEPENDENCY` for `metrics` without prom-client, and
 * the listen error (e.g. `EADDRINUSE`).
 *
 * @example
 * const handle = createWebhookWorker({ connection, apply, metrics: true })
 * const ops = await serveWorkerOps({ port: 9464, metrics: true, health: handle })
 * process.once('SIGTERM', async () => { await handle.close(); await ops.close() })
 */
export async function serveWorkerOps (options: WorkerOpsOptions): Promise<WorkerOps> {
  const o = validate(options)
  const m = o.metrics === undefined ? undefined : await openMetrics(o.metrics, workerMissingDependency)
  const health = o.health === undefined ? undefined : typeof o.health === 'function' ? o.health : o.health.health.bind(o.health)
  const failAt = SEVERITY[o.failOn ?? 'fail']

  const routes: Record<string, (() => Promise<Answer>) | undefined> = {
    '/metrics': m === undefined ? undefined : async () => ({ status: 200, type: m.registry.contentType, body: await m.registry.metrics() }),
    '/healthz': health === undefined ? undefined : async () => answerHealth(await health(), failAt)
  }

  const server = createServer((req, res) => {
    respond(req, res, routes).catch(() => res.destroy())
  })
  // A scrape or a probe is small and quick: a client that dawdles is cut off.
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  await listen(server, o.port, o.host)
  return {
    url: urlOf(server.address() as AddressInfo),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    }
  }
}

interface Answer { status: number, type: string, body: string }

async function respond (req: IncomingMessage, res: ServerResponse, routes: Record<string, (() => Promise<Answer>) | undefined>): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined
  let answer: Answer
  if (route === undefined) answer = text(404, 'Not Found')
  else if (req.method !== 'GET' && req.method !== 'HEAD') {
    answer = text(405, 'Method Not Allowed')
    res.setHeader('allow', ALLOWED)
  } else {
    try {
      answer = await route()
    } catch (err) {
      // A health check that throws is a failed check; a registry that throws is our fault.
      answer = path === '/healthz'
        ? json(503, { status: 'fail', message: `the health check threw: ${(err as Error).message}` })
        : text(500, `could not render the metrics: ${(err as Error).message}`)
    }
  }
  res.statusCode = answer.status
  res.setHeader('content-type', answer.type)
  res.setHeader('content-length', Buffer.byteLength(answer.body))
  res.setHeader('cache-control', 'no-store')
  res.end(req.method === 'HEAD' ? undefined : answer.body)
}

function answerHealth (report: WorkerHealth, failAt: number): Answer {
  return json(SEVERITY[report.status] >= failAt ? 503 : 200, report)
}

function json (status: number, value: unknown): Answer {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(value) }
}

function text (status: number, body: string): Answer {
  return { status, type: 'text/plain; charset=utf-8', body }
}

async function listen (server: Server, port: number, host: string | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

// An unspecified address is reached through the loopback.
function urlOf ({ address, family, port }: AddressInfo): string {
  if (address === '0.0.0.0' || address === '::') return `http://127.0.0.1:${port}`
  return family === 'IPv6' ? `http://[${address}]:${port}` : `http://${address}:${port}`
}

const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

function validate (options: WorkerOpsOptions): WorkerOpsOptions {
  if (typeof options !== 'object' || options === null) invalid.fail(expected('serveWorkerOps options', 'an object', options))
  const unknown = unknownKeys(options, KNOWN)
  if (unknown.length > 0) invalid.fail(`Unknown option \`${unknown[0]}\`; known options are ${KNOWN.join(', ')}`)
  const problem = checkInteger('port', options.port, 0, 65_535) ??
    (options.host === undefined ? undefined : checkString('host', options.host)) ??
    (options.metrics === undefined ? undefined : metricsProblem(options.metrics)) ??
    (options.health === undefined || typeof options.health === 'function' || typeof (options.health as { health?: unknown } | null)?.health === 'function'
      ? undefined
      : expected('health', 'a worker handle or a function returning its health()', options.health)) ??
    (options.failOn === undefined ? undefined : checkOneOf('failOn', options.failOn, ['fail', 'warn']))
  invalid.failIf(problem)
  if ((options.metrics === undefined || options.metrics === false) && options.health === undefined) {
    invalid.fail('Expected `metrics` or `health` in serveWorkerOps options: with neither, every path answers 404')
  }
  return options
}
