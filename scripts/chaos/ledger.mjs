// @ts-check
// The effect ledger: where the chaos workers' apply writes its effects, and
// where the harness counts them afterwards.
//
// It is a SQLite file in WAL mode, not Redis, on purpose: the harness kills and
// wipes Redis, and a ledger inside Redis would be rolled back or emptied with the
// very data it is meant to audit (a no-AOF Redis would lose the effects together
// with the jobs, and "0 lost" would prove nothing). SQLite survives a SIGKILL of
// any writer: a transaction is either in the WAL or not at all.
//
// Two tables do the counting:
// - `calls`: one row per apply call, written in its own transaction BEFORE the
//   effect transaction, so a call cut short by a kill is still counted (its
//   `finished_at` stays NULL);
// - `effects`: the effect itself, with no unique constraint, so a doubled
//   effect would show as two rows. The transactional apply documented by the
//   package inserts it only when `applied` (UNIQUE on the idempotency key) takes
//   the key in the same transaction.
import Database from 'better-sqlite3'

/** @typedef {{ n: number }} CountRow */
/** @typedef {{ o: string, n: number }} OutcomeRow */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  key TEXT,
  pid INTEGER NOT NULL,
  role TEXT NOT NULL,
  attempt INTEGER,
  token TEXT,
  origin TEXT,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  outcome TEXT,
  completed_at INTEGER
);
CREATE TABLE IF NOT EXISTS applied (
  key TEXT PRIMARY KEY,
  event_id TEXT NOT NULL,
  call_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (
  id INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  key TEXT NOT NULL,
  pid INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_event ON effects (event_id);
CREATE INDEX IF NOT EXISTS calls_pid ON calls (pid);
CREATE INDEX IF NOT EXISTS calls_event ON calls (event_id);
`

/**
 * Opens (and creates) the ledger file. Every process opens its own handle.
 * @param {string} file
 */
export function openLedger (file, { readonly = false } = {}) {
  const db = new Database(file, { readonly, timeout: 30000 })
  if (!readonly) {
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode loses nothing on a process kill (only on power loss),
    // and the harness kills processes, not machines.
    db.pragma('synchronous = NORMAL')
    db.exec(SCHEMA)
  }
  return db
}

/**
 * The writer side, used inside a worker process.
 * @param {string} file
 * @param {{ role: string }} opts
 */
export function ledgerWriter (file, { role }) {
  const db = openLedger(file)
  const insertCall = db.prepare('INSERT INTO calls (event_id, key, pid, role, attempt, token, origin, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const finishCall = db.prepare('UPDATE calls SET finished_at = ?, outcome = ? WHERE id = ?')
  const claimKey = db.prepare('INSERT OR IGNORE INTO applied (key, event_id, call_id) VALUES (?, ?, ?)')
  const insertEffect = db.prepare('INSERT INTO effects (event_id, key, pid, at) VALUES (?, ?, ?, ?)')
  const completeCalls = db.prepare('UPDATE calls SET completed_at = ? WHERE event_id = ? AND pid = ? AND completed_at IS NULL AND finished_at IS NOT NULL')

  const applyOnce = db.transaction(function applyOnce (/** @type {number} */ callId, /** @type {string} */ eventId, /** @type {string} */ key) {
    const taken = claimKey.run(key, eventId, callId).changes === 1
    if (taken) insertEffect.run(eventId, key, process.pid, Date.now())
    finishCall.run(Date.now(), taken ? 'effect' : 'already-applied', callId)
    return taken
  })

  return {
    /**
     * Records that apply was called; returns the call id. `token` is BullMQ's
     * lock token of the run (so a run that resumes after a freeze can be told
     * from a fresh one), `origin` the event's.
     * @param {string} eventId
     * @param {string | undefined} key
     * @param {number | undefined} attempt
     * @param {string | undefined} token
     * @param {string | undefined} origin
     */
    startCall (eventId, key, attempt, token, origin) {
      return Number(insertCall.run(eventId, key ?? null, process.pid, role, attempt ?? null, token ?? null, origin ?? null, Date.now()).lastInsertRowid)
    },
    /**
     * Marks a call that ended without reaching the effect transaction.
     * @param {number} callId
     * @param {string} outcome
     */
    failCall (callId, outcome) {
      finishCall.run(Date.now(), outcome, callId)
    },
    /** The transactional apply: the effect and the idempotency key in one transaction. */
    applyOnce,
    /** Records that BullMQ completed the job (after the worker's own commit): the end of the window a kill can re-open. */
    /** @param {string} eventId */
    markCompleted (eventId) {
      completeCalls.run(Date.now(), eventId, process.pid)
    },
    close () { db.close() }
  }
}

/**
 * What the harness reads after a run: per-event effect counts, apply calls,
 * and the calls each killed worker left unfinished. With `runId`, only the
 * events of that sender run (ids `${runId}-n`) are read, so a scenario can
 * send several runs through one ledger.
 * @param {string} file
 * @param {{ runId?: string }} [opts]
 */
export function readLedger (file, { runId } = {}) {
  const db = openLedger(file, { readonly: true })
  try {
    const where = runId === undefined ? '1 = 1' : 'substr(event_id, 1, @len) = @prefix'
    const p = runId === undefined ? {} : { len: runId.length + 1, prefix: runId + '-' }
    /** @type {Map<string, number>} */
    const effectCounts = new Map()
    for (const row of /** @type {Iterable<{ id: string, n: number }>} */ (db.prepare(`SELECT event_id AS id, COUNT(*) AS n FROM effects WHERE ${where} GROUP BY event_id`).iterate(p))) {
      effectCounts.set(row.id, row.n)
    }
    const calls = /** @type {CountRow} */ (db.prepare(`SELECT COUNT(*) AS n FROM calls WHERE ${where}`).get(p)).n
    const outcomes = Object.fromEntries(/** @type {OutcomeRow[]} */ (db.prepare(`SELECT COALESCE(outcome, 'unfinished') AS o, COUNT(*) AS n FROM calls WHERE ${where} GROUP BY o`).all(p)).map((r) => [r.o, r.n]))
    const effectsByOrigin = Object.fromEntries(/** @type {OutcomeRow[]} */ (db.prepare(`SELECT COALESCE(origin, 'unknown') AS o, COUNT(*) AS n FROM calls WHERE ${where} AND outcome = 'effect' GROUP BY o`).all(p)).map((r) => [r.o, r.n]))
    const keysPerEvent = /** @type {CountRow} */ (db.prepare(`SELECT COUNT(*) AS n FROM (SELECT event_id FROM calls WHERE ${where} AND key IS NOT NULL GROUP BY event_id HAVING COUNT(DISTINCT key) > 1)`).get(p)).n
    return { effectCounts, calls, outcomes, effectsByOrigin, eventsWithSeveralKeys: keysPerEvent }
  } finally {
    db.close()
  }
}

/**
 * Apply calls of process `pid` started at or after `fromMs` by one of the
 * given runs (`{ eventId, token }`): a run the worker held when it was frozen
 * and that should never start apply once it resumes (fencing).
 * @param {string} file
 * @param {number} pid
 * @param {number} fromMs
 * @param {Array<{ eventId: string, token: string }>} runs
 */
export function callsStartedAfter (file, pid, fromMs, runs) {
  if (runs.length === 0) return 0
  const db = openLedger(file, { readonly: true })
  try {
    const stmt = db.prepare('SELECT COUNT(*) AS n FROM calls WHERE pid = ? AND started_at >= ? AND event_id = ? AND token = ?')
    return runs.reduce((sum, r) => sum + /** @type {CountRow} */ (stmt.get(pid, fromMs, r.eventId, r.token)).n, 0)
  } finally {
    db.close()
  }
}

/**
 * Apply calls a fault can have re-opened: started before the fault ended and
 * not yet completed by BullMQ when it began (the effect may be committed, but
 * the worker's done marker and the job's completion may not be). A worker kill
 * re-opens only the calls of the killed process; a Redis kill or outage, any
 * call, since every lock can expire while Redis is away.
 * @param {string} file
 * @param {number} fromMs
 * @param {number} toMs
 * @param {number} [pid] only this process's calls
 */
export function callsOpenDuring (file, fromMs, toMs, pid) {
  const db = openLedger(file, { readonly: true })
  try {
    const sql = 'SELECT COUNT(*) AS n FROM calls WHERE started_at <= ? AND (completed_at IS NULL OR completed_at > ?)' +
      " AND COALESCE(outcome, '') <> 'injected-failure'" + (pid === undefined ? '' : ' AND pid = ?')
    const params = pid === undefined ? [toMs, fromMs] : [toMs, fromMs, pid]
    return /** @type {CountRow} */ (db.prepare(sql).get(...params)).n
  } finally {
    db.close()
  }
}

/**
 * Effects recorded so far (the drain check polls it).
 * @param {import('better-sqlite3').Database} db
 * @returns {number}
 */
export function countEffects (db) {
  return /** @type {CountRow} */ (db.prepare('SELECT COUNT(*) AS n FROM effects').get()).n
}
