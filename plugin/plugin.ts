import type { FastifyInstance, FastifyPluginAsync, FastifyBaseLogger, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { QueueProbe } from '../core/queue-stats.js'
import { createBacklogGuard, type BacklogGuard } from './backlog.js'
import { createEventProducer, type EventProducer } from './enqueue.js'
import { WebhookErrors } from '../core/errors.js'
import { createHealthCheck } from './health.js'
import { createIngressMetrics, openPluginMetrics } from './metrics.js'
import type { AcceptTypes, WebhookPluginOptions } from './options.js'
import { validatePluginOptions, type ResolvedPluginOptions } from './resolve-options.js'
import { createAnswerer, newStats, type IntakeStats } from './outcome.js'
import { createRegistry, handleOf, type RegistryHandle, type WebhookIntake, type WebhookRegistry } from './registry.js'
import { createRouteHandlers } from './route.js'
import { createSecretSource } from './secrets.js'
import { createBodyReader, createUnverifiedBudget } from './unverified.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registration of `webhookPlugin` in this scope and its parents, by `name`, and their `health()`. */
    webhooks: WebhookRegistry
  }
}

// Recommended when the server leaves them at Fastify's default of 0 (no limit):
// above every sender's own deadline (GitHub 10 s, Svix 15 s), far below forever.
const RECOMMENDED_TIMEOUTS = { connectionTimeout: 30_000, requestTimeout: 15_000 }

// The media types nearly every sender declares, given their own raw-body parser.
const DECLARED_TYPES = ['application/json', 'application/x-www-form-urlencoded']

async function webhookPluginAsync (fastify: FastifyInstance, rawOptions: WebhookPluginOptions): Promise<void> {
  const options = validatePluginOptions(rawOptions)
  const log = fastify.log.child({ webhookSource: options.source })
  warnOnUnlimitedTimeouts(fastify, log)
  const registry = registryOf(fastify)
  if (registry.registry.has(options.name)) {
    throw new WebhookErrors.FST_WEBHOOK_DUPLICATE_NAME(
      `Expected \`name\` to be unique in the app, got \`${options.name}\` (string) twice. Set a distinct \`name\` (it defaults to \`source:path\`)`)
  }
  // Before any connection: a missing prom-client fails register at once.
  const metricsRegistry = await openPluginMetrics(options)

  const producer = createEventProducer(options, log)
  await producer.boot()
  const probe = new QueueProbe(producer.client, { queueName: options.queueName, prefix: options.prefix, queue: producer.queue })
  const metrics = metricsRegistry === undefined ? undefined : createIngressMetrics(metricsRegistry, options, probe, log)
  fastify.addHook('onClose', async function closeWebhookIntake () {
    registry.remove(options.name)
    metrics?.close()
    await probe.close()
    await producer.close()
  })

  const stats = newStats()
  const budget = createUnverifiedBudget(options.maxUnverifiedBytes, stats)
  const health = createHealthCheck(options, producer, probe)
  registry.add(intakeView(options, producer, stats, health))
  const handlers = createRouteHandlers({
    options,
    producer,
    secrets: createSecretSource(options.provider.secret, {
      cacheMs: options.secretCacheMs,
      negativeCacheMs: options.secretNegativeCacheMs,
      timeoutMs: options.secretTimeoutMs,
      cacheKey: options.secretCacheKey,
      provider: options.provider
    }),
    answer: createAnswerer(options.source, Math.ceil(options.retryAfterMs / 1000), stats, metrics?.observe),
    budget,
    ...(options.acceptTypes === undefined ? {} : { accepts: acceptPredicate(options.acceptTypes, log) }),
    ...(options.maxBacklog === false ? {} : { backlog: backlogGuard(options, options.maxBacklog, probe) })
  })

  if (options.healthRoute !== false && registry.claimHealthRoute(options.healthRoute)) {
    fastify.get(options.healthRoute, async function webhookHealth (_request, reply: FastifyReply) {
      const report = await fastify.webhooks.health()
      return await reply.code(report.ok ? 200 : 503).send(report)
    })
  }

  // The route lives in its own encapsulated scope: the raw-buffer parser, the
  // error handler and the hooks below never reach the app's other routes.
  // No `prefix` is passed here: it is BullMQ's, and the route inherits the
  // route prefix of the scope the plugin was registered in.
  fastify.register(async function webhookRoute (scope) {
    scope.removeAllContentTypeParsers()
    // Our own reader rather than `parseAs: 'buffer'`: it accounts unverified
    // bytes as they are read, and copies a declared length into one buffer
    // instead of concatenating chunks (twice the body at the peak).
    const readRawBody = createBodyReader(budget, options.bodyLimit)
    // Fastify caches the parser of a declared type by the header's text; the
    // catch-all alone would parse every request's Content-Type again. The
    // catch-all stays for the rest, which checkFraming has already judged.
    for (const type of DECLARED_TYPES) scope.addContentTypeParser(type, readRawBody)
    scope.addContentTypeParser('*', readRawBody)
    scope.setErrorHandler(handlers.onRouteError)
    scope.route({
      method: 'POST',
      url: options.path,
      bodyLimit: options.bodyLimit,
      ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
      onRequest: handlers.checkFraming,
      handler: handlers.receiveWebhook
    })
    // A subscription handshake (Meta's `hub.challenge`) arrives as a GET on the same path.
    if (options.provider.challenge !== undefined) {
      scope.route({
        method: 'GET',
        url: options.path,
        ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
        handler: handlers.answerChallenge
      })
    }
  })
}

// `app.webhooks` is decorated once, by the first registration; later ones join it.
function registryOf (fastify: FastifyInstance): RegistryHandle {
  if (!fastify.hasDecorator('webhooks')) {
    const created = createRegistry()
    fastify.decorate('webhooks', created.registry)
    return created
  }
  const handle = handleOf(fastify.webhooks)
  if (handle === undefined) throw new WebhookErrors.FST_WEBHOOK_DECORATOR_CONFLICT('`app.webhooks` is already decorated by something other than this plugin')
  return handle
}

function acceptPredicate (acceptTypes: AcceptTypes, log: FastifyBaseLogger): NonNullable<Parameters<typeof createRouteHandlers>[0]['accepts']> {
  if (typeof acceptTypes === 'function') return acceptTypes
  const types = new Set(acceptTypes)
  // A list is checked against the provider's types only when typed (`webhookOptions<Events>()`): say once what it lets through.
  log.info({ acceptTypes: [...types] }, 'webhook intake: only these event types are enqueued')
  return function acceptListedType (type) { return types.has(type) }
}

function backlogGuard (options: ResolvedPluginOptions, maxBacklog: number, probe: QueueProbe): BacklogGuard {
  return createBacklogGuard(maxBacklog, async () => await probe.backlog(), options.ackTimeoutMs)
}

function intakeView (options: ResolvedPluginOptions, producer: EventProducer, stats: IntakeStats, health: WebhookIntake['health']): WebhookIntake {
  return {
    name: options.name,
    source: options.source,
    path: options.path,
    queueName: options.queueName,
    prefix: options.prefix,
    queue: producer.queue,
    stats,
    get ready () { return producer.ready },
    health
  }
}

function warnOnUnlimitedTimeouts (fastify: FastifyInstance, log: FastifyBaseLogger): void {
  const unlimited = (['connectionTimeout', 'requestTimeout'] as const).filter((name) => (fastify.initialConfig as Record<string, unknown>)[name] === 0)
  if (unlimited.length === 0) return
  const advice = unlimited.map((name) => `${name}: ${RECOMMENDED_TIMEOUTS[name]}`).join(', ')
  log.warn({ unlimited }, `webhook intake: the server has no ${unlimited.join(' and ')} (0): a slow client can hold a connection open forever. Pass { ${advice} } to fastify()`)
}

/**
 * The ingress plugin: verifies webhooks on their raw bytes and enqueues them
 * in BullMQ before answering 202. Register it once per route and provider.
 */
export const webhookPlugin: FastifyPluginAsync<WebhookPluginOptions> = fp(webhookPluginAsync, {
  fastify: '5.x',
  name: 'fastify-hybrid-webhooks'
})
