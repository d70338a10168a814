import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import type { IncomingHeaders, Provider } from '../../providers/provider.js'
import { providers } from '../../providers/index.js'
import { standardWebhooksPublicOf } from '../../providers/standard-webhooks.js'

// Every preset's header pre-check: what the route runs before reading a body.
// It refuses what verify would refuse whatever the body (the fuzz in each
// preset's test checks that agreement), and passes every well-formed header
// set, signed right or wrong, on to verify.

const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const V1A_SIGNING = 'whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk='
const V1A_PUBLIC = standardWebhooksPublicOf(V1A_SIGNING) as string
const BODY = '{"id":"evt_1","event_id":"e1","type":"x"}'

interface Case { name: string, provider: Provider, signature: string, timestamp?: string, sign?: (body: string) => IncomingHeaders }
const cases: Case[] = [
  { name: 'stripe', provider: providers.stripe({ secret: 's3cret' }), signature: 'stripe-signature' },
  { name: 'github', provider: providers.github({ secret: 's3cret' }), signature: 'x-hub-signature-256' },
  { name: 'shopify', provider: providers.shopify({ secret: 's3cret' }), signature: 'x-shopify-hmac-sha256' },
  { name: 'slack', provider: providers.slack({ secret: 's3cret' }), signature: 'x-slack-signature', timestamp: 'x-slack-request-timestamp' },
  { name: 'standardWebhooks', provider: providers.standardWebhooks({ secret: SW_SECRET }), signature: 'webhook-signature', timestamp: 'webhook-timestamp' },
  { name: 'hmac', provider: providers.hmac({ secret: 's3cret' }), signature: 'x-provider-signature' },
  { name: 'hmac with a timestamp', provider: providers.hmac({ secret: 's3cret', timestampHeader: 'x-ts' }), signature: 'x-provider-signature', timestamp: 'x-ts' },
  ...catalogue()
]

// The catalogue presets; those that sign the URL sign the one their sender would call.
// Mailgun is not here: its signature is in the body, so it has no pre-check.
function catalogue (): Case[] {
  const twilio = providers.twilio({ secret: 's3cret', publicUrl: 'https://example.com' })
  const ed25519 = generateKeyPairSync('ed25519')
  const hubspot = providers.hubspot({ secret: 's3cret', publicUrl: 'https://example.com' })
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const sendgrid = providers.sendgrid({ publicKey: p256.publicKey.export({ format: 'pem', type: 'spki' }).toString() })
  const discord = providers.discord({ publicKey: ed25519.publicKey.export({ format: 'pem', type: 'spki' }).toString() })
  const square = providers.square({ secret: 's3cret', notificationUrl: 'https://example.com/v1/events' })
  return [
    { name: 'square', provider: square, signature: 'x-square-hmacsha256-signature' },
    { name: 'paddle', provider: providers.paddle({ secret: 's3cret' }), signature: 'paddle-signature' },
    { name: 'linear', provider: providers.linear({ secret: 's3cret' }), signature: 'linear-signature' },
    {
      name: 'standardWebhooks v1a',
      provider: providers.standardWebhooks({ secret: V1A_PUBLIC }),
      signature: 'webhook-signature',
      timestamp: 'webhook-timestamp',
      sign: (body) => providers.standardWebhooks({ secret: V1A_PUBLIC }).sign(body, { secret: V1A_SIGNING })
    },
    { name: 'clerk', provider: providers.clerk({ secret: SW_SECRET }), signature: 'svix-signature', timestamp: 'svix-timestamp' },
    { name: 'resend', provider: providers.resend({ secret: SW_SECRET }), signature: 'svix-signature', timestamp: 'svix-timestamp' },
    { name: 'meta', provider: providers.meta({ secret: 's3cret', verifyToken: 'vt' }), signature: 'x-hub-signature-256' },
    { name: 'zoom', provider: providers.zoom({ secret: 's3cret' }), signature: 'x-zm-signature', timestamp: 'x-zm-request-timestamp' },
    { name: 'discord', provider: discord, signature: 'x-signature-ed25519', timestamp: 'x-signature-timestamp', sign: (body) => discord.sign(body, { privateKey: ed25519.privateKey }) },
    {
      name: 'sendgrid',
      provider: sendgrid,
      signature: 'x-twilio-email-event-webhook-signature',
      timestamp: 'x-twilio-email-event-webhook-timestamp',
      sign: (body) => sendgrid.sign(body, { privateKey: p256.privateKey })
    },
    {
      name: 'hubspot',
      provider: hubspot,
      signature: 'x-hubspot-signature-v3',
      timestamp: 'x-hubspot-request-timestamp',
      sign: (body) => hubspot.sign(body, { url: 'https://example.com/v1/events' })
    },
    { name: 'twilio', provider: twilio, signature: 'x-twilio-signature', sign: (body) => twilio.sign(body, { url: 'https://example.com/v1/events' }) }
  ]
}

for (const { name, provider, signature, timestamp, sign: signWith } of cases) {
  t.test(`${name}: checkHeaders refuses bad headers before any body, and passes well-formed ones`, async (t) => {
    const check = provider.checkHeaders
    t.type(check, 'function', 'the preset implements the pre-check')
    if (check === undefined) return
    const now = Date.now()
    const sign = signWith ?? ((body: string) => provider.sign(body))
    const good: IncomingHeaders = sign(BODY)
    t.equal(check(good, now), undefined, 'signed headers pass')
    const other: IncomingHeaders = sign('{"another":"body"}')
    t.equal(check(other, now), undefined, 'well-formed headers signed over another body pass (verify refuses them)')
    t.match(check(without(good, signature), now), { ok: false, reason: 'missing_header' }, 'no signature')
    t.match(check({ ...good, [signature]: [String(good[signature]), String(good[signature])] }, now), { ok: false, reason: 'duplicate_header' }, 'two signatures')
    t.match(check({ ...good, [signature]: 'not a signature' }, now), { ok: false }, 'a malformed signature')
    if (timestamp !== undefined) {
      t.match(check(without(good, timestamp), now), { ok: false, reason: 'missing_header' }, 'no timestamp')
      t.match(check({ ...good, [timestamp]: '1.7e9' }, now), { ok: false, reason: 'malformed_header' }, 'a malformed timestamp')
      t.match(check(good, now + 3_600_000), { ok: false, reason: 'timestamp_too_old' }, 'a stale timestamp')
    }
    for (const headers of [without(good, signature), { ...good, [signature]: 'not a signature' }]) {
      t.same(check(headers, now), provider.verify({ headers, rawBody: Buffer.from(BODY), target: { method: 'POST', url: '/v1/events' } }, ['s3cret'], now), 'the same failure as verify')
    }
  })
}

t.test('stripe: a timestamp out of the window is refused before the body', async (t) => {
  const provider = providers.stripe({ secret: 's3cret' })
  const headers = provider.sign(BODY, { timestampSec: Math.floor(Date.now() / 1000) - 600 })
  t.match(provider.checkHeaders?.(headers, Date.now()), { ok: false, reason: 'timestamp_too_old' })
})

function without (headers: IncomingHeaders, name: string): IncomingHeaders {
  const copy = { ...headers }
  delete copy[name]
  return copy
}
