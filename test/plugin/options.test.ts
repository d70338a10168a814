import t from 'tap'
import Fastify from 'fastify'
import { providers } from '../../providers/index.js'
import { webhookPlugin } from '../../plugin/plugin.js'
import { PLUGIN_DEFAULTS, paramsCacheKey, validatePluginOptions } from '../../plugin/resolve-options.js'
import type { Provider } from '../../providers/provider.js'
import { testProvider } from '../helpers/webhook.js'

const provider = providers.hmac({ secret: 'option-secret' })
const connection = 'redis://127.0.0.1:6399'
const base = { provider, connection }

function withProvider (patch: Record<string, unknown>): Provider {
  return { ...testProvider({ secret: 'k' }), ...patch } as unknown as Provider
}

// Each row: options (merged over a valid base unless `raw`), and what the message must say.
const table: Array<{ name: string, options: unknown, raw?: boolean, message: RegExp }> = [
  { name: 'null options', options: null, raw: true, message: /Expected `options` to be an object, got `null` \(null\)/ },
  { name: 'string options', options: 'x', raw: true, message: /`options` to be an object, got `x` \(string\)/ },
  { name: 'array options', options: [], raw: true, message: /\(array\)/ },
  { name: 'a typo', options: { bodylimit: 10 }, message: /Unknown option `bodylimit`; known options are provider, connection/ },
  { name: 'no provider', options: { connection }, raw: true, message: /Expected `provider` to be a Provider such as `providers.hmac\(\{ secret \}\)`, got `undefined`/ },
  { name: 'a provider that is a string', options: { provider: 'stripe' }, message: /`provider` to be a Provider.*`stripe` \(string\)/ },
  { name: 'a provider without a name', options: { provider: withProvider({ name: '' }) }, message: /`provider.name` to be a non-empty string/ },
  { name: 'a numeric secret', options: { provider: withProvider({ secret: 12345 }) }, message: /`provider.secret` to be a non-empty string, a non-empty array of them, or a resolver function, got a value of type number/ },
  { name: 'an empty secret', options: { provider: withProvider({ secret: '' }) }, message: /`provider.secret`.*type string/ },
  { name: 'an empty secret list', options: { provider: withProvider({ secret: [] }) }, message: /`provider.secret`.*type array/ },
  { name: 'a list with an empty secret', options: { provider: withProvider({ secret: ['ok', ''] }) }, message: /`provider.secret`.*type array/ },
  { name: 'unknown content types', options: { provider: withProvider({ contentTypes: ['xml'] }) }, message: /`provider.contentTypes` to be a non-empty array of 'json' and 'form'/ },
  { name: 'no content types', options: { provider: withProvider({ contentTypes: [] }) }, message: /`provider.contentTypes`/ },
  { name: 'a zero provider bodyLimit', options: { provider: withProvider({ bodyLimit: 0 }) }, message: /`provider.bodyLimit` to be an integer from 1 and up, got `0`/ },
  { name: 'upper-case event headers', options: { provider: withProvider({ eventHeaders: ['X-Topic'] }) }, message: /`provider.eventHeaders` to be an array of lower-case header names/ },
  { name: 'no verify', options: { provider: withProvider({ verify: undefined }) }, message: /`provider.verify` to be a function/ },
  { name: 'no toEvent', options: { provider: withProvider({ toEvent: 1 }) }, message: /`provider.toEvent` to be a function, got `1` \(number\)/ },
  { name: 'no sign', options: { provider: withProvider({ sign: null }) }, message: /`provider.sign` to be a function/ },
  { name: 'a secretProblem that is not a function', options: { provider: withProvider({ secretProblem: 'base64' }) }, message: /`provider.secretProblem` to be a function/ },
  { name: 'a static secret its secretProblem refuses', options: { provider: withProvider({ secret: 'plain', secretProblem: () => 'a `k_` key' }) }, message: /^Expected `provider.secret` to be usable: a `k_` key$/ },
  { name: 'a secretProblem that throws refuses', options: { provider: withProvider({ secretProblem: () => { throw new Error('x') } }) }, message: /`provider.secret` to be usable:.*it threw/ },
  { name: 'a respond that is not a function', options: { provider: withProvider({ respond: 'yes' }) }, message: /`provider.respond` to be a function/ },
  { name: 'a challenge that is not a function', options: { provider: withProvider({ challenge: 'hub' }) }, message: /`provider.challenge` to be a function/ },
  { name: 'a jsonArrays that is not a boolean', options: { provider: withProvider({ jsonArrays: 'yes' }) }, message: /`provider.jsonArrays` to be a boolean/ },
  { name: 'no connection', options: { provider }, raw: true, message: /Expected `connection` to be a redis:\/\/ URL, ioredis options or an ioredis Redis\/Cluster instance, got `undefined`/ },
  { name: 'a host:port connection', options: { connection: 'localhost:6379' }, message: /`connection` to be a redis:\/\/ or rediss:\/\/ URL, got `localhost:6379`/ },
  { name: 'a connection password is redacted', options: { connection: 'redis://:hunter2@[bad' }, message: /unparsable URL `redis:\/\/:\*\*\*@\[bad`/ },
  { name: 'a relative path', options: { path: 'v1/events' }, message: /`path` to be a route path starting with `\/`, got `v1\/events`/ },
  { name: 'an empty path', options: { path: '' }, message: /`path` to be a route path/ },
  { name: 'a path with a query', options: { path: '/hooks?x=1' }, message: /`path` to be a route path/ },
  { name: 'a path with a space', options: { path: '/my hooks' }, message: /`path` to be a route path/ },
  { name: 'a bad source', options: { source: 'Bad Source!' }, message: /`source` to be a string matching \/\^\[a-z\]/ },
  { name: 'a source with a dot', options: { source: 'a.b' }, message: /`source` to be a string matching/ },
  { name: 'a provider name that is no source', options: { provider: withProvider({ name: 'my provider' }) }, message: /it defaults to the provider's name: set `source`/ },
  { name: 'an empty name', options: { name: '' }, message: /`name` to be a non-empty string/ },
  { name: 'a queue name with a colon', options: { queueName: 'a:b' }, message: /`queueName` to be a non-empty string without `:`, got `a:b`/ },
  { name: 'an empty queue name', options: { queueName: '' }, message: /`queueName`/ },
  { name: 'a route prefix as prefix', options: { prefix: '/hooks' }, message: /`prefix` to be a BullMQ key prefix, got `\/hooks` \(string\)\. `prefix` is BullMQ's key prefix, not a route prefix: set the route with `path`/ },
  { name: 'a prefix with a colon', options: { prefix: 'a:b' }, message: /`prefix` to be a non-empty string without `:`/ },
  { name: 'a zero bodyLimit', options: { bodyLimit: 0 }, message: /`bodyLimit` to be an integer from 1 to 1073741824, got `0`/ },
  { name: 'a fractional bodyLimit', options: { bodyLimit: 1.5 }, message: /`bodyLimit` to be an integer/ },
  { name: 'a bodyLimit as text', options: { bodyLimit: '1mb' }, message: /`bodyLimit`.*`1mb` \(string\)/ },
  { name: 'a 2 GiB bodyLimit', options: { bodyLimit: 2 ** 31 }, message: /`bodyLimit` to be an integer from 1 to 1073741824/ },
  { name: 'a zero ackTimeoutMs', options: { ackTimeoutMs: 0 }, message: /`ackTimeoutMs` to be an integer from 1 to 60000/ },
  { name: 'a minute-long ackTimeoutMs', options: { ackTimeoutMs: 60_001 }, message: /`ackTimeoutMs`/ },
  { name: 'a sub-second Retry-After', options: { retryAfterMs: 500 }, message: /`retryAfterMs` to be an integer from 1000 to 86400000/ },
  { name: 'a string requireRedisAtBoot', options: { requireRedisAtBoot: 'yes' }, message: /`requireRedisAtBoot` to be a boolean, got `yes`/ },
  { name: 'a zero readyTimeoutMs', options: { readyTimeoutMs: 0 }, message: /`readyTimeoutMs` to be an integer from 1/ },
  { name: 'an unknown persistenceCheck', options: { persistenceCheck: 'strict' }, message: /`persistenceCheck` to be one of 'warn', 'refuse', 'off', got `strict`/ },
  { name: 'a negative secretCacheMs', options: { secretCacheMs: -1 }, message: /`secretCacheMs` to be an integer from 0 and up/ },
  { name: 'a negative secretNegativeCacheMs', options: { secretNegativeCacheMs: -1 }, message: /`secretNegativeCacheMs` to be an integer from 0 and up/ },
  { name: 'a zero secretTimeoutMs', options: { secretTimeoutMs: 0 }, message: /`secretTimeoutMs` to be an integer from 1 to 60000/ },
  { name: 'a secretCacheKey that is no function', options: { secretCacheKey: 'tenant' }, message: /`secretCacheKey` to be a function/ },
  { name: 'metrics as a string', options: { metrics: 'yes' }, message: /`metrics` to be a boolean or a prom-client Registry, got `yes` \(string\)/ },
  { name: 'metrics as a plain object', options: { metrics: {} }, message: /`metrics` to be a boolean or a prom-client Registry/ },
  { name: 'a string queueMetrics', options: { queueMetrics: 'on' }, message: /`queueMetrics` to be a boolean/ },
  { name: 'a zero maxBacklog', options: { maxBacklog: 0 }, message: /`maxBacklog` to be an integer from 1 and up, or false, got `0`/ },
  { name: 'maxBacklog true', options: { maxBacklog: true }, message: /`maxBacklog` to be an integer from 1 and up, or false, got `true` \(boolean\)/ },
  { name: 'acceptTypes as a string', options: { acceptTypes: 'invoice.paid' }, message: /`acceptTypes` to be a non-empty array of event types or a function/ },
  { name: 'an empty acceptTypes', options: { acceptTypes: [] }, message: /`acceptTypes` to be a non-empty array/ },
  { name: 'acceptTypes with a number', options: { acceptTypes: ['a', 1] }, message: /`acceptTypes`/ },
  { name: 'a relative healthRoute', options: { healthRoute: 'healthz' }, message: /`healthRoute` to be a route path starting with `\/`, or false/ },
  { name: 'healthRoute true', options: { healthRoute: true }, message: /`healthRoute`/ },
  { name: 'a negative healthMaxBacklog', options: { healthMaxBacklog: -1 }, message: /`healthMaxBacklog` to be an integer from 0 and up/ },
  { name: 'a zero healthMaxAgeMs', options: { healthMaxAgeMs: 0 }, message: /`healthMaxAgeMs` to be an integer from 1 and up/ },
  { name: 'an unknown logLevel', options: { logLevel: 'loud' }, message: /`logLevel` to be one of 'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'/ }
]

t.test('option validation table: every bad option is a coded TypeError saying what was expected and what came', async (t) => {
  for (const row of table) {
    const options = row.raw === true ? row.options : { ...base, ...(row.options as object) }
    let err: unknown
    try { validatePluginOptions(options) } catch (e) { err = e }
    t.ok(err instanceof TypeError, `${row.name}: a TypeError`)
    t.match(err, { code: 'WEBHOOK_INVALID_OPTION', message: row.message }, row.name)
  }
})

t.test('a secret is never echoed in an option error', async (t) => {
  for (const secret of [12345, ['visible-secret', ''], { key: 'visible-secret' }]) {
    const err = (() => { try { validatePluginOptions({ ...base, provider: withProvider({ secret }) }) } catch (e) { return e as Error } })()
    t.ok(err)
    t.notMatch(err!.message, /12345|visible-secret/)
  }
})

t.test('defaults: one object, derived source, name and bodyLimit', async (t) => {
  const resolved = validatePluginOptions(base)
  t.match(resolved, {
    path: '/v1/events',
    source: 'hmac',
    name: 'hmac:/v1/events',
    queueName: 'integration-events',
    prefix: 'bull',
    bodyLimit: 1_048_576,
    ackTimeoutMs: 2000,
    retryAfterMs: 5000,
    requireRedisAtBoot: false,
    readyTimeoutMs: 10_000,
    persistenceCheck: 'warn',
    secretCacheMs: 60_000,
    secretNegativeCacheMs: 5000,
    secretTimeoutMs: 1000,
    logLevel: undefined,
    metrics: false,
    queueMetrics: true,
    maxBacklog: false,
    acceptTypes: undefined,
    healthRoute: false,
    healthMaxBacklog: 10_000,
    healthMaxAgeMs: 300_000
  })
  t.equal(resolved.secretCacheKey, PLUGIN_DEFAULTS.secretCacheKey)
  t.equal(validatePluginOptions({ ...base, source: 'acme', path: '/hooks/:tenant' }).name, 'acme:/hooks/:tenant', 'name defaults to source:path')
  t.equal(validatePluginOptions({ ...base, provider: withProvider({ bodyLimit: 25_000_000 }) }).bodyLimit, 25_000_000, 'a provider raises the default')
  t.equal(validatePluginOptions({ ...base, provider: withProvider({ bodyLimit: 25_000_000 }), bodyLimit: 4096 }).bodyLimit, 4096, 'the user wins')
  t.ok(Object.isFrozen(PLUGIN_DEFAULTS), 'the defaults cannot be changed at run time')
  t.equal(paramsCacheKey({ headers: {}, source: 's', path: '/p', params: { b: '2', a: '1' } }), paramsCacheKey({ headers: {}, source: 's', path: '/p', params: { a: '1', b: '2' } }), 'the cache key ignores param order')
})

t.test('a bad option fails register before any Redis connection is made', async (t) => {
  const app = Fastify({ logger: false })
  app.register(webhookPlugin, { ...base, prefix: '/hooks' })
  const err = await app.ready().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof TypeError)
  t.match(err, { code: 'WEBHOOK_INVALID_OPTION', message: /set the route with `path`/ })
  await app.close()
})
