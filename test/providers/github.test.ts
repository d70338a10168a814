import t from 'tap'
import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods'
import { providers } from '../../providers/index.js'
import { eventId, GITHUB_BODY_LIMIT, GITHUB_DELIVERY } from '../../providers/github.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

// Published vector (GitHub docs).
const SECRET = "It's a Secret to Everybody"
const BODY = Buffer.from('Hello, World!')
const SIG = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
const NOW = Date.now()
const p = providers.github({ secret: SECRET })
const ok = { ok: true as const, secretIndex: 0 }

function req (sig: string | string[], rawBody = BODY, extra: Record<string, string> = {}): { headers: Record<string, string | string[]>, rawBody: Buffer } {
  return { headers: { 'x-hub-signature-256': sig, ...extra }, rawBody }
}

t.test('published vector; facts; defaults', async (t) => {
  t.equal(p.name, 'github')
  t.same(p.contentTypes, ['json', 'form'])
  t.equal(p.bodyLimit, GITHUB_BODY_LIMIT)
  t.ok(GITHUB_BODY_LIMIT > 25 * 1000 * 1000, 'above GitHub\'s 25 MB cap')
  t.equal(providers.github.delivery, GITHUB_DELIVERY)
  t.equal(GITHUB_DELIVERY.retriesForMs, 0, 'GitHub never redelivers by itself')
  t.same(p.verify(req(SIG), [SECRET], NOW), { ok: true, secretIndex: 0 })
  t.equal(p.sign(BODY)['x-hub-signature-256'], SIG)
  t.notOk(p.eventHeaders?.some((h) => h.startsWith('x-hub-signature')), 'no signature header is copied')
})

t.test('failure reasons', async (t) => {
  t.same(p.verify({ headers: {}, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'x-hub-signature-256' })
  t.same(p.verify({ headers: { 'x-hub-signature': 'sha1=' + '0'.repeat(40) }, rawBody: BODY }, [SECRET], NOW), { ok: false, reason: 'missing_header', detail: 'x-hub-signature-256' },
    'the legacy SHA-1 header alone is not trusted')
  t.match(p.verify(req([SIG, SIG]), [SECRET], NOW), { ok: false, reason: 'duplicate_header' })
  t.same(p.verify(req(SIG.slice(7)), [SECRET], NOW), { ok: false, reason: 'malformed_header', detail: 'x-hub-signature-256 is not algorithm=hex' })
  t.same(p.verify(req('sha1=' + '0'.repeat(40)), [SECRET], NOW), { ok: false, reason: 'unsupported_version', detail: 'x-hub-signature-256 algorithm sha1' })
  t.same(p.verify(req('sha256='), [SECRET], NOW), { ok: false, reason: 'no_match', detail: 'signature is not 32-byte hex' })
  t.same(p.verify(req(SIG, Buffer.from('Hello, World?')), [SECRET], NOW), { ok: false, reason: 'no_match' })
  t.same(p.verify(req(SIG), ['wrong'], NOW), { ok: false, reason: 'no_match' })
  t.ok(p.verify(req(SIG.toUpperCase().replace('SHA256=', 'sha256=')), [SECRET], NOW).ok, 'hex case does not matter')
})

t.test('rotation', async (t) => {
  const c = countingSecrets(['a', SECRET, 'c'])
  t.same(p.verify(req(SIG), c.secrets, NOW), { ok: true, secretIndex: 1 })
  t.same([...c.reads].sort(), [0, 1, 2])
  t.same(p.verify(req(SIG), ['', SECRET], NOW), { ok: true, secretIndex: 1 })
})

t.test('toEvent: JSON and form bodies, namespaced id, type from X-GitHub-Event, replay key', async (t) => {
  const event = { action: 'opened', number: 7 }
  const json = Buffer.from(JSON.stringify(event))
  const headers = p.sign(json, { event: 'pull_request', id: '72d3162e-cc78-11e3-81ab-4c9367dc0958', hookId: '42' })
  t.ok(p.verify({ headers, rawBody: json }, [SECRET], NOW).ok)
  const fromJson = p.toEvent({ kind: 'json', value: event }, { headers, rawBody: json }, ok)
  t.match(fromJson, { ok: true, id: '42:72d3162e-cc78-11e3-81ab-4c9367dc0958', type: 'pull_request', payload: event, replayKey: /^[0-9a-f]{64}$/ })

  const form = Buffer.from(new URLSearchParams({ payload: JSON.stringify(event) }).toString())
  const formHeaders = p.sign(form, { contentType: 'form', event: 'pull_request', id: 'guid-2', hookId: '42' })
  t.equal(formHeaders['content-type'], 'application/x-www-form-urlencoded')
  t.ok(p.verify({ headers: formHeaders, rawBody: form }, [SECRET], NOW).ok, 'the HMAC covers the raw form body')
  t.match(p.toEvent({ kind: 'form', value: { payload: JSON.stringify(event) } }, { headers: formHeaders, rawBody: form }, ok),
    { ok: true, id: '42:guid-2', type: 'pull_request', payload: event })
  t.same(p.toEvent({ kind: 'form', value: { other: 'x' } }, { headers: formHeaders, rawBody: form }, ok), { ok: false, reason: 'invalid_json', detail: 'form body has no payload field' })
  t.match(p.toEvent({ kind: 'form', value: { payload: '{' } }, { headers: formHeaders, rawBody: form }, ok), { ok: false, reason: 'invalid_json' })
  t.match(p.toEvent({ kind: 'form', value: { payload: '[1]' } }, { headers: formHeaders, rawBody: form }, ok), { ok: false, reason: 'not_an_object' })
  t.match(p.toEvent({ kind: 'form', value: { payload: '{"__proto__":{"x":1}}' } }, { headers: formHeaders, rawBody: form }, ok), { ok: false, reason: 'forbidden_key' })

  const resent = p.toEvent({ kind: 'json', value: event }, { headers: { ...headers, 'x-github-delivery': 'fresh-guid' }, rawBody: json }, ok)
  t.match(resent, { ok: true, id: '42:fresh-guid' })
  t.equal((resent as { replayKey: string }).replayKey, (fromJson as { replayKey: string }).replayKey, 'a resent capture keeps its replay key')
  const otherHook = p.toEvent({ kind: 'json', value: event }, { headers: { ...headers, 'x-github-hook-id': '43' }, rawBody: json }, ok)
  t.match(otherHook, { id: '43:72d3162e-cc78-11e3-81ab-4c9367dc0958' }, 'the same delivery GUID on another hook is another event')

  const noHook = { ...headers } as Record<string, string>
  delete noHook['x-github-hook-id']
  t.match(p.toEvent({ kind: 'json', value: event }, { headers: noHook, rawBody: json }, ok), { ok: true, id: '72d3162e-cc78-11e3-81ab-4c9367dc0958' })
  const noDelivery = { ...headers } as Record<string, string>
  delete noDelivery['x-github-delivery']
  t.same(p.toEvent({ kind: 'json', value: event }, { headers: noDelivery, rawBody: json }, ok), { ok: false, reason: 'missing_id', detail: 'x-github-delivery' })
  t.match(p.toEvent({ kind: 'json', value: event }, { headers: { 'x-github-delivery': 'g' }, rawBody: json }, ok), { ok: true, id: 'g', type: '' })
})

t.test('replay key: the signed body alone, whatever the unsigned headers say', async (t) => {
  const json = Buffer.from('{"action":"opened"}')
  const headers = p.sign(json, { event: 'issues', id: 'guid-1', hookId: '42' })
  const key = (h: Record<string, string>, body = json): unknown => (p.toEvent({ kind: 'json', value: {} }, { headers: h, rawBody: body }, ok) as { replayKey?: string }).replayKey
  const original = key(headers)
  t.match(original, /^[0-9a-f]{64}$/)
  const { 'x-github-event': _event, ...noEvent } = headers
  const { 'x-hub-signature-256': _sig, ...noSignature } = headers
  for (const [label, h] of Object.entries({
    'another event': { ...headers, 'x-github-event': 'Pull_Request' },
    'no event': noEvent,
    'another hook and delivery': { ...headers, 'x-github-hook-id': '1:2', 'x-github-delivery': 'x' },
    'no signature header': noSignature
  })) t.equal(key(h), original, label)
  t.not(key(headers, Buffer.from('{"action":"closed"}')), original, 'another body is another key')
  const shopifyKey = providers.shopify({ secret: 's' }).toEvent({ kind: 'json', value: {} }, { headers: { 'x-shopify-webhook-id': 'w' }, rawBody: json }, ok)
  t.not((shopifyKey as { replayKey: string }).replayKey, original, 'the same bytes from another preset are another key')
})

t.test('ids: no two different (hook, delivery) pairs give one id; ordinary ids read hook:delivery', async (t) => {
  t.equal(eventId('42', '72d3162e-cc78-11e3-81ab-4c9367dc0958'), '42:72d3162e-cc78-11e3-81ab-4c9367dc0958')
  t.equal(eventId(undefined, '72d3162e-cc78-11e3-81ab-4c9367dc0958'), '72d3162e-cc78-11e3-81ab-4c9367dc0958')
  t.not(eventId('1', '2:3'), eventId('1:2', '3'), 'the example: hook 1 + delivery 2:3 against hook 1:2 + delivery 3')
  t.not(eventId('1', '2'), eventId(undefined, '1:2'), 'a delivery without a hook never looks like hook:delivery')
  // Every pair over an alphabet of the troublesome characters, up to 3 characters a part.
  const parts = ['']
  for (let len = 1; len <= 3; len++) {
    for (const prefix of parts.filter((x) => x.length === len - 1)) for (const c of ['1', ':', '%', '3', 'A']) parts.push(prefix + c)
  }
  const hooks: Array<string | undefined> = [undefined, ...parts.filter((x) => x !== '')]
  const seen = new Map<string, string>()
  for (const hook of hooks) {
    for (const delivery of parts) {
      if (delivery === '') continue
      const id = eventId(hook, delivery)
      const pair = JSON.stringify([hook, delivery])
      const before = seen.get(id)
      if (before !== undefined) t.fail(`${pair} and ${before} share ${id}`)
      seen.set(id, pair)
    }
  }
  t.equal(seen.size, hooks.length * (parts.length - 1), `${seen.size} pairs, as many ids`)
  const headers = p.sign('{}', { id: '2:3', hookId: '1' })
  t.match(p.toEvent({ kind: 'json', value: {} }, { headers: { ...headers, 'x-github-hook-id': '1:2', 'x-github-delivery': '3' }, rawBody: Buffer.from('{}') }, ok),
    { ok: true, id: '1%3A2:3' }, 'toEvent composes with it')
})

t.test('sign(): the headers GitHub sends', async (t) => {
  const headers = p.sign('{}')
  t.same(Object.keys(headers).sort(), ['content-type', 'user-agent', 'x-github-delivery', 'x-github-event', 'x-github-hook-id',
    'x-github-hook-installation-target-id', 'x-github-hook-installation-target-type', 'x-hub-signature', 'x-hub-signature-256'])
  t.match(headers, { 'content-type': 'application/json', 'user-agent': /^GitHub-Hookshot\//, 'x-github-event': 'push', 'x-github-delivery': /^[0-9a-f-]{36}$/, 'x-hub-signature': /^sha1=[0-9a-f]{40}$/ })
  t.throws(() => providers.github({ secret: () => 'x' }).sign('{}', { secret: '' }), /non-empty secret/)
})

t.test('interoperability with @octokit/webhooks-methods', async (t) => {
  const payload = JSON.stringify({ zen: 'Design for failure.', hook_id: 1, emoji: '🚀' })
  const theirs = await octokitSign(SECRET, payload)
  t.ok(p.verify(req(theirs, Buffer.from(payload)), [SECRET], NOW).ok, 'octokit signs, we verify')
  const ours = p.sign(payload)
  t.equal(await octokitVerify(SECRET, payload, ours['x-hub-signature-256']), true, 'we sign, octokit verifies')
  t.equal(await octokitVerify('other', payload, ours['x-hub-signature-256']), false)
})

t.test('options', async (t) => {
  t.equal(providers.github({ secret: 's', bodyLimit: 1024 }).bodyLimit, 1024)
  throwsOption(t, () => providers.github({ secret: 's', bodyLimit: 1.5 }), /github.bodyLimit/)
  throwsOption(t, () => providers.github({ secret: 5 as never }), /Expected `github.secret`/)
  throwsOption(t, () => providers.github({ secret: 's', events: [] } as never), /Unknown option `events`/)
})

t.test('hostile input never throws', async (t) => {
  const names = ['x-hub-signature-256', 'x-github-event', 'x-github-delivery', 'x-github-hook-id']
  const reasons = fuzz(p, names, 4000, () => p.sign('{}'))
  t.ok(reasons.size >= 3, [...reasons.keys()].join(', '))
  t.notOk(reasons.has('ok'))
  for (let i = 0; i < 500; i++) {
    p.toEvent({ kind: 'form', value: { payload: Math.random().toString(36) } }, { headers: { 'x-hub-signature-256': 'sha256=zz' }, rawBody: BODY }, ok)
  }
})
