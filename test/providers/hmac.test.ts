import t from 'tap'
import { createHmac } from 'node:crypto'
import { providers } from '../../providers/index.js'
import { HMAC_DEFAULTS, HMAC_DELIVERY, hmac } from '../../providers/hmac.js'
import { countingSecrets, fuzz, throwsOption } from './fuzz.js'

const NOW = 1_614_265_330_000
const body = Buffer.from('{"event_id":"evt_1","type":"thing.created"}')

function b64 (secret: string, content: string | Buffer, algorithm = 'sha256'): string {
  return createHmac(algorithm, secret).update(content).digest('base64')
}

t.test('defaults: x-provider-signature, HMAC-SHA256, base64 over the raw body, id from event_id', async (t) => {
  const p = providers.hmac({ secret: 's3cret' })
  t.equal(p.name, 'hmac')
  t.same(p.contentTypes, ['json'])
  t.equal(p.bodyLimit, undefined)
  t.same(p.eventHeaders, [])
  t.equal(providers.hmac.delivery, HMAC_DELIVERY)
  t.same(p.delivery, HMAC_DELIVERY)
  t.equal(HMAC_DEFAULTS.header, 'x-provider-signature')
  const headers = { 'x-provider-signature': b64('s3cret', body) }
  t.same(p.verify({ headers, rawBody: body }, ['s3cret'], NOW), { ok: true, secretIndex: 0 })
  t.same(p.toEvent({ kind: 'json', value: { event_id: 'evt_1', type: 'thing.created' } }, { headers, rawBody: body }, { ok: true, secretIndex: 0 }),
    { ok: true, id: 'evt_1', type: 'thing.created' })
})

t.test('documented vectors through the generic knobs', async (t) => {
  const github = hmac({ secret: 'x', header: 'x-hub-signature-256', encoding: 'hex', signaturePrefix: 'sha256=' })
  const ghBody = Buffer.from('Hello, World!')
  const ghSig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
  t.same(github.verify({ headers: { 'x-hub-signature-256': ghSig }, rawBody: ghBody }, ["It's a Secret to Everybody"], NOW), { ok: true, secretIndex: 0 }, 'GitHub published vector')
  t.equal(github.sign(ghBody, { secret: "It's a Secret to Everybody" })['x-hub-signature-256'], ghSig)

  const shopify = hmac({ secret: 'shpss_test_secret', header: 'x-shopify-hmac-sha256' })
  const shBody = Buffer.from('{"id":820982911946154508,"email":"jon@example.com"}')
  t.same(shopify.verify({ headers: { 'x-shopify-hmac-sha256': 'LnwdZPLBbdjkBwPD/lDL1/rYEGby/GHPtL1aAH6Dxjc=' }, rawBody: shBody }, ['shpss_test_secret'], NOW),
    { ok: true, secretIndex: 0 }, 'Shopify computed vector')
  t.equal(shopify.sign(shBody)['x-shopify-hmac-sha256'], 'LnwdZPLBbdjkBwPD/lDL1/rYEGby/GHPtL1aAH6Dxjc=')
})

t.test('algorithms and encodings', async (t) => {
  for (const algorithm of ['sha1', 'sha256', 'sha512'] as const) {
    for (const encoding of ['base64', 'hex'] as const) {
      const p = hmac({ secret: 'k', algorithm, encoding })
      const expected = createHmac(algorithm, 'k').update(body).digest(encoding)
      t.equal(p.sign(body)['x-provider-signature'], expected, `${algorithm}/${encoding} sign`)
      t.ok(p.verify({ headers: { 'x-provider-signature': expected }, rawBody: body }, ['k'], NOW).ok, `${algorithm}/${encoding} verify`)
      const other = algorithm === 'sha1' ? 'sha256' : 'sha1'
      t.same(p.verify({ headers: { 'x-provider-signature': createHmac(other, 'k').update(body).digest(encoding) }, rawBody: body }, ['k'], NOW),
        { ok: false, reason: 'no_match', detail: `signature is not ${{ sha1: 20, sha256: 32, sha512: 64 }[algorithm]}-byte ${encoding}` })
    }
  }
})

t.test('verifies the exact raw bytes, including bytes that are not UTF-8', async (t) => {
  const p = hmac({ secret: 'k' })
  const raw = Buffer.from([0x7b, 0xff, 0xfe, 0x80, 0x7d])
  const headers = p.sign(raw)
  t.ok(p.verify({ headers, rawBody: raw }, ['k'], NOW).ok)
  t.same(p.verify({ headers, rawBody: Buffer.from(raw.toString('utf8')) }, ['k'], NOW).ok, false, 'a decoded-and-re-encoded body no longer verifies')
  t.equal(headers['x-provider-signature'], b64('k', raw))
})

t.test('rotation: every secret is tried, the first match is reported', async (t) => {
  const p = hmac({ secret: ['old', 'new'] })
  const headers = { 'x-provider-signature': b64('new', body) }
  const c = countingSecrets(['a', 'new', 'b', 'c'])
  t.same(p.verify({ headers, rawBody: body }, c.secrets, NOW), { ok: true, secretIndex: 1 })
  t.same([...c.reads].sort(), [0, 1, 2, 3], 'secrets after the match were tried too')
  const first = countingSecrets(['new', 'x', 'new'])
  t.same(p.verify({ headers, rawBody: body }, first.secrets, NOW), { ok: true, secretIndex: 0 })
  t.same([...first.reads].sort(), [0, 1, 2])
  const none = countingSecrets(['a', 'b', 'c'])
  t.same(p.verify({ headers, rawBody: body }, none.secrets, NOW), { ok: false, reason: 'no_match' })
  t.same([...none.reads].sort(), [0, 1, 2])
  t.same(p.verify({ headers, rawBody: body }, [], NOW), { ok: false, reason: 'no_match' }, 'no secrets never matches')
  t.same(p.verify({ headers, rawBody: body }, ['', 'new'], NOW), { ok: true, secretIndex: 1 }, 'an empty resolver secret is skipped')
  t.equal(p.sign(body)['x-provider-signature'], b64('old', body), 'sign() uses the first secret of a list')
})

t.test('the key cache stays correct past its bound (per-tenant resolver secrets)', async (t) => {
  const p = hmac({ secret: () => 'x' })
  for (let i = 0; i < 600; i++) {
    const secret = `tenant-${i % 300}`
    const headers = { 'x-provider-signature': b64(secret, body) }
    const r = p.verify({ headers, rawBody: body }, [secret], NOW)
    if (!r.ok) t.fail(`tenant ${i} failed`)
  }
  t.throws(() => p.sign(body), /needs \{ secret \}/, 'a resolver secret needs an explicit sign secret')
  t.ok(p.sign(body, { secret: 'tenant-1' })['x-provider-signature'])
  t.throws(() => p.sign(body, { secret: '' }), /non-empty secret/)
})

t.test('signature prefix', async (t) => {
  const p = hmac({ secret: 'k', signaturePrefix: 'sha256=', encoding: 'hex' })
  const sig = createHmac('sha256', 'k').update(body).digest('hex')
  t.ok(p.verify({ headers: { 'x-provider-signature': `sha256=${sig}` }, rawBody: body }, ['k'], NOW).ok)
  t.ok(p.verify({ headers: { 'x-provider-signature': `sha256=${sig.toUpperCase()}` }, rawBody: body }, ['k'], NOW).ok, 'hex case does not matter')
  t.same(p.verify({ headers: { 'x-provider-signature': sig }, rawBody: body }, ['k'], NOW), { ok: false, reason: 'malformed_header', detail: 'x-provider-signature lacks its prefix' })
  t.match(p.verify({ headers: { 'x-provider-signature': `sha256=${sig}00` }, rawBody: body }, ['k'], NOW), { ok: false, reason: 'no_match' })
})

t.test('header lookup: missing, duplicate, case-insensitive', async (t) => {
  const p = hmac({ secret: 'k' })
  const sig = b64('k', body)
  t.same(p.verify({ headers: {}, rawBody: body }, ['k'], NOW), { ok: false, reason: 'missing_header', detail: 'x-provider-signature' })
  t.match(p.verify({ headers: { 'x-provider-signature': '' }, rawBody: body }, ['k'], NOW), { reason: 'missing_header' })
  t.match(p.verify({ headers: { 'x-provider-signature': [] }, rawBody: body }, ['k'], NOW), { reason: 'missing_header' })
  t.match(p.verify({ headers: { 'x-provider-signature': [sig, sig] }, rawBody: body }, ['k'], NOW), { reason: 'duplicate_header' })
  t.ok(p.verify({ headers: { 'x-provider-signature': [sig] }, rawBody: body }, ['k'], NOW).ok, 'a one-element array is one header')
  t.ok(p.verify({ headers: { 'X-Provider-Signature': sig }, rawBody: body }, ['k'], NOW).ok, 'mixed-case names are found')
  t.match(p.verify({ headers: { 'X-Provider-Signature': sig, 'X-PROVIDER-SIGNATURE': sig }, rawBody: body }, ['k'], NOW), { reason: 'duplicate_header' })
})

t.test('strict base64: junk, missing padding and non-canonical forms do not match', async (t) => {
  const p = hmac({ secret: 'k' })
  const sig = b64('k', body)
  for (const bad of [sig.replace(/=$/, ''), `${sig.slice(0, -2)}!=`, ` ${sig.slice(1)}`, sig.replace(/.=$/, (m) => String.fromCharCode(m.charCodeAt(0) + 1) + '='), 'AAAA']) {
    t.match(p.verify({ headers: { 'x-provider-signature': bad }, rawBody: body }, ['k'], NOW), { ok: false, reason: 'no_match' }, JSON.stringify(bad))
  }
})

t.test('timestamp header: signed content, tolerance both ways, integer seconds only', async (t) => {
  const p = hmac({ secret: 'k', timestampHeader: 'x-timestamp' })
  const ts = String(NOW / 1000)
  const sig = b64('k', `${ts}.${body.toString()}`)
  const headers = { 'x-provider-signature': sig, 'x-timestamp': ts }
  t.same(p.verify({ headers, rawBody: body }, ['k'], NOW), { ok: true, secretIndex: 0, timestampMs: NOW })
  t.same(p.sign(body, { timestampSec: NOW / 1000 }), { 'content-type': 'application/json', 'x-timestamp': ts, 'x-provider-signature': sig })
  t.same(p.eventHeaders, ['x-timestamp'])
  t.ok(p.verify({ headers, rawBody: body }, ['k'], NOW + 300_000).ok, 'exactly at the tolerance (old side)')
  t.ok(p.verify({ headers, rawBody: body }, ['k'], NOW - 300_000).ok, 'exactly at the tolerance (new side)')
  t.same(p.verify({ headers, rawBody: body }, ['k'], NOW + 301_000), { ok: false, reason: 'timestamp_too_old', detail: '301 s old' })
  t.same(p.verify({ headers, rawBody: body }, ['k'], NOW - 301_000), { ok: false, reason: 'timestamp_too_new', detail: '301 s ahead' })
  t.match(p.verify({ headers: { 'x-provider-signature': sig }, rawBody: body }, ['k'], NOW), { reason: 'missing_header', detail: 'x-timestamp' })
  t.match(p.verify({ headers: { ...headers, 'x-timestamp': [ts, ts] }, rawBody: body }, ['k'], NOW), { reason: 'duplicate_header' })
  for (const bad of ['1.614265330e9', '1614265330.0', '-1614265330', '+1614265330', ' 1614265330', '1614265330000', '0x603', 'NaN', '']) {
    t.match(p.verify({ headers: { ...headers, 'x-timestamp': bad }, rawBody: body }, ['k'], NOW), { ok: false, reason: bad === '' ? 'missing_header' : 'malformed_header' }, JSON.stringify(bad))
  }
  t.same(p.verify({ headers: { ...headers, 'x-timestamp': String(NOW / 1000 + 1) }, rawBody: body }, ['k'], NOW), { ok: false, reason: 'no_match' }, 'the timestamp is signed')

  const wide = hmac({ secret: 'k', timestampHeader: 'x-timestamp', toleranceMs: 600_000 })
  t.ok(wide.verify({ headers, rawBody: body }, ['k'], NOW + 599_000).ok, 'tolerance is configurable')
  const unsigned = hmac({ secret: 'k', timestampHeader: 'x-timestamp', signedContent: '{body}' })
  t.ok(unsigned.verify({ headers: { 'x-provider-signature': b64('k', body), 'x-timestamp': ts }, rawBody: body }, ['k'], NOW).ok, '{body} signs the body only')
  t.match(unsigned.verify({ headers: { 'x-provider-signature': b64('k', body), 'x-timestamp': ts }, rawBody: body }, ['k'], NOW + 400_000), { reason: 'timestamp_too_old' }, 'and still checks the window')
})

t.test('toEvent: ids and types from body fields or headers; replay keys for header ids', async (t) => {
  const p = hmac({ secret: 'k' })
  const req = { headers: {}, rawBody: body }
  const ok = { ok: true as const, secretIndex: 0 }
  t.same(p.toEvent({ kind: 'json', value: { event_id: 42, type: 'a' } }, req, ok), { ok: true, id: '42', type: 'a' }, 'a numeric id becomes its decimal string')
  t.same(p.toEvent({ kind: 'json', value: { event_id: 4.2 } }, req, ok), { ok: false, reason: 'missing_id', detail: 'event_id' })
  t.same(p.toEvent({ kind: 'json', value: { event_id: '' } }, req, ok), { ok: false, reason: 'missing_id', detail: 'event_id' })
  t.same(p.toEvent({ kind: 'json', value: { event_id: 'e', type: 5 } }, req, ok), { ok: true, id: 'e', type: '' }, 'a non-string type is empty')

  const fields = hmac({ secret: 'k', idField: 'uuid', typeField: 'kind', contentTypes: ['json', 'form'] })
  t.same(fields.toEvent({ kind: 'form', value: { uuid: 'u1', kind: 'k1' } }, req, ok), { ok: true, id: 'u1', type: 'k1' })
  t.equal(fields.sign('uuid=u1', { contentType: 'form' })['content-type'], 'application/x-www-form-urlencoded')
  t.equal(fields.sign('{}', { contentType: 'application/vnd.acme+json' })['content-type'], 'application/vnd.acme+json')

  const byHeader = hmac({ secret: 'k', idHeader: 'x-event-id', typeHeader: 'x-event-type' })
  t.same(byHeader.eventHeaders, ['x-event-id', 'x-event-type'])
  const signed = byHeader.sign(body, { id: 'd-1', type: 'order.paid' })
  t.same(Object.keys(signed).sort(), ['content-type', 'x-event-id', 'x-event-type', 'x-provider-signature'])
  t.ok(byHeader.verify({ headers: signed, rawBody: body }, ['k'], NOW).ok)
  const first = byHeader.toEvent({ kind: 'json', value: {} }, { headers: signed, rawBody: body }, ok)
  t.match(first, { ok: true, id: 'd-1', type: 'order.paid', replayKey: /^[0-9a-f]{64}$/ })
  const resent = byHeader.toEvent({ kind: 'json', value: {} }, { headers: { ...signed, 'x-event-id': 'fresh' }, rawBody: body }, ok)
  t.match(resent, { ok: true, id: 'fresh' })
  t.equal((resent as { replayKey: string }).replayKey, (first as { replayKey: string }).replayKey, 'a capture resent with a fresh id has the same replay key')
  const retyped = byHeader.toEvent({ kind: 'json', value: {} }, { headers: { ...signed, 'x-event-type': 'other' }, rawBody: body }, ok)
  t.match(retyped, { type: 'other' })
  t.equal((retyped as { replayKey: string }).replayKey, (first as { replayKey: string }).replayKey, 'the (unsigned) type header is not part of the replay key')
  t.same(byHeader.toEvent({ kind: 'json', value: { event_id: 'ignored' } }, { headers: {}, rawBody: body }, ok), { ok: false, reason: 'missing_id', detail: 'x-event-id' })
  t.same(byHeader.toEvent({ kind: 'json', value: {} }, { headers: { 'x-event-id': 'd' }, rawBody: body }, ok),
    { ok: true, id: 'd', type: '', replayKey: (first as { replayKey: string }).replayKey }, 'only the signed body keys it, whatever the headers')
  const named = hmac({ secret: 'k', name: 'acme', idHeader: 'x-event-id' }).toEvent({ kind: 'json', value: {} }, { headers: signed, rawBody: body }, ok)
  t.not((named as { replayKey: string }).replayKey, (first as { replayKey: string }).replayKey, 'namespaced by the provider name')

  const timed = hmac({ secret: 'k', idHeader: 'x-event-id', timestampHeader: 'x-ts' })
  const at = (ts: string): unknown => (timed.toEvent({ kind: 'json', value: {} }, { headers: { 'x-event-id': 'd', 'x-ts': ts }, rawBody: body }, ok) as { replayKey: string }).replayKey
  t.not(at('1700000000'), at('1700000001'), 'a signed timestamp is part of the signed bytes, so of the key')
  const untimed = hmac({ secret: 'k', idHeader: 'x-event-id', timestampHeader: 'x-ts', signedContent: '{body}' })
  const atUnsigned = (ts: string): unknown => (untimed.toEvent({ kind: 'json', value: {} }, { headers: { 'x-event-id': 'd', 'x-ts': ts }, rawBody: body }, ok) as { replayKey: string }).replayKey
  t.equal(atUnsigned('1700000000'), atUnsigned('1700000001'), 'an unsigned timestamp is not')
  t.match(byHeader.sign(body), { 'x-event-id': /^[0-9a-f-]{36}$/, 'x-event-type': 'test.event' }, 'realistic defaults')
})

t.test('option validation: coded TypeErrors saying what was expected and what came', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /Expected `providers.hmac\(\) options` to be an object/],
    [{}, /Expected `hmac.secret` to be a non-empty string/],
    [{ secret: '' }, /hmac.secret/],
    [{ secret: [] }, /hmac.secret/],
    [{ secret: ['a', 3] }, /got `3` \(number\)/],
    [{ secret: 'k', algorithm: 'md5' }, /Expected `hmac.algorithm` to be one of 'sha256', 'sha1', 'sha512', got `md5`/],
    [{ secret: 'k', encoding: 'base32' }, /hmac.encoding/],
    [{ secret: 'k', header: 'X-Sig' }, /Expected `hmac.header` to be a lower-case header name/],
    [{ secret: 'k', signaturePrefix: 1 }, /hmac.signaturePrefix/],
    [{ secret: 'k', idField: '' }, /hmac.idField/],
    [{ secret: 'k', typeField: null }, /hmac.typeField/],
    [{ secret: 'k', idHeader: 'bad header' }, /hmac.idHeader/],
    [{ secret: 'k', typeHeader: 7 }, /hmac.typeHeader/],
    [{ secret: 'k', timestampHeader: '' }, /hmac.timestampHeader/],
    [{ secret: 'k', toleranceMs: 10 }, /Expected `hmac.toleranceMs` to be an integer from 1000 to 86400000/],
    [{ secret: 'k', toleranceMs: 1.5e8 }, /hmac.toleranceMs/],
    [{ secret: 'k', signedContent: '{timestamp}.{body}' }, /hmac.timestampHeader/],
    [{ secret: 'k', timestampHeader: 'x-t', signedContent: '{body}.{timestamp}' }, /hmac.signedContent/],
    [{ secret: 'k', contentTypes: [] }, /hmac.contentTypes/],
    [{ secret: 'k', contentTypes: ['json', 'json'] }, /hmac.contentTypes/],
    [{ secret: 'k', contentTypes: ['xml'] }, /hmac.contentTypes/],
    [{ secret: 'k', eventHeaders: ['x-provider-signature'] }, /Expected `hmac.eventHeaders` to be free of signature headers/],
    [{ secret: 'k', eventHeaders: ['X-A'] }, /hmac.eventHeaders/],
    [{ secret: 'k', bodyLimit: 0 }, /hmac.bodyLimit/],
    [{ secret: 'k', delivery: { retriesForMs: 1 } }, /hmac.delivery/],
    [{ secret: 'k', sekret: 'x' }, /Unknown option `sekret` for providers.hmac\(\)/]
  ]
  for (const [options, message] of cases) {
    throwsOption(t, () => hmac(options as never), message, JSON.stringify(options))
  }
  const err = (() => { try { hmac({ secret: ['ok', ''] }) } catch (e) { return e as Error } })()
  t.notMatch(err?.message, /ok/, 'a usable secret never appears in a message')
  const custom = hmac({ secret: 'k', name: 'acme', bodyLimit: 2048, eventHeaders: ['x-acme-delivery'], delivery: { retriesForMs: 1, suggestedDedupeTtlMs: 2, responseDeadlineMs: 3 } })
  t.match(custom, { name: 'acme', bodyLimit: 2048, eventHeaders: ['x-acme-delivery'], delivery: { retriesForMs: 1 } })
  t.type(hmac({ secret: async () => ['a'] }).secret, 'function')
})

t.test('hostile input never throws', async (t) => {
  const variants = [
    hmac({ secret: 'k' }),
    hmac({ secret: 'k', encoding: 'hex', signaturePrefix: 'sha256=', timestampHeader: 'x-ts', idHeader: 'x-id', typeHeader: 'x-type' })
  ]
  for (const p of variants) {
    const reasons = fuzz(p, ['x-provider-signature', 'x-ts', 'x-id', 'x-type'], 3000)
    t.ok(reasons.size >= 2, `several reasons seen: ${[...reasons.keys()].join(', ')}`)
    t.notOk(reasons.has('ok'), 'random input never verifies')
  }
})
