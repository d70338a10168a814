// @ts-check
// The live progress line: rewritten in place on a terminal, a plain line every
// few seconds otherwise (CI logs, pipes). Always on stderr, so --json output on
// stdout stays clean.

/**
 * @param {() => string} render the current line
 * @param {{ stream?: NodeJS.WriteStream, intervalMs?: number, plainEveryMs?: number }} [opts]
 */
export function startProgress (render, { stream = process.stderr, intervalMs = 250, plainEveryMs = 5000 } = {}) {
  const tty = stream.isTTY === true
  let last = 0
  let width = 0
  const timer = setInterval(tick, intervalMs)
  timer.unref()

  function tick () {
    const line = render()
    if (tty) {
      const shown = line.slice(0, (stream.columns ?? 120) - 1)
      stream.write(`\r${shown.padEnd(width)}`)
      width = shown.length
    } else if (Date.now() - last >= plainEveryMs) {
      last = Date.now()
      stream.write(`${line}\n`)
    }
  }

  return {
    /**
     * Prints a line above the progress line.
     * @param {string} text
     */
    log (text) {
      if (tty && width > 0) stream.write(`\r${' '.repeat(width)}\r`)
      stream.write(`${text}\n`)
      width = 0
    },
    stop () {
      clearInterval(timer)
      if (tty && width > 0) stream.write(`\r${' '.repeat(width)}\r`)
      width = 0
    }
  }
}
