type Json = Record<string, any>

export interface LoggedRequest { method: string, path: string, query: Record<string, string>, status: number }

export interface Failure {
  status: number
  headers?: Record<string, string>
  message?: string
  /** Only requests whose path matches fail. */
  match?: (path: string) => boolean
}

export interface FakeClock {
  now: () => number
  /** Moves the clock to `ms`; it flows on from there (or stays, if frozen). */
  set: (ms: number) => void
  /** Stops the clock (at `ms`, or now). */
  freeze: (ms?: number) => void
  /** Lets a frozen clock flow again from where it stands. */
  resume: () => void
}

export interface GitHubFake {
  readonly url: string
  readonly port: number
  readonly token: string
  readonly clock: FakeClock
  readonly rateLimit: { limit: number, remaining: number, used: number }
  readonly requests: LoggedRequest[]
  count: (path: RegExp | string) => number
  onRequest: (hook: ((request: LoggedRequest) => void | Promise<void>) | undefined) => void
  createRepo: (fullName: string) => Json
  createIssue: (fullName: string, fields?: Json, options?: { pull?: boolean }) => Json
  createPull: (fullName: string, fields?: Json) => Json
  updateIssue: (fullName: string, number: number, fields: Json, options?: { at?: number }) => Json
  deleteIssue: (fullName: string, number: number) => void
  transferIssue: (fullName: string, number: number, to: string) => Json
  putObject: (path: string, fields?: Json, options?: { stamp?: boolean }) => Json
  removeObject: (path: string) => void
  failNext: (count: number, failure: Failure) => void
  close: () => Promise<void>
}

export function isoSeconds (ms: number): string
export function startGitHubApi (options?: { token?: string }): Promise<GitHubFake>
