// @ts-check
// The final check and the report: does every order in the database equal the
// provider's current state, and what did it take to get there.
import { ORDER_FIELDS } from './db.mjs'

/** @typedef {import('./db.mjs').Order} Order */
/** @typedef {ReturnType<typeof compareOrders>} CheckResult */
/**
 * What the summary's text is made of.
 * @typedef {object} SummaryFigures
 * @property {import('./counts.mjs').Counts} counts
 * @property {import('./hostile.mjs').HostileReport} [hostile]
 * @property {Pick<CheckResult, 'ok' | 'orders' | 'matching' | 'mismatches'>} check
 */

/**
 * Compares the provider's orders with the database's, field by field.
 * @param {Order[]} providerOrders
 * @param {Order[]} databaseOrders
 * @returns {{ ok: boolean, orders: number, matching: number, mismatches: Array<{ id: string, field: string, provider: unknown, database: unknown }> }}
 */
export function compareOrders (providerOrders, databaseOrders) {
  const inDb = new Map(databaseOrders.map((o) => [o.id, o]))
  /** @type {Array<{ id: string, field: string, provider: unknown, database: unknown }>} */
  const mismatches = []
  let matching = 0
  for (const want of providerOrders) {
    const got = inDb.get(want.id)
    inDb.delete(want.id)
    const field = got === undefined ? 'missing' : ORDER_FIELDS.find((f) => want[f] !== got[f])
    if (field === undefined) {
      matching += 1
      continue
    }
    mismatches.push({ id: want.id, field, provider: field === 'missing' ? 'present' : want[field], database: field === 'missing' ? 'absent' : got?.[field] })
  }
  for (const extra of inDb.keys()) mismatches.push({ id: extra, field: 'unexpected', provider: 'absent', database: 'present' })
  return { ok: mismatches.length === 0, orders: providerOrders.length, matching, mismatches }
}

/**
 * The summary as aligned text rows: [label, value, note].
 * @param {SummaryFigures} summary
 */
export function formatSummary (summary) {
  const c = summary.counts
  /** @type {Array<[string, string | number, string]>} */
  const rows = [
    ['webhook deliveries', c.deliveries, `${c.deliveryAttempts} attempts: ${c.senderRetries} retries (${c.lostAnswers} answers lost on the way back), ${c.senderGaveUp} given up`],
    ['  duplicates sent', c.duplicatesSent, ''],
    ['  reordered', c.reordered, 'sent late, overtaken by newer events'],
    ['  dropped', c.dropped, `never sent; ${c.ordersOnlyPollerCanFix} orders' latest change among them`],
    ['duplicates skipped', c.duplicatesSkipped, dupNote(c)],
    ['stale states skipped', c.staleSkipped, staleNote(c)],
    ['already current', c.alreadyCurrent, `the version already applied: ${c.currentInWorker} by the worker, ${c.currentInDatabase} by the database`],
    ['hydrate calls', c.hydrateCalls, `${c.hydrate429} answered 429, ${c.hydrate500} answered 500`],
    ['provider API', c.apiRequests, `${c.api429} x 429 (${c.api429Burst} in the forced burst), ${c.api500} x 500`],
    ['poller', c.pollEvents, `changes polled in ${c.pollPages} pages over ${c.pollRuns} runs`],
    ['applied', c.applied, `${c.appliedFromWebhook} from webhooks, ${c.appliedFromPoll} from the poller`],
    ['dead letters', c.deadLetters, '']
  ]
  if (summary.hostile !== undefined) rows.push(hostileRow(summary.hostile))
  const check = summary.check
  rows.push(['final check', check.ok ? 'PASS' : 'FAIL', `${check.matching}/${check.orders} orders equal the provider's state`])
  const w0 = Math.max(...rows.map((r) => r[0].length))
  const w1 = Math.max(...rows.map((r) => String(r[1]).length))
  const lines = rows.map(([label, value, note]) => `${label.padEnd(w0)}  ${String(value).padStart(w1)}  ${note}`.trimEnd())
  for (const m of check.mismatches.slice(0, 5)) {
    lines.push(`  ${m.id}: ${m.field} is ${JSON.stringify(m.database)} in the database, ${JSON.stringify(m.provider)} at the provider`)
  }
  if (check.mismatches.length > 5) lines.push(`  ... and ${check.mismatches.length - 5} more`)
  return lines.join('\n')
}

/**
 * @param {import('./hostile.mjs').HostileReport} hostile
 * @returns {[string, number, string]}
 */
function hostileRow (hostile) {
  const wrong = hostile.results.filter((r) => r.status !== r.expected)
  /** @type {Map<number, number>} */
  const byStatus = new Map()
  for (const r of hostile.results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1)
  const statuses = [...byStatus].map(([status, n]) => n > 1 ? `${n} x ${status}` : String(status)).join(', ')
  const note = wrong.length === 0 && hostile.enqueued === 0
    ? `forged, malformed or oversized: each refused (${statuses}), nothing enqueued`
    : `UNEXPECTED: ${[...wrong.map((r) => `${r.name} got ${r.status}, want ${r.expected}`), ...(hostile.enqueued > 0 ? [`${hostile.enqueued} enqueued`] : [])].join('; ')}`
  return ['hostile requests', hostile.results.length, note]
}

/** @param {import('./counts.mjs').Counts} c */
function dupNote (c) {
  return `${c.dupAtIngress} at ingress, ${c.dupInWorker} by the worker, ${c.dupInDatabase} by the database key`
}

/** @param {import('./counts.mjs').Counts} c */
function staleNote (c) {
  return `${c.staleInWorker} by the worker's version guard, ${c.staleInDatabase} by the database's`
}
