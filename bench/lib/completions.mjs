// @ts-check
// Counts completed jobs inside a worker process and turns their times into a
// steady-state rate: the jobs between the 10th and 90th percentile of
// completions divided by the time between them, so neither connection setup
// nor the last stragglers weigh on the number. CPU is read at the same marks.

/** @typedef {ReturnType<ReturnType<typeof completions>['summary']>} Summary what a worker process answers to `result` */

/**
 * A tracker that resolves `done` once `expected` jobs completed.
 * @param {number} expected
 */
export function completions (expected) {
  const lo = Math.floor(expected * 0.1)
  const hi = Math.max(lo, Math.ceil(expected * 0.9) - 1)
  const times = new Float64Array(expected)
  /** @type {{ lo?: NodeJS.CpuUsage, hi?: NodeJS.CpuUsage }} */
  const cpu = {}
  const startedAt = performance.now()
  let count = 0
  /** @type {() => void} */
  let finish
  /** @type {Promise<void>} */
  const done = new Promise((resolve) => { finish = resolve })

  function record () {
    if (count === lo) cpu.lo = process.cpuUsage()
    if (count === hi) cpu.hi = process.cpuUsage()
    if (count < expected) times[count] = performance.now()
    count++
    if (count === expected) finish()
  }

  function summary () {
    const complete = count >= expected
    const span = (times[hi] - times[lo]) / 1000
    // Both marks are taken once `expected` jobs completed.
    const { lo: atLo, hi: atHi } = /** @type {Required<typeof cpu>} */ (cpu)
    const cpuSeconds = complete ? (atHi.user + atHi.system - atLo.user - atLo.system) / 1e6 : NaN
    return {
      completed: count,
      expected,
      seconds: complete ? (times[expected - 1] - startedAt) / 1000 : NaN,
      jobsPerSecond: complete && span > 0 ? (hi - lo) / span : NaN,
      cpuUsPerJob: complete && hi > lo ? (cpuSeconds / (hi - lo)) * 1e6 : NaN
    }
  }

  return { record, done, summary, get count () { return count } }
}

/**
 * Waits for `promise` at most `ms`; resolves false on timeout.
 * @param {Promise<unknown>} promise
 * @param {number} ms
 * @returns {Promise<boolean>}
 */
export async function within (promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer
  const outcome = await Promise.race([promise.then(() => true), new Promise((resolve) => { timer = setTimeout(resolve, ms, false) })])
  clearTimeout(timer)
  return outcome
}
