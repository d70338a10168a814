// @ts-check
// The package's log lines at warn and above, kept (not printed) so a failed run
// can show what went wrong without flooding a good one.

/** A pino destination that keeps the last `max` lines. */
export function createWarningLog (max = 20) {
  /** @type {string[]} */
  const lines = []
  return {
    lines,
    stream: {
      /** @param {string} line */
      write (line) {
        lines.push(line.trim())
        if (lines.length > max) lines.shift()
      }
    }
  }
}
