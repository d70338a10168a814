import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import { Cluster } from 'ioredis'
import pino from 'pino'
import { createEventProducer } from '../../plugin/enqueue.js'
import { validatePluginOptions } from '../../plugin/resolve-options.js'
import { providers } from '../../providers/index.js'
import { safeJobId } from '../../core/job-id.js'
import { privateCluster } from '../helpers/cluster.js'

// The plugin's producer on a real three-master Redis Cluster: BullMQ's add
// script runs inside ours on the node of the queue's hash tag, and a
// duplicate is still told apart.
t.setTimeout(60_000)

const PREFIX = '{webhooks}'

t.test('on a Redis Cluster the add script is used and tells a duplicate from a new job', async (t) => {
  const nodes = await privateCluster(t)

  const cluster = new Cluster([{ host: '127.0.0.1', port: nodes[0].port }])
  cluster.on('error', () => {})
  t.teardown(() => { cluster.disconnect() })
  const options = validatePluginOptions({
    provider: providers.hmac({ secret: 'cluster-secret' }), connection: cluster, source: 'acme', queueName: 'cluster-events', prefix: PREFIX, requireRedisAtBoot: true
  })
  const producer = createEventProducer(options, pino({ level: 'silent' }) as unknown as FastifyBaseLogger)
  t.teardown(() => producer.close())
  await producer.boot()
  t.equal(producer.addMode, 'script')

  const event = { v: 1 as const, id: 'evt_c', source: 'acme', type: 'order.updated', payload: { a: 1 }, headers: {}, receivedAt: Date.now(), origin: 'webhook' as const }
  const jobId = safeJobId('acme', 'evt_c')
  t.same(await producer.add(event, '{"a":1}'), { ok: true, jobId, duplicate: false })
  t.same(await producer.add(event), { ok: true, jobId, duplicate: true })
  t.same((await producer.queue.getJob(jobId))?.data, event, 'BullMQ reads the job back')
  t.equal(await producer.queue.count(), 1)
})
