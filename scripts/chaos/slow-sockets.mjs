// @ts-check
// Hostile clients: raw sockets that never finish a request. Half dribble
// their headers a byte at a time; half send complete headers and part of a
// body, then stall. The pool is kept full (a closed socket is replaced) until
// stop(), and each socket's life is measured: the server must close it within
// its requestTimeout (plus the interval at which Node looks for slow requests).
import { connect } from 'node:net'

/**
 * @param {object} o
 * @param {() => {host: string, port: number}} o.target
 * @param {string} o.path
 * @param {number} o.sockets how many at once
 * @param {number} o.dribbleMs the delay between two header bytes
 */
export function startSlowSockets (o) {
  /** @type {Array<{ kind: string, ms: number }>} */
  const lives = []
  /** @type {Set<import('node:net').Socket>} */
  const open = new Set()
  /** @type {Record<string, number>} */
  const statuses = {}
  let stopping = false
  let opened = 0
  let errors = 0

  /** @param {'headers' | 'body'} kind */
  function one (kind) {
    const { host, port } = o.target()
    const started = Date.now()
    const socket = connect(port, host)
    /** @type {NodeJS.Timeout | undefined} */
    let timer
    let first = ''
    open.add(socket)
    opened++
    socket.setNoDelay(true)
    socket.on('connect', function onConnect () {
      if (kind === 'headers') {
        socket.write(`POST ${o.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n`)
        timer = setInterval(() => socket.write('x'), o.dribbleMs)
      } else {
        socket.write(`POST ${o.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"event_id":"`)
      }
    })
    socket.on('data', (d) => { if (first.length < 64) first += d.toString('latin1') })
    socket.on('error', () => { errors++ })
    socket.on('close', function onClose () {
      clearInterval(timer)
      open.delete(socket)
      const status = /^HTTP\/1\.1 (\d{3})/.exec(first)?.[1] ?? 'none'
      if (!stopping) {
        lives.push({ kind, ms: Date.now() - started })
        statuses[status] = (statuses[status] ?? 0) + 1
        one(kind)
      }
    })
  }

  for (let i = 0; i < o.sockets; i++) one(i % 2 === 0 ? 'headers' : 'body')

  return {
    /** Closes what is still open and returns the lives of the sockets the server closed. */
    stop () {
      stopping = true
      for (const s of open) s.destroy()
      const ms = lives.map((l) => l.ms).sort((a, b) => a - b)
      return {
        slowSockets: o.sockets,
        slowOpened: opened,
        slowClosedByServer: lives.length,
        slowLifeMaxMs: ms.at(-1) ?? 0,
        slowLifeMedianMs: ms[Math.floor(ms.length / 2)] ?? 0,
        slowLives: lives,
        slowStatuses: statuses,
        slowErrors: errors
      }
    }
  }
}
