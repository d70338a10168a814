// @ts-check
// Medians, percentiles and ratios: absolute numbers drift on a shared machine,
// so every comparison is a ratio of medians measured in the same run.

/**
 * The median of numbers (the mean of the two middle ones for an even count).
 * @param {Array<number | null | undefined>} values anything but a finite number is skipped
 */
export function median (values) {
  const v = /** @type {number[]} */ (values.filter(Number.isFinite)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = v.length >> 1
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/**
 * The p-th percentile (0..100) of numbers, nearest rank.
 * @param {number[]} values
 * @param {number} p
 */
export function percentile (values, p) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]
}

/**
 * a / b, or NaN when b is not a positive number.
 * @param {number} a
 * @param {number} b
 */
export function ratio (a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN
}

/**
 * A number for a table cell: fixed digits, thousands separated, '-' for NaN.
 * @param {number} n
 */
export function fmt (n, digits = 0) {
  if (!Number.isFinite(n)) return '-'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/**
 * A ratio for a table cell, e.g. `0.83×`.
 * @param {number} n
 */
export function times (n) {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : '-'
}

/**
 * A markdown table from a header row and body rows.
 * @param {string[]} header
 * @param {Array<Array<string | number>>} rows
 */
export function table (header, rows) {
  const line = (/** @type {Array<string | number>} */ cells) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

/**
 * Bytes as MB with one decimal.
 * @param {number} bytes
 */
export function mb (bytes) {
  return Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)} MB` : '-'
}
