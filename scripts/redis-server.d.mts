export interface StartRedisOptions {
  /** AOF on (default true). */
  appendonly?: boolean
  /** e.g. '2mb'. */
  maxmemory?: string
  /** Default 'noeviction'. */
  maxmemoryPolicy?: string
  /** Extra redis-server arguments. */
  args?: string[]
  /** A fixed port (default: a free one). */
  port?: number
  /** The data directory (default: a new temporary one, removed on stop). */
  dir?: string
}

export interface RedisServer {
  readonly port: number
  readonly host: string
  readonly dir: string
  readonly url: string
  readonly pid: number | undefined
  signal: (sig: NodeJS.Signals) => void
  kill: () => Promise<void>
  /** Starts the server (again, after kill) on its port and directory. */
  start: () => Promise<RedisServer>
  restart: () => Promise<RedisServer>
  stop: () => Promise<void>
}

export function hasRedisServer (): boolean
export function redisInstallHint (): string
export function freePort (): Promise<number>
export function startRedisServer (opts?: StartRedisOptions): Promise<RedisServer>
