import t from 'tap'
import { Redis, Cluster } from 'ioredis'
import {
  connectionProblem, createProducerClient, createWorkerClient, closeClient, isRedisClient, isCluster, redactUrl, waitForReady
} from '../../core/connection.js'
import { redisUrl, privateRedis } from '../helpers/redis.js'

t.test('connectionProblem accepts URLs, options and instances; explains the rest', async (t) => {
  t.equal(connectionProblem('redis://127.0.0.1:6379'), undefined)
  t.equal(connectionProblem('rediss://user:pw@example.com:6380/2'), undefined)
  t.equal(connectionProblem({ host: '127.0.0.1', port: 6379 }), undefined)
  const r = new Redis({ lazyConnect: true })
  t.equal(connectionProblem(r), undefined)
  r.disconnect()
  t.match(connectionProblem('localhost:6379'), /redis:\/\/ or rediss:\/\/ URL, got `localhost:6379` \(string\)/)
  t.match(connectionProblem('redis://:pw@[bad'), /unparsable URL `redis:\/\/:\*\*\*@\[bad`/, 'password redacted')
  t.match(connectionProblem(42), /got `42` \(number\)/)
  t.match(connectionProblem([]), /\(array\)/)
  t.match(connectionProblem(null), /\(object\)/)
  t.match(connectionProblem(undefined), /\(undefined\)/)
  t.equal(redactUrl('redis://user:secret@host:1/0'), 'redis://user:***@host:1/0')
  t.equal(redactUrl('redis://host:1'), 'redis://host:1')
  t.throws(() => createProducerClient(42 as never), { name: 'TypeError', message: /Expected `connection` to be/ })
})

t.test('producer clients fail fast; worker clients wait out outages', async (t) => {
  const producer = createProducerClient(redisUrl())
  const worker = createWorkerClient(redisUrl())
  t.teardown(() => Promise.all([producer.close(), worker.close()]))
  t.ok(producer.owned)
  t.ok(worker.owned)
  t.equal((producer.client as Redis).options.enableOfflineQueue, false)
  t.equal((worker.client as Redis).options.maxRetriesPerRequest, null)
  await waitForReady(producer.client, 5000)
  t.equal(await producer.client.ping(), 'PONG')
})

t.test('options objects are honoured, with our overrides winning', async (t) => {
  const url = new URL(redisUrl())
  const m = createProducerClient({ host: url.hostname, port: Number(url.port), enableOfflineQueue: true, db: 0 })
  t.teardown(() => m.close())
  t.equal((m.client as Redis).options.enableOfflineQueue, false)
  t.equal((m.client as Redis).options.port, Number(url.port))
})

t.test('a given instance stays the user\'s: duplicated where settings differ, never closed', async (t) => {
  const mine = new Redis(redisUrl())
  t.teardown(() => mine.disconnect())
  const producer = createProducerClient(mine)
  t.ok(producer.owned, 'the fail-fast duplicate is ours')
  t.not(producer.client, mine)
  t.equal((producer.client as Redis).options.enableOfflineQueue, false)
  const worker = createWorkerClient(mine)
  t.ok(worker.owned, 'default maxRetriesPerRequest: duplicated with null')
  t.equal((worker.client as Redis).options.maxRetriesPerRequest, null)
  await producer.close()
  await worker.close()
  t.equal(producer.client.status, 'end')
  t.equal(await mine.ping(), 'PONG', 'the user\'s client is still open')

  const ready = new Redis(redisUrl(), { maxRetriesPerRequest: null })
  t.teardown(() => ready.disconnect())
  const w2 = createWorkerClient(ready)
  t.equal(w2.client, ready, 'a suitable instance is used as it is')
  t.notOk(w2.owned)
  await w2.close()
  t.equal(await ready.ping(), 'PONG', 'and left open')
})

t.test('cluster instances are recognised and duplicated with cluster options', async (t) => {
  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } })
  t.ok(isRedisClient(cluster))
  t.ok(isCluster(cluster))
  const w = createWorkerClient(cluster)
  t.ok(w.owned)
  t.ok(isCluster(w.client))
  t.equal((w.client as Cluster).options.redisOptions?.maxRetriesPerRequest, null)
  const p = createProducerClient(cluster)
  t.equal((p.client as Cluster).options.enableOfflineQueue, false)
  t.equal((p.client as Cluster).options.redisOptions?.maxRetriesPerRequest, 1)
  await w.close()
  await p.close()
  cluster.disconnect()
})

t.test('a producer against a dead Redis rejects at once instead of queueing', async (t) => {
  const server = await privateRedis(t)
  const errors: Error[] = []
  const producer = createProducerClient(server.url, { onError: (err) => errors.push(err), connectionName: 'fhw-test' })
  t.teardown(() => producer.close())
  await waitForReady(producer.client, 5000)
  t.equal(await producer.client.client('GETNAME'), 'fhw-test')
  await server.kill()
  const started = Date.now()
  await t.rejects(producer.client.ping())
  t.ok(Date.now() - started < 1000, 'no offline queue: the command fails at once')
  while (producer.client.status === 'ready') await new Promise((resolve) => setTimeout(resolve, 10))
  await t.rejects(waitForReady(producer.client, 200), /not ready within 200 ms/)
  for (let i = 0; i < 40 && errors.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(errors.length > 0, 'connection errors reach onError')
  await server.restart()
  await waitForReady(producer.client, 10000)
  t.equal(await producer.client.ping(), 'PONG', 'reconnects by itself')
})

t.test('closeClient is bounded and never throws', async (t) => {
  const server = await privateRedis(t)
  const c = new Redis(server.url)
  await waitForReady(c, 5000)
  server.signal('SIGSTOP')
  const started = Date.now()
  await closeClient(c, 300)
  t.ok(Date.now() - started < 2000, 'a frozen Redis does not hold close')
  t.equal(c.status, 'end')
  server.signal('SIGCONT')
  await closeClient(c)
  const lazy = new Redis({ lazyConnect: true })
  await closeClient(lazy)
  t.equal(lazy.status, 'end')
})

t.test('the commands of one event-loop turn leave in one write; borrowed and cluster clients are left alone', async (t) => {
  const server = await privateRedis(t)
  const producer = createProducerClient(server.url)
  t.teardown(() => producer.close())
  const client = producer.client as Redis
  await waitForReady(client, 5000)

  async function oneTurn (label: string): Promise<void> {
    const socket = client.stream
    const key = uniqueKey(label)
    const replies = Promise.all([
      client.set(key, 'v'),
      client.get(key),
      client.pipeline().incr(`${key}:n`).incr(`${key}:n`).exec(),
      client.del(key, `${key}:n`)
    ])
    t.equal(socket.writableCorked, 1, `${label}: the socket is corked for the rest of the turn`)
    t.ok(socket.writableLength > 0, `${label}: the commands wait in one buffer`)
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(socket.writableCorked, 0, `${label}: uncorked at the end of the turn`)
    t.same(await replies, ['OK', 'v', [[null, 1], [null, 2]], 2], `${label}: every reply, in order`)
  }
  await oneTurn('first connection')

  const before = client.stream
  await server.kill()
  while (client.status === 'ready') await new Promise((resolve) => setTimeout(resolve, 10))
  await server.restart()
  await waitForReady(client, 10000)
  t.not(client.stream, before, 'a new socket after the reconnect')
  await oneTurn('after a reconnect')

  const ready = new Redis(server.url, { maxRetriesPerRequest: null })
  t.teardown(() => ready.disconnect())
  await waitForReady(ready, 5000)
  const borrowed = createWorkerClient(ready)
  t.equal(borrowed.client, ready)
  t.notOk(Object.hasOwn(ready, 'sendCommand'), 'a client used as it is keeps its own sendCommand')
  const pong = ready.ping()
  t.equal(ready.stream.writableCorked, 0, 'and is never corked')
  t.equal(await pong, 'PONG')

  const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
  const dup = createProducerClient(cluster)
  t.notOk(Object.hasOwn(dup.client, 'sendCommand'), 'a cluster, with a socket per node, is not wrapped')
  await dup.close()
  cluster.disconnect()
})

function uniqueKey (label: string): string {
  return `batch-writes:${label.replace(/\W/g, '-')}:${process.pid}:${Date.now()}`
}
