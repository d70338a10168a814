// @ts-check
// A fake of the part of GitHub's REST API the GitHub pull helpers use, in
// GitHub's shapes: issues (pull requests among them) with their `since`
// listing (Link pagination, ETag and 304), pull requests, comments and any
// other object by path; 410 for a deleted issue, 301 for a transferred one,
// 404 `{ message: 'Not Found' }` otherwise; 401 for a wrong token;
// `x-ratelimit-*` and `Date` headers from a clock tests control; injected
// failures (429 storms, spent rate limits); and a log of every request.
import { createServer } from 'node:http'
import { createHash } from 'node:crypto'

const DOCS = 'https://docs.github.com/rest'

/**
 * @typedef {Record<string, any>} Json
 * @typedef {{ method: string, path: string, query: Record<string, string>, status: number }} LoggedRequest
 * @typedef {{ status: number, headers?: Record<string, string>, message?: string, match?: (path: string) => boolean }} Failure
 */

/** GitHub's timestamp format: ISO 8601 in whole seconds. */
export function isoSeconds (/** @type {number} */ ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/**
 * Starts the fake on a free port of 127.0.0.1.
 * @param {{ token?: string }} [options]
 */
export async function startGitHubApi ({ token = 'ghp_fake_token' } = {}) {
  // The clock: real time plus an offset, or frozen.
  let offset = 0
  /** @type {number | undefined} */
  let frozen
  const clock = {
    now: () => frozen ?? Date.now() + offset,
    /** Moves the clock to `ms`; it flows on from there (or stays, if frozen). */
    set: (/** @type {number} */ ms) => { if (frozen !== undefined) frozen = ms; else offset = ms - Date.now() },
    /** Stops the clock (at `ms`, or now). */
    freeze: (/** @type {number | undefined} */ ms) => { frozen = ms ?? clock.now() },
    /** Lets a frozen clock flow again from where it stands. */
    resume: () => { if (frozen !== undefined) { offset = frozen - Date.now(); frozen = undefined } }
  }

  /** @type {Map<string, Json>} repositories by lower-case full name */
  const repos = new Map()
  /** @type {Map<string, Map<number, Json>>} issues (and pull requests) by repository and number */
  const issues = new Map()
  /** @type {Map<string, Json>} other objects by lower-case path */
  const objects = new Map()
  /** @type {Map<string, { status: number, message: string, location?: string }>} gone or moved paths */
  const tombstones = new Map()
  /** @type {Failure[]} */
  const failures = []
  /** @type {LoggedRequest[]} */
  const requests = []
  const rateLimit = { limit: 5000, remaining: 5000, used: 0 }
  let nextId = 1000

  const stamp = () => isoSeconds(clock.now())
  const keyOf = (/** @type {string} */ fullName) => fullName.toLowerCase()

  /** @param {string} fullName */
  function createRepo (fullName) {
    const existing = repos.get(keyOf(fullName))
    if (existing !== undefined) return existing
    const [owner, name] = fullName.split('/')
    const repo = { id: nextId++, name, full_name: fullName, owner: { login: owner, id: nextId++, type: 'User' }, private: false, created_at: stamp(), updated_at: stamp(), pushed_at: stamp() }
    repos.set(keyOf(fullName), repo)
    issues.set(keyOf(fullName), new Map())
    return repo
  }

  /** @param {string} fullName */
  function issuesOf (fullName) {
    createRepo(fullName)
    return /** @type {Map<number, Json>} */ (issues.get(keyOf(fullName)))
  }

  /**
   * Opens an issue (or, with `pull: true`, a pull request) stamped now.
   * @param {string} fullName @param {Json} [fields] @param {{ pull?: boolean }} [options]
   */
  function createIssue (fullName, fields = {}, { pull = false } = {}) {
    const list = issuesOf(fullName)
    const number = Math.max(0, ...list.keys(), ...[...tombstones.keys()].filter((p) => p.startsWith(`/repos/${keyOf(fullName)}/issues/`)).map((p) => Number(p.split('/').pop()))) + 1
    const api = `http://api.github.test/repos/${fullName}`
    const issue = {
      id: nextId++,
      node_id: `I_${number}`,
      number,
      title: `Issue ${number}`,
      body: null,
      state: 'open',
      locked: false,
      url: `${api}/issues/${number}`,
      repository_url: api,
      html_url: `https://github.test/${fullName}/issues/${number}`,
      user: { login: 'octocat', id: 1 },
      labels: [],
      comments: 0,
      created_at: stamp(),
      updated_at: stamp(),
      closed_at: null,
      ...(pull ? { pull_request: { url: `${api}/pulls/${number}`, html_url: `https://github.test/${fullName}/pull/${number}`, merged_at: null } } : {}),
      ...fields
    }
    list.set(number, issue)
    return structuredClone(issue)
  }

  /**
   * Updates an issue or pull request; `updated_at` is the clock's second, or `at` (ms).
   * @param {string} fullName @param {number} number @param {Json} fields @param {{ at?: number }} [options]
   */
  function updateIssue (fullName, number, fields, { at } = {}) {
    const issue = issuesOf(fullName).get(number)
    if (issue === undefined) throw new Error(`no issue ${fullName}#${number}`)
    Object.assign(issue, fields, { updated_at: at === undefined ? stamp() : isoSeconds(at) })
    return structuredClone(issue)
  }

  /** Deletes an issue: GitHub then answers 410. @param {string} fullName @param {number} number */
  function deleteIssue (fullName, number) {
    issuesOf(fullName).delete(number)
    tombstones.set(`/repos/${keyOf(fullName)}/issues/${number}`, { status: 410, message: 'This issue was deleted' })
  }

  /** Transfers an issue: its old address answers 301 to the new one. @param {string} fullName @param {number} number @param {string} to */
  function transferIssue (fullName, number, to) {
    const old = issuesOf(fullName).get(number)
    if (old === undefined) throw new Error(`no issue ${fullName}#${number}`)
    issuesOf(fullName).delete(number)
    const moved = createIssue(to, { title: old.title, body: old.body })
    tombstones.set(`/repos/${keyOf(fullName)}/issues/${number}`, { status: 301, message: 'Moved Permanently', location: `/repos/${to}/issues/${moved.number}` })
    return moved
  }

  /**
   * Puts any object at its API path (`/repos/o/r/issues/comments/5`), with an
   * `id` and, unless given, `created_at`/`updated_at` stamped now.
   * @param {string} path @param {Json} [fields] @param {{ stamp?: boolean }} [options]
   */
  function putObject (path, fields = {}, { stamp: stamped = true } = {}) {
    const existing = objects.get(path.toLowerCase())
    const object = { id: existing?.id ?? nextId++, ...(stamped ? { created_at: existing?.created_at ?? stamp(), updated_at: stamp() } : {}), ...existing, ...fields }
    if (stamped && fields.updated_at === undefined) object.updated_at = stamp()
    objects.set(path.toLowerCase(), object)
    tombstones.delete(path.toLowerCase())
    return structuredClone(object)
  }

  /** Removes an object: its path answers 404. @param {string} path */
  function removeObject (path) {
    objects.delete(path.toLowerCase())
  }

  /**
   * The next `count` requests (matching `match`, when given) fail with `status`.
   * @param {number} count @param {Failure} failure
   */
  function failNext (count, failure) {
    for (let i = 0; i < count; i++) failures.push(failure)
  }

  /** @param {string} path @returns {{ status: number, body: Json | undefined, headers?: Record<string, string> }} */
  function lookup (path) {
    const lower = path.toLowerCase()
    const gone = tombstones.get(lower)
    if (gone !== undefined) {
      const headers = gone.location === undefined ? undefined : { location: gone.location }
      return { status: gone.status, body: { message: gone.message, documentation_url: DOCS, ...(gone.location === undefined ? {} : { url: gone.location }) }, headers }
    }
    let m = /^\/repos\/([^/]+)\/([^/]+)$/.exec(lower)
    if (m !== null) return found(repos.get(`${m[1]}/${m[2]}`))
    m = /^\/repos\/([^/]+)\/([^/]+)\/(issues|pulls)\/(\d+)$/.exec(lower)
    if (m !== null) {
      const issue = issues.get(`${m[1]}/${m[2]}`)?.get(Number(m[4]))
      if (issue === undefined) return found(undefined)
      if (m[3] === 'issues') return found(issue)
      if (issue.pull_request === undefined) return found(undefined)
      const { pull_request: _link, repository_url: _repo, ...rest } = issue
      return found({ ...rest, url: issue.pull_request.url, merged: issue.pull_request.merged_at !== null, merged_at: issue.pull_request.merged_at })
    }
    return found(objects.get(lower))
  }

  /** @param {Json | undefined} body */
  function found (body) {
    return body === undefined ? { status: 404, body: { message: 'Not Found', documentation_url: DOCS, status: '404' } } : { status: 200, body }
  }

  /** @param {string} fullName @param {URL} url */
  function listIssues (fullName, url) {
    if (!repos.has(keyOf(fullName))) return found(undefined)
    const q = url.searchParams
    const since = q.get('since')
    const sinceMs = since === null ? -Infinity : Date.parse(since)
    const perPage = Math.min(100, Number(q.get('per_page') ?? 30))
    const page = Math.max(1, Number(q.get('page') ?? 1))
    const state = q.get('state') ?? 'open'
    const all = [...(issues.get(keyOf(fullName))?.values() ?? [])]
      .filter((i) => Date.parse(i.updated_at) >= sinceMs && (state === 'all' || i.state === state))
      .sort((a, b) => Date.parse(a.updated_at) - Date.parse(b.updated_at) || a.number - b.number)
    if (q.get('direction') === 'desc') all.reverse()
    const items = all.slice((page - 1) * perPage, page * perPage)
    const lastPage = Math.max(1, Math.ceil(all.length / perPage))
    /** @param {number} n */
    const pageUrl = (n) => { const u = new URL(url); u.searchParams.set('page', String(n)); return u.toString() }
    const links = []
    if (page < lastPage) links.push(`<${pageUrl(page + 1)}>; rel="next"`, `<${pageUrl(lastPage)}>; rel="last"`)
    if (page > 1) links.push(`<${pageUrl(1)}>; rel="first"`, `<${pageUrl(page - 1)}>; rel="prev"`)
    return { status: 200, body: items, headers: links.length === 0 ? undefined : { link: links.join(', ') } }
  }

  /** @type {((request: LoggedRequest) => void | Promise<void>) | undefined} */
  let onRequest

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`)
    const logged = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0 }
    requests.push(logged)
    const answer = async () => {
      await onRequest?.(logged)
      const now = clock.now()
      const reset = Math.floor(now / 1000) + 3600
      /** @type {Record<string, string>} */
      const headers = {
        'content-type': 'application/json; charset=utf-8',
        date: new Date(now).toUTCString(),
        'x-github-api-version-selected': '2022-11-28',
        'x-ratelimit-limit': String(rateLimit.limit),
        'x-ratelimit-resource': 'core',
        'x-ratelimit-reset': String(reset)
      }
      /** @param {number} status @param {Json | undefined} body @param {Record<string, string>} [extra] */
      const send = (status, body, extra = {}) => {
        logged.status = status
        const text = body === undefined ? '' : JSON.stringify(body)
        if (status !== 304) { rateLimit.remaining = Math.max(0, rateLimit.remaining - 1); rateLimit.used++ }
        Object.assign(headers, { 'x-ratelimit-remaining': String(rateLimit.remaining), 'x-ratelimit-used': String(rateLimit.used) }, extra)
        res.writeHead(status, headers).end(status === 304 ? undefined : text)
      }
      const auth = /^(?:token|bearer) (.+)$/i.exec(req.headers.authorization ?? '')
      if (auth === null || auth[1] !== token) return send(401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' })
      const failure = failures.findIndex((f) => f.match === undefined || f.match(url.pathname))
      if (failure !== -1) {
        const [f] = failures.splice(failure, 1)
        return send(f.status, { message: f.message ?? (f.status === 429 ? 'API rate limit exceeded' : 'Forbidden'), documentation_url: DOCS }, f.headers)
      }
      if (req.method !== 'GET') return send(404, { message: 'Not Found', documentation_url: DOCS })
      const list = /^\/repos\/([^/]+\/[^/]+)\/issues$/.exec(url.pathname)
      const answer = list === null ? lookup(url.pathname) : listIssues(decodeURIComponent(list[1]), url)
      if (answer.status === 200) {
        const etag = `W/"${createHash('sha1').update(JSON.stringify(answer.body)).digest('hex')}"`
        if (req.headers['if-none-match'] === etag) return send(304, undefined, { etag })
        return send(200, answer.body, { etag, ...answer.headers })
      }
      return send(answer.status, answer.body, answer.headers)
    }
    answer().catch((err) => { res.writeHead(500).end(String(err)) })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    clock,
    rateLimit,
    requests,
    /** Requests whose path matches. @param {RegExp | string} path */
    count: (path) => requests.filter((r) => typeof path === 'string' ? r.path === path : path.test(r.path)).length,
    /** Called before each request is answered (to change objects during a poll). @param {typeof onRequest} hook */
    onRequest: (hook) => { onRequest = hook },
    createRepo,
    createIssue,
    createPull: (/** @type {string} */ fullName, /** @type {Json} */ fields = {}) => createIssue(fullName, fields, { pull: true }),
    updateIssue,
    deleteIssue,
    transferIssue,
    putObject,
    removeObject,
    failNext,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve(undefined)))
    }
  }
}
