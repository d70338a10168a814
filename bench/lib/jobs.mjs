// @ts-check
// Jobs for the worker benchmarks, shaped exactly like production's: one real
// event goes through the plugin, and its job (name, data, options) is the
// template every benchmark job is cloned from, each with a fresh event id.
import { Queue } from 'bullmq'
import { safeJobId } from 'fastify-hybrid-webhooks/worker'
import { bodyOfSize, PATH, sign, SIGNATURE_HEADER } from './events.mjs'
import { INGEST_SERVERS, startServer } from './servers.mjs'

const SOURCE = 'acme'

/**
 * A job as the plugin enqueued it: what every benchmark job is cloned from.
 * @typedef {{ name: string, data: import('fastify-hybrid-webhooks/worker').WebhookEvent<Record<string, unknown>>, opts: import('bullmq').JobsOptions }} TemplateJob
 */

/**
 * Sends one signed 1 KB event through the plugin and returns its job as the plugin enqueued it.
 * @param {string} redisUrl
 * @param {string} queueName
 * @returns {Promise<TemplateJob>}
 */
export async function templateJob (redisUrl, queueName) {
  const server = await startServer({ ...INGEST_SERVERS[0], queue: queueName }, redisUrl)
  const queue = new Queue(queueName, { connection: { url: redisUrl } })
  try {
    const id = 'evt_template'
    const body = bodyOfSize(1024)(id, 'obj-0', Date.now())
    const res = await fetch(`http://127.0.0.1:${server.port}${PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign(body) },
      body
    })
    if (res.status !== 202) throw new Error(`the plugin answered ${res.status} to a valid event: ${await res.text()}`)
    const job = await queue.getJob(safeJobId(SOURCE, id))
    if (job === undefined) throw new Error('the plugin acknowledged an event that is not in Redis')
    await job.remove()
    const { jobId, timestamp, ...opts } = job.opts
    return { name: job.name, data: job.data, opts }
  } finally {
    await queue.close()
    await server.child.stop()
  }
}

/**
 * Adds `count` clones of the template, each a distinct event; event `i` is
 * about object `obj-(i mod objects)`.
 * @param {string} redisUrl
 * @param {string} queueName
 * @param {TemplateJob} template
 * @param {number} count
 */
export async function fill (redisUrl, queueName, template, count, { objects = count, tag = 'w' } = {}) {
  const queue = new Queue(queueName, { connection: { url: redisUrl } })
  try {
    const now = Date.now()
    for (let start = 0; start < count; start += 1000) {
      const batch = []
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        const id = `evt_${tag}_${i}`
        const data = {
          ...template.data,
          id,
          payload: { ...template.data.payload, event_id: id, object_id: `obj-${i % objects}` },
          receivedAt: now
        }
        batch.push({ name: template.name, data, opts: { ...template.opts, jobId: safeJobId(SOURCE, id) } })
      }
      await queue.addBulk(batch)
    }
  } finally {
    await queue.close()
  }
}
