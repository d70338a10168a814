// @ts-check
// Counts completed jobs inside a worker process and turns their times into a
// steady-state rate: the jobs between the 10th and 90th percentile of
// completions divided by the time between them, so neither connection setup
// nor the last stragglers weigh on the number. CPU is read at the same marks.

/** A tracker that resolves `done` once `expected` jobs completed. */
export function completions (expected) {
  const lo = Math.floor(expected * 0.1)
  const hi = Math.max(lo, Math.ceil(expected * 0.9) - 1)
  const times = new Float64Array(expected)
  const cpu = {}
  const startedAt = performance.now()
  let count = 0
  let finish
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
    const cpuSeconds = complete ? (cpu.hi.user + cpu.hi.system - cpu.lo.user - cpu.lo.system) / 1e6 : NaN
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

/** Waits for `promise` at most `ms`; resolves false on timeout. */
export async function within (promise, ms) {
  let timer
  const outcome = await Promise.race([promise.then(() => true), new Promise((resolve) => { timer = setTimeout(resolve, ms, false) })])
  clearTimeout(timer)
  return outcome
}
