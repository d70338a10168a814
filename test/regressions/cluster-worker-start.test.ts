import t from 'tap'
import { Queue } from 'bullmq'
import { Cluster, Redis } from 'ioredis'
import { createWebhookWorker } from '../../worker/index.js'
import { eventJobOptions } from '../../core/job-options.js'
import { safeJobId } from '../../core/job-id.js'
import { clusterOk, privateCluster } from '../helpers/cluster.js'
import { waitFor } from '../helpers/webhook.js'

// Regression: on a Redis Cluster, a worker that started while one master was
// down refused to start ("Connection is closed."): loading the scripts into
// every master's cache failed on the dead one. The cache is only a warm-up
// (a script missing from a node is sent with EVAL once), so a master that
// cannot take it no longer stops the start. Found by the chaos harness's
// cluster scenario, where a worker restarted while a master restarted.
//
// The master comes back before the teardown: with a master away, BullMQ's
// worker.close() can outlast the handle's close timeout and leave its blocking
// connection open, which kept this test's process alive.
t.setTimeout(60_000)

const PREFIX = '{webhooks}'

t.test('a worker starts and applies events while another master of the cluster is down', async (t) => {
  const nodes = await privateCluster(t)
  const probe = new Redis(nodes[0].url, { maxRetriesPerRequest: 1 })
  t.teardown(() => { probe.disconnect() })
  const slot = await probe.call('CLUSTER', 'KEYSLOT', PREFIX) as number
  const ranges = await probe.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
  const ownerPort = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1]
  const other = nodes.find((n) => n.port !== ownerPort)
  t.ok(other, 'a master other than the queue\'s')

  const cluster = new Cluster([{ host: '127.0.0.1', port: ownerPort as number }], { redisOptions: { maxRetriesPerRequest: null } })
  cluster.on('error', () => {})
  t.teardown(() => { cluster.disconnect() })
  await new Promise((resolve) => cluster.once('ready', resolve))
  await other?.kill()

  const applied: string[] = []
  const queueName = 'cluster-start'
  const handle = createWebhookWorker({
    connection: cluster,
    prefix: PREFIX,
    queueName,
    lockDuration: 1000,
    stalledInterval: 500,
    apply: async (_state, event) => { applied.push(event.id) }
  })
  t.teardown(() => handle.close({ timeoutMs: 2000 }))
  await handle.waitUntilReady()
  t.pass('the worker started')

  const queue = new Queue(queueName, { connection: cluster, prefix: PREFIX })
  t.teardown(() => queue.close())
  const jobId = safeJobId('clu', 'e-1')
  await queue.add('webhook', { v: 1, id: 'e-1', source: 'clu', type: '', payload: {}, headers: {}, receivedAt: Date.now(), origin: 'webhook' }, eventJobOptions(jobId))
  await waitFor(() => applied.includes('e-1'), 10_000, 'the event to be applied')
  t.same(applied, ['e-1'], 'applied once')
  await other?.restart()
  await waitFor(async () => await clusterOk(nodes), 20_000, 'the cluster to be whole again')
})
