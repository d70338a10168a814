/**
 * How the GitHub helpers talk to the REST API: the one client method they use
 * (Octokit's generic `request`), GitHub's failure signals mapped onto the
 * worker's and the poller's error contract, and the options both helpers take.
 */
import { WebhookErrors } from '../core/errors.js'
import { optionValidator, type OptionValidator } from '../core/option-validator.js'
import { SOURCE_PATTERN } from '../core/event.js'
import { checkInteger, checkString, expected, unknownKeys } from '../core/validate.js'
import { mapApiFailure, optionalSdk, retryAfterMs, type ApiFailure, type FailurePolicy } from './common.js'

/** A response of {@link GitHubClient.request}, as Octokit resolves it. */
export interface GitHubResponse {
  /** The HTTP status (2xx: Octokit throws for the others). */
  status: number
  /** The URL that answered, after redirects. */
  url?: string
  /** Response headers, lower-case names. */
  headers: Record<string, string | number | undefined>
  /** The parsed JSON body. */
  data: unknown
}

/**
 * What the helpers need of a GitHub client: Octokit's generic
 * `request(route, parameters)`. An `Octokit` of `@octokit/rest`, of `octokit`
 * or of `@octokit/core` fits; so does any wrapper that throws Octokit's
 * `RequestError` shape (`status`, `response.headers`) on a non-2xx answer.
 */
export interface GitHubClient {
  request (route: string, parameters?: Record<string, unknown>): Promise<GitHubResponse>
}

/** The options `githubPull` and `githubPoll` share: how to reach GitHub. */
export interface GitHubConnectionOptions {
  /** Your Octokit instance (or any {@link GitHubClient}). Either `client` or `auth`. */
  client?: GitHubClient
  /** A token: an `Octokit` of `@octokit/rest` is created from it on first use. Either `client` or `auth`. */
  auth?: string
  /**
   * The API root, with `auth` only (GitHub Enterprise Server: `https://HOST/api/v3`).
   * @defaultValue `'https://api.github.com'`
   */
  baseUrl?: string
  /**
   * The source of the GitHub webhook route (the plugin's `source`).
   * @defaultValue `'github'`
   */
  source?: string
}

/** GitHub's rate-limit signals, read from a failed call. */
export const GITHUB_POLICY: FailurePolicy = {
  provider: 'GitHub',
  defaultPauseMs: 60_000,
  rateLimitMs: githubRateLimitMs
}

/** The pause for a secondary rate limit that names none. */
const SECONDARY_PAUSE_MS = 60_000

/**
 * GitHub's rate limits (403 or 429): the primary limit spent
 * (`x-ratelimit-remaining: 0`) pauses until `x-ratelimit-reset`; a
 * `retry-after` is obeyed; a secondary limit named only in the message pauses
 * 60 s. Any other 403 is a permission problem: `undefined`.
 */
export function githubRateLimitMs (failure: ApiFailure, now: number): number | undefined {
  if (failure.status !== 403 && failure.status !== 429) return undefined
  const retryAfter = retryAfterMs(failure.header('retry-after'), now)
  if (retryAfter !== undefined) return Math.max(1000, retryAfter)
  if (failure.header('x-ratelimit-remaining') === '0') {
    const reset = Number(failure.header('x-ratelimit-reset'))
    return Number.isFinite(reset) ? Math.max(1000, reset * 1000 - now) : SECONDARY_PAUSE_MS
  }
  if (/secondary rate limit|abuse detection/i.test(messageOf(failure.cause))) return SECONDARY_PAUSE_MS
  return undefined
}

function messageOf (err: unknown): string {
  const data = (err as { response?: { data?: { message?: unknown } } } | undefined)?.response?.data
  const fromBody = typeof data?.message === 'string' ? data.message : ''
  return `${err instanceof Error ? err.message : ''} ${fromBody}`
}

/** An Octokit `RequestError` (or any thrown value) as an {@link ApiFailure}. */
export function failureOf (err: unknown): ApiFailure {
  const e = err as { status?: unknown, response?: { headers?: Record<string, unknown> } } | undefined
  const headers = e?.response?.headers ?? {}
  // Octokit reports "no answer" (DNS, reset, timeout) as status 500 without a response.
  const status = e?.response === undefined || typeof e.status !== 'number' ? undefined : e.status
  return {
    status,
    header: (name) => {
      const value = headers[name.toLowerCase()]
      return value === undefined || value === null ? undefined : String(value)
    },
    cause: err
  }
}

/** What a call can end in besides a response. */
export type CallOutcome = GitHubResponse | 'gone' | 'not-modified'

/**
 * One API call. 404 and 410 resolve to `'gone'`, 304 to `'not-modified'`;
 * other failures throw the mapped error (a `RateLimitedError`, a permanent
 * `WEBHOOK_PULL_UNAUTHORIZED`/`WEBHOOK_PULL_REJECTED`, or a retryable
 * `WEBHOOK_PULL_UNAVAILABLE`). An abort by `signal` throws the abort reason.
 */
export async function callGitHub (
  client: GitHubClient, route: string, parameters: Record<string, unknown>, signal: AbortSignal | undefined
): Promise<CallOutcome> {
  try {
    return await client.request(route, { ...parameters, request: { signal } })
  } catch (err) {
    signal?.throwIfAborted()
    const failure = failureOf(err)
    if (failure.status === 304) return 'not-modified'
    const mapped = mapApiFailure(GITHUB_POLICY, route, failure)
    if (mapped === 'gone') return 'gone'
    throw mapped
  }
}

/** A header of a response as a string. */
export function headerOf (response: GitHubResponse, name: string): string | undefined {
  const value = response.headers[name]
  return value === undefined ? undefined : String(value)
}

/** Throws `WEBHOOK_INVALID_OPTION`; shared by both helpers. */
export const invalid: OptionValidator = optionValidator(WebhookErrors.WEBHOOK_INVALID_OPTION)

const CONNECTION_KEYS = ['client', 'auth', 'baseUrl', 'source'] as const

interface OctokitModule { Octokit: new (options: { auth: string, baseUrl?: string }) => GitHubClient }

/**
 * Checks the options object, its keys and the connection options, and returns
 * the source and a client getter (the user's client, or an Octokit made on
 * first use from `auth`).
 */
export function resolveConnection (
  fn: string, options: unknown, ownKeys: readonly string[]
): { source: string, client: () => Promise<GitHubClient> } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) invalid.fail(`${fn}: ${expected('options', 'an object', options)}`)
  const known = [...CONNECTION_KEYS, ...ownKeys]
  const unknown = unknownKeys(options, known)
  if (unknown.length > 0) invalid.fail(`${fn}: unknown option \`${unknown[0]}\`; known options are ${known.join(', ')}`)
  const o = options as GitHubConnectionOptions
  const source = o.source ?? 'github'
  invalid.failIf(prefixed(fn, checkString('source', source, SOURCE_PATTERN)))
  if (o.baseUrl !== undefined) invalid.failIf(prefixed(fn, checkString('baseUrl', o.baseUrl)))
  if (o.client !== undefined) {
    if (o.auth !== undefined || o.baseUrl !== undefined) invalid.fail(`${fn}: give either \`client\` or \`auth\` (with \`baseUrl\`), not both`)
    if (typeof (o.client as { request?: unknown } | null)?.request !== 'function') {
      invalid.fail(`${fn}: ${expected('client', 'an Octokit instance (an object with a request() method)', o.client)}`)
    }
    const client = o.client
    return { source, client: async () => client }
  }
  if (o.auth === undefined) invalid.fail(`${fn}: give \`client\` (your Octokit) or \`auth\` (a token)`)
  invalid.failIf(prefixed(fn, checkString('auth', o.auth)))
  const load = optionalSdk<OctokitModule>('@octokit/rest', fn)
  const { auth, baseUrl } = o
  let made: GitHubClient | undefined
  return {
    source,
    client: async () => (made ??= new (await load()).Octokit(baseUrl === undefined ? { auth } : { auth, baseUrl }))
  }
}

/** A check's message with the helper's name in front. */
export function prefixed (fn: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${fn}: ${problem}`
}

/** An optional integer option in [min, max], or its default. */
export function integerOption (fn: string, name: string, value: unknown, fallback: number, min: number, max?: number): number {
  if (value === undefined) return fallback
  invalid.failIf(prefixed(fn, checkInteger(name, value, min, max)))
  return value as number
}
