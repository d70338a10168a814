import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import type { Job } from 'bullmq'
import type { WebhookEvent } from '../../core/event.js'
import { providers } from '../../providers/index.js'
import { standardWebhooksPublicOf } from '../../providers/standard-webhooks.js'
import type { Provider } from '../../providers/provider.js'
import { buildApp } from '../helpers/webhook.js'

// Every catalogue preset through the real route: a delivery signed as its
// sender signs is accepted; each hostile variant (no signature, the signature
// twice, another secret, a tampered body, a stale timestamp) gets the one 401
// body, with its reason logged, and makes no job.

type Sign = (body: string, options?: { secret?: string, timestampSec?: number }) => Record<string, string>

interface RouteCase {
  provider: Provider
  /** Signs as the sender would, for the URL posted to. */
  sign: Sign
  /** The signature header; absent when the signature is in the body. */
  signature?: string
  /** A secret the preset accepts for `sign` but that is not the configured one. */
  otherSecret: string
  body: string
  /** The path and query posted to. @defaultValue `'/v1/events'` */
  url?: (body: string) => string
  /** Whether a signed timestamp is checked against the window (`sign` takes `timestampSec`). */
  timestamped?: boolean
  /** A delivery signed an hour ago, for schemes that sign the time inside the body. */
  stale?: () => { body: string, headers: Record<string, string> }
  /** The answer to the valid delivery. @defaultValue 202 */
  status?: number
  /** The jobs the valid delivery makes. @defaultValue 1 for a 202, else 0 */
  jobs?: number
  /** Variants of a scheme that signs inside the body: [name, body, headers, reason]. */
  bodyVariants?: () => Array<[string, string, Record<string, string>, string]>
}

const ORIGIN = 'https://hooks.example.com'
const now = (): number => Math.floor(Date.now() / 1000)

function cases (): RouteCase[] {
  const twilio = providers.twilio({ secret: 'tw-token', publicUrl: ORIGIN })
  const square = providers.square({ secret: 'sq-key', notificationUrl: `${ORIGIN}/v1/events` })
  const paddle = providers.paddle({ secret: 'pdl_ntfset_key' })
  const linear = providers.linear({ secret: 'lin-secret' })
  const ed = generateKeyPairSync('ed25519')
  const edOther = generateKeyPairSync('ed25519')
  const hubspot = providers.hubspot({ secret: 'hs-secret', publicUrl: ORIGIN })
  const zoom = providers.zoom({ secret: 'zm-secret' })
  const meta = providers.meta({ secret: 'meta-secret', verifyToken: 'vt' })
  const clerk = providers.clerk({ secret: 'whsec_' + Buffer.from('clerk signing key').toString('base64') })
  const v1aKey = 'whsk_' + Buffer.alloc(32, 3).toString('base64')
  const v1aOther = 'whsk_' + Buffer.alloc(32, 4).toString('base64')
  const v1a = providers.standardWebhooks({ secret: standardWebhooksPublicOf(v1aKey) as string })
  const mailgun = providers.mailgun({ secret: 'mg-key' })
  const mailgunEvent = JSON.stringify({ 'event-data': { id: 'mg-1', event: 'delivered' } })
  const mailgunBody = mailgun.signBody(mailgunEvent, { token: 't'.repeat(50) })
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const p256Other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const sendgrid = providers.sendgrid({ publicKey: p256.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') })
  const discord = providers.discord({ publicKey: ed.publicKey.export({ format: 'pem', type: 'spki' }).toString() })
  const linearBody = (ms: number): string => JSON.stringify({ action: 'create', type: 'Issue', data: { id: 'iss_1' }, webhookTimestamp: ms })
  return [
    {
      provider: twilio,
      sign: (body, o = {}) => twilio.sign(body, { ...o, url: `${ORIGIN}/v1/events` }),
      signature: 'x-twilio-signature',
      otherSecret: 'other-token',
      body: 'MessageSid=SM1&Body=hello'
    },
    { provider: square, sign: (body, o) => square.sign(body, o), signature: 'x-square-hmacsha256-signature', otherSecret: 'other', body: '{"event_id":"sq-1","type":"payment.updated"}' },
    { provider: paddle, sign: (body, o) => paddle.sign(body, o), signature: 'paddle-signature', otherSecret: 'pdl_other', body: '{"event_id":"evt_1","event_type":"transaction.paid"}', timestamped: true },
    {
      provider: linear,
      sign: (body, o) => linear.sign(body, o),
      signature: 'linear-signature',
      otherSecret: 'lin-other',
      body: linearBody(Date.now()),
      stale: () => ({ body: linearBody(Date.now() - 3_600_000), headers: linear.sign(linearBody(Date.now() - 3_600_000)) })
    },
    {
      provider: discord,
      sign: (body, o = {}) => discord.sign(body, { ...o, privateKey: o.secret === undefined ? ed.privateKey : edOther.privateKey }),
      signature: 'x-signature-ed25519',
      otherSecret: 'the other key pair',
      body: '{"id":"1114488593420058999","type":2,"token":"tok","data":{"name":"deploy"}}',
      timestamped: true,
      status: 200,
      jobs: 1
    },
    {
      provider: sendgrid,
      sign: (body, o = {}) => sendgrid.sign(body, { ...o, privateKey: o.secret === undefined ? p256.privateKey : p256Other.privateKey }),
      signature: 'x-twilio-email-event-webhook-signature',
      otherSecret: 'the other key pair',
      body: '[{"email":"a@example.com","event":"delivered","sg_event_id":"ZGVsaXZlcmVkLTE"}]\r\n',
      timestamped: true
    },
    {
      provider: hubspot,
      sign: (body, o = {}) => hubspot.sign(body, { ...o, url: `${ORIGIN}/v1/events` }),
      signature: 'x-hubspot-signature-v3',
      otherSecret: 'hs-other',
      body: '[{"eventId":100,"subscriptionType":"contact.creation","attemptNumber":0}]',
      timestamped: true
    },
    {
      provider: v1a,
      sign: (body, o = {}) => v1a.sign(body, { ...o, secret: o.secret === undefined ? v1aKey : v1aOther }),
      signature: 'webhook-signature',
      otherSecret: 'the other signing key',
      body: '{"type":"invoice.paid","data":{"id":"in_1"}}',
      timestamped: true
    },
    {
      provider: clerk,
      sign: (body, o) => clerk.sign(body, o),
      signature: 'svix-signature',
      otherSecret: 'whsec_' + Buffer.from('another key').toString('base64'),
      body: '{"type":"user.created","data":{"id":"user_1"}}',
      timestamped: true
    },
    { provider: meta, sign: (body, o) => meta.sign(body, o), signature: 'x-hub-signature-256', otherSecret: 'meta-other', body: '{"object":"page","entry":[{"id":"1","time":1}]}' },
    {
      provider: zoom,
      sign: (body, o) => zoom.sign(body, o),
      signature: 'x-zm-signature',
      otherSecret: 'zm-other',
      body: '{"event":"meeting.started","event_ts":1654503849680,"payload":{"object":{"id":"1"}}}',
      timestamped: true
    },
    {
      provider: mailgun,
      sign: (body, o) => mailgun.sign(body, o),
      otherSecret: 'mg-other',
      body: mailgunBody,
      bodyVariants: () => [
        ['no signature in the body', mailgunEvent, mailgun.sign(mailgunEvent), 'malformed_body'],
        ['another key', mailgun.signBody(mailgunEvent, { secret: 'mg-other' }), mailgun.sign(''), 'no_match'],
        ['a changed token', mailgunBody.replace('tttt', 'tttu'), mailgun.sign(''), 'no_match'],
        ['signed ten hours ago', mailgun.signBody(mailgunEvent, { timestampSec: now() - 36_000 }), mailgun.sign(''), 'timestamp_too_old']
      ]
    }
  ]
}

const UNAUTHORIZED = { statusCode: 401, code: 'FST_WEBHOOK_UNAUTHORIZED', error: 'Unauthorized', message: 'Webhook verification failed' }

for (const c of cases()) {
  t.test(`${c.provider.name}: accepted as its sender signs it; every hostile variant is one 401 and no job`, async (t) => {
    const { app, webhookLines, queueName } = await buildApp(t, { provider: c.provider })
    const url = c.url ?? (() => '/v1/events')
    const post = async (payload: string, headers: Record<string, string | string[]>): Promise<{ statusCode: number, body: string, json: () => unknown }> =>
      await app.inject({ method: 'POST', url: url(payload), payload, headers })
    const good = c.sign(c.body)
    const res = await post(c.body, good)
    t.equal(res.statusCode, c.status ?? 202, `the valid delivery (${res.body})`)

    const variants: Array<[string, string, Record<string, string | string[]>, string]> = c.signature === undefined
      ? []
      : [
          ['no signature', c.body, without(good, c.signature), 'missing_header'],
          ['the signature twice', c.body, { ...good, [c.signature]: [good[c.signature], good[c.signature]] }, 'duplicate_header'],
          ['another secret', c.body, c.sign(c.body, { secret: c.otherSecret }), 'no_match'],
          ['a tampered body', tamper(c.body), good, 'no_match']
        ]
    variants.push(...(c.bodyVariants?.() ?? []))
    if (c.timestamped === true) variants.push(['an hour old', c.body, c.sign(c.body, { timestampSec: now() - 3600 }), 'timestamp_too_old'])
    if (c.stale !== undefined) {
      const stale = c.stale()
      variants.push(['an hour old', stale.body, stale.headers, 'timestamp_too_old'])
    }
    for (const [name, payload, headers, reason] of variants) {
      const r = await post(payload, headers)
      t.equal(r.statusCode, 401, name)
      t.same(r.json(), UNAUTHORIZED, `${name}: the one 401 body`)
      t.match(webhookLines().at(-1), { outcome: 'rejected', reason }, `${name}: logged as ${reason}`)
    }
    const queue = app.webhooks.get(`${c.provider.name}:/v1/events`)?.queue
    t.ok(queue, queueName)
    const jobs: Array<Job<WebhookEvent>> = await queue!.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed'])
    t.equal(jobs.length, c.jobs ?? ((c.status ?? 202) === 202 ? 1 : 0), 'only the valid delivery is a job')
  })
}

function without (headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers }
  delete copy[name]
  return copy
}

// One byte changed where it still parses: the signature alone must refuse it.
function tamper (body: string): string {
  const i = body.search(/[a-z]/)
  return body.slice(0, i) + (body[i] === 'x' ? 'y' : 'x') + body.slice(i + 1)
}
