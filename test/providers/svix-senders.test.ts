import t from 'tap'
import { verifyWebhook } from '@clerk/backend/webhooks'
import { Resend } from 'resend'
import { Webhook as SvixWebhook } from 'svix'
import { providers } from '../../providers/index.js'
import { STANDARD_WEBHOOKS_DELIVERY, SVIX_DELIVERY } from '../../providers/standard-webhooks.js'
import { buildApp } from '../helpers/webhook.js'
import { fuzz, throwsOption } from './fuzz.js'

// Clerk and Resend deliver through Svix. Each alias is the Standard Webhooks
// scheme under its sender's name, with `svix-*` headers and Svix's retries;
// each sender's own SDK verifies what the alias signs, and Svix's SDK signs
// what the alias verifies.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const BODY = JSON.stringify({ type: 'user.created', object: 'event', data: { id: 'user_29w83sxmDNGwOuEthce5gg56FcC', first_name: 'Zoë ✓' } })
const svixLib = new SvixWebhook(SECRET)

function theirs (id: string): Record<string, string> {
  const now = Math.floor(Date.now() / 1000)
  return { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': String(now), 'svix-signature': svixLib.sign(id, new Date(now * 1000), BODY) }
}

t.test('the aliases: names, svix-* headers, Svix\'s delivery facts', async (t) => {
  t.same(SVIX_DELIVERY, { retriesForMs: ((27 * 60 + 35) * 60 + 5) * 1000, suggestedDedupeTtlMs: 2 * 86_400_000, responseDeadlineMs: 15_000 })
  for (const name of ['svix', 'clerk', 'resend'] as const) {
    const p = providers[name]({ secret: SECRET })
    t.equal(p.name, name)
    t.equal(providers[name].delivery, SVIX_DELIVERY, `${name}: Svix's retries`)
    t.equal(p.delivery, SVIX_DELIVERY)
    t.match(p.sign(BODY), { 'svix-id': /^msg_/, 'svix-timestamp': /^\d+$/, 'svix-signature': /^v1,/ }, `${name} signs with svix-* headers`)
    t.match(p.sign(BODY, { family: 'webhook' }), { 'webhook-id': /^msg_/ }, 'the webhook-* family on request')
    t.same(p.verify({ headers: theirs('msg_svix_1'), rawBody: Buffer.from(BODY) }, [SECRET], Date.now()), { ok: true, secretIndex: 0, timestampMs: Number(theirs('msg_svix_1')['svix-timestamp']) * 1000 },
      `${name}: Svix's SDK signs, we verify`)
    t.ok(svixLib.verify(BODY, p.sign(BODY)), `${name}: we sign, Svix's SDK verifies`)
    throwsOption(t, () => providers[name]({ secret: 'not base64!' }), new RegExp(`Expected \`${name}.secret\` to be usable`))
    throwsOption(t, () => providers[name]({ secret: SECRET, tolerance: 1 } as never), new RegExp(`Unknown option \`tolerance\` for providers.${name}\\(\\)`))
  }
  t.equal(providers.standardWebhooks.delivery, STANDARD_WEBHOOKS_DELIVERY, 'standardWebhooks keeps its own facts')
  t.equal(providers.standardWebhooks({ secret: SECRET }).name, 'standard-webhooks')
})

t.test('Clerk: @clerk/backend\'s verifyWebhook accepts what providers.clerk signs, and refuses a wrong secret', async (t) => {
  const clerk = providers.clerk({ secret: SECRET })
  const request = (headers: Record<string, string>): Request => new Request('https://example.com/webhooks/clerk', { method: 'POST', body: BODY, headers })
  const event = await verifyWebhook(request(clerk.sign(BODY)), { signingSecret: SECRET })
  t.match(event, { type: 'user.created', data: { id: 'user_29w83sxmDNGwOuEthce5gg56FcC' } })
  await t.rejects(verifyWebhook(request(clerk.sign(BODY, { secret: 'whsec_' + Buffer.from('other').toString('base64') })), { signingSecret: SECRET }))
  t.same(clerk.toEvent({ kind: 'json', value: JSON.parse(BODY) }, { headers: theirs('msg_clerk_1'), rawBody: Buffer.from(BODY) }, { ok: true, secretIndex: 0 }), { ok: true, id: 'msg_clerk_1', type: 'user.created' })
})

t.test('Resend: resend.webhooks.verify accepts what providers.resend signs', async (t) => {
  const resend = providers.resend({ secret: SECRET })
  const sdk = new Resend('re_test_interop')
  const headers = resend.sign(BODY, { id: 'msg_resend_1' })
  const verified = sdk.webhooks.verify({ payload: BODY, headers: { id: headers['svix-id'], timestamp: headers['svix-timestamp'], signature: headers['svix-signature'] }, webhookSecret: SECRET })
  t.match(verified, { type: 'user.created' })
  t.throws(() => sdk.webhooks.verify({ payload: `${BODY} `, headers: { id: headers['svix-id'], timestamp: headers['svix-timestamp'], signature: headers['svix-signature'] }, webhookSecret: SECRET }))
  t.same(resend.verify({ headers, rawBody: Buffer.from(`${BODY} `) }, [SECRET], Date.now()), { ok: false, reason: 'no_match' })
})

t.test('through the route: the alias names the source and the job', async (t) => {
  const clerk = providers.clerk({ secret: SECRET })
  const { app } = await buildApp(t, { provider: clerk })
  const res = await app.inject({ method: 'POST', url: '/v1/events', payload: BODY, headers: theirs('msg_clerk_route') })
  t.equal(res.statusCode, 202, res.body)
  t.match((await app.webhooks.get('clerk:/v1/events')!.queue.getJob('clerk.msg_clerk_route'))?.data, { source: 'clerk', type: 'user.created', headers: { 'svix-id': 'msg_clerk_route' } })
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(providers.resend({ secret: SECRET }), ['svix-id', 'svix-timestamp', 'svix-signature', 'webhook-signature'], 2000, () => theirs('msg_fuzz'))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
