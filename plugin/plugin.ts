import type { Queue } from 'bullmq'
import type { FastifyInstance, FastifyPluginAsync, FastifyBaseLogger } from 'fastify'
import fp from 'fastify-plugin'
import { createEventProducer, type EventProducer } from './enqueue.js'
import { PluginErrors } from './errors.js'
import { validatePluginOptions, type ResolvedPluginOptions, type WebhookPluginOptions } from './options.js'
import { createAnswerer, newStats, type IntakeStats } from './outcome.js'
import { createRouteHandlers } from './route.js'
import { createSecretSource } from './secrets.js'

/** One registration of the plugin, as seen through `app.webhookIntakes`. */
export interface WebhookIntake {
  readonly name: string
  readonly source: string
  /** The route path as registered (without the prefix of the enclosing scope). */
  readonly path: string
  readonly queueName: string
  readonly prefix: string
  /** The BullMQ queue events are added to (on the plugin's fail-fast connection). */
  readonly queue: Queue
  /** Counters by outcome since registration. */
  readonly stats: Readonly<IntakeStats>
  /** True when an event would be enqueued now (Redis ready and, under `'refuse'`, verified). */
  readonly ready: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registration of `webhookPlugin` in this scope and its parents, by `name`. */
    webhookIntakes: Map<string, WebhookIntake>
  }
}

// Recommended when the server leaves them at Fastify's default of 0 (no limit):
// above every sender's own deadline (GitHub 10 s, Svix 15 s), far below forever.
const RECOMMENDED_TIMEOUTS = { connectionTimeout: 30_000, requestTimeout: 15_000 }

async function webhookPluginAsync (fastify: FastifyInstance, rawOptions: WebhookPluginOptions): Promise<void> {
  const options = validatePluginOptions(rawOptions)
  const log = fastify.log.child({ webhookSource: options.source })
  warnOnUnlimitedTimeouts(fastify, log)
  if (!fastify.hasDecorator('webhookIntakes')) fastify.decorate('webhookIntakes', new Map<string, WebhookIntake>())
  if (fastify.webhookIntakes.has(options.name)) {
    throw new PluginErrors.FST_WEBHOOK_DUPLICATE_NAME(
      `Expected \`name\` to be unique in the app, got \`${options.name}\` (string) twice. Set a distinct \`name\` (it defaults to \`source\`)`)
  }

  const producer = createEventProducer(options, log)
  await producer.boot()
  fastify.addHook('onClose', async function closeWebhookIntake () {
    fastify.webhookIntakes.delete(options.name)
    await producer.close()
  })

  const stats = newStats()
  fastify.webhookIntakes.set(options.name, intakeView(options, producer, stats))
  const handlers = createRouteHandlers({
    options,
    producer,
    secrets: createSecretSource(options.provider.secret, {
      cacheMs: options.secretCacheMs,
      timeoutMs: options.secretTimeoutMs,
      cacheKey: options.secretCacheKey
    }),
    answer: createAnswerer(options.source, Math.ceil(options.retryAfterMs / 1000), stats)
  })

  // The route lives in its own encapsulated scope: the raw-buffer parser, the
  // error handler and the hooks below never reach the app's other routes.
  // No `prefix` is passed here: it is BullMQ's, and the route inherits the
  // route prefix of the scope the plugin was registered in.
  fastify.register(async function webhookRoute (scope) {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, function keepRawBody (_request, body, done) {
      done(null, body)
    })
    scope.setErrorHandler(handlers.onRouteError)
    scope.route({
      method: 'POST',
      url: options.path,
      bodyLimit: options.bodyLimit,
      ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
      onRequest: handlers.checkFraming,
      handler: handlers.receiveWebhook
    })
  })
}

function intakeView (options: ResolvedPluginOptions, producer: EventProducer, stats: IntakeStats): WebhookIntake {
  return {
    name: options.name,
    source: options.source,
    path: options.path,
    queueName: options.queueName,
    prefix: options.prefix,
    queue: producer.queue,
    stats,
    get ready () { return producer.ready }
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
