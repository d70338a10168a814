// autocannon ships no types: the part of its API bench/load.mjs uses.
declare module 'autocannon' {
  export interface Request {
    method?: string
    path?: string
    body?: string
    headers?: Record<string, string>
    /** Called before each request is sent; returns the request to send. */
    setupRequest?: (req: Request) => Request
  }

  export interface Options {
    url: string
    connections?: number
    pipelining?: number
    /** Seconds. */
    duration?: number
    /** Seconds before a request counts as timed out. */
    timeout?: number
    requests?: Request[]
  }

  export interface Histogram {
    p50: number
    p99: number
  }

  export interface Result {
    requests: { total: number }
    latency: Histogram
    /** Seconds the run took. */
    duration: number
    '2xx': number
    non2xx: number
    errors: number
    timeouts: number
    statusCodeStats: Record<string, { count: number }>
  }

  function autocannon (options: Options): Promise<Result>
  export default autocannon
}
