// @ts-check
// The app's own database: the orders table the webhooks keep up to date, and
// the processed-keys table that makes every apply's effect exactly-once.
import Database from 'better-sqlite3'

const FIELDS = /** @type {const} */ (['id', 'status', 'amount_cents', 'currency', 'customer', 'note', 'version', 'updated_at'])

/**
 * An order as the provider's API shows it and the orders table stores it.
 * @typedef {object} Order
 * @property {string} id
 * @property {string} status
 * @property {number} amount_cents
 * @property {string} currency
 * @property {string} customer
 * @property {string} note
 * @property {number} version
 * @property {string} updated_at
 */

/** @typedef {ReturnType<typeof openOrdersDb>} OrdersDb */

/**
 * Opens (and creates) the demo database.
 * @param {string} file a path, or ':memory:'
 */
export function openOrdersDb (file) {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`
    CREATE TABLE IF NOT EXISTS orders (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      amount_cents INTEGER NOT NULL,
      currency TEXT NOT NULL,
      customer TEXT NOT NULL,
      note TEXT NOT NULL,
      version INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS processed_keys (
      key TEXT PRIMARY KEY,
      order_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      -- ctx.lastAppliedVersion: what the worker had committed for the order before this apply
      last_applied_version INTEGER,
      outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'stale', 'current')),
      processed_at INTEGER NOT NULL
    );
  `)

  const insertKey = db.prepare(`
    INSERT INTO processed_keys (key, order_id, version, last_applied_version, outcome, processed_at)
    VALUES (@key, @order_id, @version, @last_applied_version, 'applied', @now)
    ON CONFLICT (key) DO NOTHING`)
  const markSkipped = db.prepare('UPDATE processed_keys SET outcome = ? WHERE key = ?')
  const versionOf = /** @type {Database.Statement<[string], number>} */ (db.prepare('SELECT version FROM orders WHERE id = ?').pluck())
  // The version guard: an older (or the same) state never overwrites a newer one,
  // whatever order the events arrive in.
  const upsert = db.prepare(`
    INSERT INTO orders (${FIELDS.join(', ')}) VALUES (${FIELDS.map((f) => `@${f}`).join(', ')})
    ON CONFLICT (id) DO UPDATE SET ${FIELDS.slice(1).map((f) => `${f} = excluded.${f}`).join(', ')}
    WHERE orders.version < excluded.version`)

  /**
   * One transaction: record the idempotency key, then write the state if it is
   * newer. A key seen before means this effect already happened: do nothing.
   * The worker skipped states not newer than `lastAppliedVersion` already; the
   * guard on the stored version also covers a crash after this commit and
   * before the worker's, when the database is ahead of `lastAppliedVersion`.
   * @returns {'applied' | 'stale' | 'current' | 'duplicate'} `stale`: older than
   *   the stored version; `current`: the stored version already
   */
  const applyOrder = db.transaction((/** @type {Order} */ order, /** @type {string} */ key, /** @type {number | undefined} */ lastAppliedVersion) => {
    const row = { key, order_id: order.id, version: order.version, last_applied_version: lastAppliedVersion ?? null, now: Date.now() }
    if (insertKey.run(row).changes === 0) return 'duplicate'
    if (upsert.run(pick(order)).changes === 1) return 'applied'
    const outcome = /** @type {number} */ (versionOf.get(order.id)) > order.version ? 'stale' : 'current'
    markSkipped.run(outcome, key)
    return outcome
  })

  const seedAll = db.transaction((/** @type {Order[]} */ orders) => {
    for (const order of orders) upsert.run(pick(order))
  })

  return {
    applyOrder,
    /**
     * Writes the initial import (what the app had before the demo starts).
     * @param {Order[]} orders
     */
    seed (orders) {
      seedAll(orders)
    },
    /**
     * Every order, by id.
     * @returns {Order[]}
     */
    orders () {
      return /** @type {Database.Statement<[], Order>} */ (db.prepare(`SELECT ${FIELDS.join(', ')} FROM orders ORDER BY id`)).all()
    },
    /** Counts of processed keys by outcome. */
    outcomes () {
      const out = { applied: 0, stale: 0, current: 0 }
      const rows = /** @type {Database.Statement<[], { outcome: keyof typeof out, n: number }>} */ (db.prepare('SELECT outcome, count(*) AS n FROM processed_keys GROUP BY outcome')).all()
      for (const row of rows) out[row.outcome] = row.n
      return out
    },
    close () {
      db.close()
    }
  }
}

/** @param {Order} order */
function pick (order) {
  /** @type {Record<string, unknown>} */
  const row = {}
  for (const f of FIELDS) row[f] = order[f]
  return row
}

/** The fields the final check compares. */
export const ORDER_FIELDS = FIELDS
