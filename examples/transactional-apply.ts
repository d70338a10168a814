// Exactly-once effects: hydrate the current state from the provider's API, then
// write it and ctx.idempotencyKey in ONE database transaction. A crash between
// apply and the worker's commit re-runs apply, and the key makes that re-run a
// no-op; the version guard keeps an older state from overwriting a newer one;
// ctx.fence refuses the late write of an attempt that ran on past its timeout
// or its lease after a newer attempt of the same event took over.
//
//   REDIS_URL=redis://127.0.0.1:6379 PROVIDER_API=https://api.example.com npx tsx examples/transactional-apply.ts
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { pino } from 'pino'
import { createWebhookWorker, PermanentError, type WebhookWorkerHandle } from 'fastify-hybrid-webhooks/worker'

/** The provider's order, as its API returns it. */
export interface Order {
  id: string
  status: string
  amount_cents: number
  version: number
}

/** A thin webhook: which order changed. */
export interface OrderEvent {
  order_id: string
}

export type Outcome = 'applied' | 'not-newer' | 'deleted' | 'duplicate' | 'late'

/** The app's tables and the one transaction that applies an order. */
export function openStore (file: string): { applyOnce: (key: string, fence: number, orderId: string, order: Order | null) => Outcome, db: Database.Database } {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.exec(`
    CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, status TEXT NOT NULL, amount_cents INTEGER NOT NULL, version INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS processed_events (key TEXT PRIMARY KEY, processed_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS event_fences (key TEXT PRIMARY KEY, fence INTEGER NOT NULL);
  `)
  // Takes the event's fence unless a newer attempt of it (a higher ctx.fence) already wrote.
  const fenced = db.prepare(`
    INSERT INTO event_fences (key, fence) VALUES (@key, @fence)
    ON CONFLICT (key) DO UPDATE SET fence = excluded.fence WHERE event_fences.fence < excluded.fence`)
  const remember = db.prepare('INSERT INTO processed_events (key, processed_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING')
  const upsert = db.prepare(`
    INSERT INTO orders (id, status, amount_cents, version) VALUES (@id, @status, @amount_cents, @version)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, amount_cents = excluded.amount_cents, version = excluded.version
    WHERE orders.version < excluded.version`)
  const remove = db.prepare('DELETE FROM orders WHERE id = ?')

  const applyOnce = db.transaction((key: string, fence: number, orderId: string, order: Order | null): Outcome => {
    // A late write: this attempt ran on past its timeout or lease, and a newer one has written since.
    if (fenced.run({ key, fence }).changes === 0) return 'late'
    // The key is there: this effect already happened (a crash came before the worker's commit).
    if (remember.run(key, Date.now()).changes === 0) return 'duplicate'
    if (order === null) {
      remove.run(orderId)
      return 'deleted'
    }
    const { id, status, amount_cents: amountCents, version } = order
    return upsert.run({ id, status, amount_cents: amountCents, version }).changes === 1 ? 'applied' : 'not-newer'
  })
  // processed_events and event_fences only need to outlive the worker's dedupe TTL (14 days by
  // default): prune older rows from a daily job, e.g. DELETE FROM processed_events WHERE processed_at < ?
  // An apply that does slow work before this transaction can take its fence in a first one, when it
  // starts, so a late write is refused even when it comes before the newer attempt's.
  return { applyOnce, db }
}

export interface TransactionalExampleOptions {
  connection?: string
  queueName?: string
  apiUrl?: string
  dbFile?: string
}

export function start (options: TransactionalExampleOptions = {}): { worker: WebhookWorkerHandle, close: () => Promise<void> } {
  const api = options.apiUrl ?? process.env.PROVIDER_API ?? 'http://127.0.0.1:4000'
  const store = openStore(options.dbFile ?? process.env.DB_FILE ?? 'orders.db')

  const handle = createWebhookWorker<Order, OrderEvent>({
    connection: options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queueName: options.queueName ?? 'integration-events',
    logger: pino({ level: process.env.LOG_LEVEL ?? 'info' }),
    // Per order: one hydrate call shared by the events that arrived before it,
    // no two applies at once, and a state older than the last one committed is skipped.
    objectKey: (event) => event.payload.order_id,
    version: (order) => order.version,
    hydrate: async function fetchOrder (event, ctx) {
      const res = await fetch(`${api}/orders/${encodeURIComponent(event.payload.order_id)}`, { signal: ctx.signal })
      if (res.status === 404) return null // gone: apply deletes our copy
      // Retrying cannot fix our credentials: dead-letter at once.
      if (res.status === 401 || res.status === 403) throw new PermanentError(`The provider's API refused us (${res.status})`)
      if (!res.ok) {
        // `status` and `headers` let the worker honour a 429's Retry-After.
        throw Object.assign(new Error(`The provider's API answered ${res.status}`), { status: res.status, headers: Object.fromEntries(res.headers) })
      }
      return await res.json() as Order
    },
    apply: function applyOrder (order, event, ctx) {
      // The worker checked the state against ctx.lastAppliedVersion already; the
      // `WHERE version < $new` in the transaction makes that guard exact, even
      // after a crash between this commit and the worker's. The worker runs one
      // apply of an event at a time; ctx.fence covers an apply that did not stop
      // when its ctx.signal aborted and outlived applyGraceMs or its lease.
      const outcome = store.applyOnce(ctx.idempotencyKey, ctx.fence, event.payload.order_id, order)
      ctx.log.info({ orderId: event.payload.order_id, version: order?.version, lastAppliedVersion: ctx.lastAppliedVersion, fence: ctx.fence, outcome }, 'order')
    }
  })
  return {
    worker: handle,
    async close () {
      await handle.close({ timeoutMs: 30_000 })
      store.db.close()
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = start()
  async function shutdown (): Promise<void> {
    await running.close()
    process.exit(0)
  }
  process.once('SIGINT', () => { shutdown().catch(() => process.exit(1)) })
  process.once('SIGTERM', () => { shutdown().catch(() => process.exit(1)) })
}
