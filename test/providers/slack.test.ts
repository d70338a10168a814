import t from 'tap'
import { createHash } from 'node:crypto'
import { providers } from '../../providers/index.js'
import { SLACK_DELIVERY } from '../../providers/slack.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Published vector (Slack docs).
const SECRET = '8f742231b10e8888abcd99yyyzzz85a5'
const TS = 1531420618
const NOW = TS * 1000
const BODY = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c')
const SIG = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503'
const headers = { 'x-slack-signature': SIG, 'x-slack-request-timestamp': String(TS) }
const p = providers.slack({ secret: SECRET })
const ok = { ok: true as const, secretIndex: 0, timestampMs: NOW }

function form (body: Buffer): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body.toString()))
}

t.test('published vector; facts', async (t) => {
  t.equal(p.name, 'slack')
  t.same(p.contentTypes, ['json', 'form'])
  t.equal(providers.slack.delivery, SLACK_DELIVERY)
  t.equal(SLACK_DELIVERY.responseDeadlineMs, 3000)
  t.same(p.verify({ headers, rawBody: BODY }, [SECRET], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(BODY, { timestampSec: TS, contentType: 'form' }), {
    'content-type': 'application/x-www-form-urlencoded',
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...headers
  })
  t.equal(p.sign(BODY.toString(), { timestampSec: TS })['x-slack-signature'], SIG, 'a string body is signed as UTF-8')
  t.same(p.eventHeaders, ['x-slack-request-timestamp', 'x-slack-retry-num', 'x-slack-retry-reason'])
})

t.test('failure reasons and tolerance both ways', async (t) => {
  t.same(p.verify({ headers: { 'x-slack-request-timestamp': String(TS) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'x-slack-signature' })
  t.same(p.verify({ headers: { 'x-slack-signature': SIG }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'x-slack-request-timestamp' })
  t.match(p.verify({ headers: { ...headers, 'x-slack-signature': [SIG, SIG] }, rawBody: BODY }, [SECRET], NOW), { reason: 'duplicate_header' })
  t.match(p.verify({ headers: { ...headers, 'x-slack-request-timestamp': [String(TS), String(TS)] }, rawBody: BODY }, [SECRET], NOW), { reason: 'duplicate_header' })
  t.same(p.verify({ headers: { ...headers, 'x-slack-signature': SIG.slice(3) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'x-slack-signature is not version=hex' })
  t.same(p.verify({ headers: { ...headers, 'x-slack-signature': SIG.replace('v0=', 'v1=') }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'unsupported_version', detail: 'x-slack-signature version v1' })
  t.same(p.verify({ headers: { ...headers, 'x-slack-signature': 'v0=' }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  for (const ts of [`${TS}.0`, `${TS}000`, '1.5e9', `-${TS}`]) {
    t.match(p.verify({ headers: { ...headers, 'x-slack-request-timestamp': ts }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'malformed_header' }, ts)
  }
  t.ok(p.verify({ headers, rawBody: BODY }, [SECRET], NOW + 300_000).ok)
  t.ok(p.verify({ headers, rawBody: BODY }, [SECRET], NOW - 300_000).ok)
  t.same(p.verify({ headers, rawBody: BODY }, [SECRET], NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(p.verify({ headers, rawBody: BODY }, [SECRET], NOW - 301_000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  t.ok(providers.slack({ secret: SECRET, toleranceMs: 3_600_000 }).verify({ headers, rawBody: BODY }, [SECRET], NOW + 3_000_000).ok)
  t.same(p.verify({ headers: { ...headers, 'x-slack-request-timestamp': String(TS + 1) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'no_match' }, 'the timestamp is signed')
})

t.test('rotation', async (t) => {
  const c = countingSecrets(['x', 'y', SECRET])
  t.same(p.verify({ headers, rawBody: BODY }, c.secrets, NOW), { ok: true, secretIndex: 2, timestampMs: NOW })
  t.same([...c.reads].sort(), [0, 1, 2])
  t.same(p.verify({ headers, rawBody: BODY }, ['', SECRET], NOW), { ok: true, secretIndex: 1, timestampMs: NOW })
})

t.test('slash commands: trigger_id, else a digest of timestamp and body; an empty 200, enqueued', async (t) => {
  const fields = form(BODY)
  const req = { headers, rawBody: BODY }
  t.same(p.toEvent({ kind: 'form', value: fields }, req, ok), { ok: true, id: fields.trigger_id, type: 'slash_command' })
  t.same(p.respond?.({ kind: 'form', value: fields }, req), { statusCode: 200, body: undefined, enqueue: true })
  const noTrigger = { ...fields }
  delete noTrigger.trigger_id
  const digest = createHash('sha256').update(`${TS}:`).update(BODY).digest('hex')
  t.same(p.toEvent({ kind: 'form', value: noTrigger }, req, ok), { ok: true, id: digest, type: 'slash_command' })
  t.same(p.respond?.({ kind: 'form', value: { ssl_check: '1', token: 'x' } }, req), { statusCode: 200, body: undefined, enqueue: false }, 'the certificate check is not an event')
})

t.test('digest ids: no two different (timestamp, body) pairs share one', async (t) => {
  // The verified timestamp is digits only, so the first ':' always ends it.
  const idOf = (ts: string, body: string): string => (p.toEvent({ kind: 'form', value: {} }, { headers: { ...headers, 'x-slack-request-timestamp': ts }, rawBody: Buffer.from(body) }, ok) as { id: string }).id
  const pairs: Array<[string, string]> = [['1', '2a=b'], ['12', 'a=b'], ['1', '2:a=b'], ['12', ':a=b'], ['1', ':2a=b'], ['12', '']]
  const ids = pairs.map(([ts, body]) => idOf(ts, body))
  t.equal(new Set(ids).size, pairs.length, JSON.stringify(ids))
  t.equal(idOf('1', '2a=b'), idOf('1', '2a=b'), 'deterministic')
})

t.test('interactivity: the payload field, its trigger_id and type; an empty 200', async (t) => {
  const action = { type: 'block_actions', trigger_id: '1234.5678.abc', user: { id: 'U1' }, actions: [{ action_id: 'approve' }] }
  const body = Buffer.from(new URLSearchParams({ payload: JSON.stringify(action) }).toString())
  const signed = p.sign(body, { contentType: 'form' })
  t.ok(p.verify({ headers: signed, rawBody: body }, [SECRET], Date.now()).ok)
  const req = { headers: signed, rawBody: body }
  t.same(p.toEvent({ kind: 'form', value: form(body) }, req, ok), { ok: true, id: '1234.5678.abc', type: 'block_actions', payload: action })
  t.same(p.respond?.({ kind: 'form', value: form(body) }, req), { statusCode: 200, body: undefined, enqueue: true })
  const { trigger_id: _, ...noTrigger } = action
  const event = p.toEvent({ kind: 'form', value: { payload: JSON.stringify(noTrigger) } }, req, ok)
  t.match(event, { ok: true, id: /^[0-9a-f]{64}$/, type: 'block_actions' })
  t.match(p.toEvent({ kind: 'form', value: { payload: 'not json' } }, req, ok), { ok: false, reason: 'invalid_json' })
  t.match(p.toEvent({ kind: 'form', value: { payload: '{"constructor":{"prototype":{}}}' } }, req, ok), { ok: false, reason: 'forbidden_key' })
})

t.test('Events API: event_id, inner event type; url_verification answered with its challenge and not enqueued', async (t) => {
  const envelope = { type: 'event_callback', event_id: 'Ev08MFMKH6', event: { type: 'app_mention', text: 'hi' } }
  const body = Buffer.from(JSON.stringify(envelope))
  const signed = p.sign(body)
  t.equal(signed['content-type'], 'application/json')
  const req = { headers: signed, rawBody: body }
  t.same(p.toEvent({ kind: 'json', value: envelope }, req, ok), { ok: true, id: 'Ev08MFMKH6', type: 'app_mention' })
  t.equal(p.respond?.({ kind: 'json', value: envelope }, req), undefined, 'events get the usual 202')
  t.match(p.toEvent({ kind: 'json', value: { type: 'event_callback', event: 'x' } }, req, ok), { ok: true, id: /^[0-9a-f]{64}$/, type: 'event_callback' })
  t.match(p.toEvent({ kind: 'json', value: { type: 'app_rate_limited' } }, req, ok), { ok: true, type: 'app_rate_limited' })
  const challenge = { type: 'url_verification', token: 't', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' }
  t.same(p.respond?.({ kind: 'json', value: challenge }, req), { statusCode: 200, body: { challenge: challenge.challenge }, enqueue: false })
  t.same(p.respond?.({ kind: 'json', value: { type: 'url_verification', challenge: 5 } }, req), { statusCode: 200, body: undefined, enqueue: false })
})

t.test('options and sign()', async (t) => {
  throwsOption(t, () => providers.slack({ secret: SECRET, toleranceMs: -1 }), /slack.toleranceMs/)
  throwsOption(t, () => providers.slack({ secret: null as never }), /slack.secret/)
  throwsOption(t, () => providers.slack({ secret: SECRET, signingSecret: 'x' } as never), /Unknown option `signingSecret`/)
  t.equal(providers.slack({ secret: SECRET, bodyLimit: 9 }).bodyLimit, 9)
  t.throws(() => providers.slack({ secret: () => SECRET }).sign(BODY, { secret: '' }), /non-empty secret/)
})

t.test('hostile input never throws', async (t) => {
  const reasons = fuzz(p, ['x-slack-signature', 'x-slack-request-timestamp'], 4000,
    () => ({ ...headers, 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)) }))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
})
