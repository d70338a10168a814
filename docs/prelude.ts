/**
 * The names the TypeScript samples in these docs use without declaring them.
 * A sample is a fragment of your code: it assumes the imports at the top of
 * your file and the objects your app already has (a Fastify instance, a Redis
 * connection, your data layer). This file declares exactly those, so that
 * every `ts` sample compiles under `tsc --strict` against it (the
 * repository's tests check that). Anything else a sample uses it imports or
 * declares itself.
 */
import type { FastifyInstance } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import type Stripe from 'stripe'
import type * as Plugin from 'fastify-hybrid-webhooks'
import type * as Worker from 'fastify-hybrid-webhooks/worker'

declare global {
  // The imports: `import webhookPlugin, { providers } from 'fastify-hybrid-webhooks'`
  // and `import { createWebhookWorker, createPoller, createDeadLetters, RateLimitedError } from 'fastify-hybrid-webhooks/worker'`.
  const webhookPlugin: typeof Plugin.webhookPlugin
  const providers: typeof Plugin.providers
  const createWebhookWorker: typeof Worker.createWebhookWorker
  const createPoller: typeof Worker.createPoller
  const createDeadLetters: typeof Worker.createDeadLetters
  const RateLimitedError: typeof Worker.RateLimitedError

  // Your app: the Fastify instance, a Redis connection (or a Cluster), a Stripe
  // client, a logger.
  const app: FastifyInstance
  const connection: Redis
  const cluster: Cluster
  const stripe: Stripe
  const log: Logger

  // Options written once in an earlier sample and passed along by later ones:
  // a preset, the worker's steps, a poller's source, feed and first cursor.
  const provider: Plugin.Provider
  const hydrate: Worker.Hydrate<Order | null>
  const apply: Worker.Apply<Order | null>
  const source: string
  const fetchChanges: Worker.FetchChanges
  const initialCursor: string

  // Your data layer: an order as your provider's API returns it, and the writes.
  interface Order { id: string, updated: number, status: string }
  function fetchOrder (id: string, options: { signal: AbortSignal }): Promise<Order | null>
  function saveOrder (order: Order | null, idempotencyKey: string): Promise<void>
  const db: { query (sql: string, params: unknown[]): Promise<unknown> }
}

export {}
