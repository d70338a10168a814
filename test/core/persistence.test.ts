import t from 'tap'
import { Redis } from 'ioredis'
import { checkPersistence } from '../../core/persistence.js'
import { privateRedis } from '../helpers/redis.js'

t.test('AOF on and noeviction: ok', async (t) => {
  const server = await privateRedis(t, { appendonly: true })
  const c = new Redis(server.url)
  t.teardown(() => c.disconnect())
  const report = await checkPersistence(c)
  t.same(report, { ok: true, verifiable: true, aof: true, maxmemoryPolicy: 'noeviction', problems: [] })
})

t.test('AOF off and an evicting policy: both reported', async (t) => {
  const server = await privateRedis(t, { appendonly: false, maxmemoryPolicy: 'allkeys-lru' })
  const c = new Redis(server.url)
  t.teardown(() => c.disconnect())
  const report = await checkPersistence(c)
  t.equal(report.ok, false)
  t.equal(report.verifiable, true)
  t.equal(report.aof, false)
  t.equal(report.maxmemoryPolicy, 'allkeys-lru')
  t.match(report.problems, [/appendonly is off/, /maxmemory-policy is allkeys-lru/])
})

t.test('a Redis that refuses INFO is unverifiable, not a crash', async (t) => {
  const server = await privateRedis(t, { args: ['--rename-command', 'INFO', ''] })
  // ioredis' own ready check uses INFO too: turn it off, as a client of such a Redis must.
  const c = new Redis(server.url, { enableReadyCheck: false })
  t.teardown(() => c.disconnect())
  const report = await checkPersistence(c)
  t.equal(report.ok, false)
  t.equal(report.verifiable, false)
  t.equal(report.aof, null)
  t.match(report.problems[0], /could not be verified/)
})
