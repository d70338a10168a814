import t from 'tap'
import { decodeUtf8, parseBody, parseForm, parseJsonObject } from '../../providers/body.js'

// The body decoding and parsing every JSON preset goes through: strict UTF-8,
// and no key that could poison a prototype, however it is spelled.

t.test('strict UTF-8, with a leading BOM dropped', async (t) => {
  t.same(decodeUtf8(Buffer.from('{"a":"é"}')), { ok: true, value: '{"a":"é"}' })
  t.same(decodeUtf8(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')])), { ok: true, value: '{}' })
  for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    t.same(decodeUtf8(Buffer.from(bytes)), { ok: false, reason: 'invalid_utf8' }, `refuses ${Buffer.from(bytes).toString('hex')}`)
  }
  t.same(parseBody('json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":"x"}')])), { ok: true, value: { kind: 'json', value: { id: 'x' } }, text: '{"id":"x"}' })
  // The stored text is the parsed text: a second BOM would survive into it and break the job data.
  t.match(parseBody('json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from('{"id":"x"}')])), { ok: false, reason: 'invalid_json' })
})

t.test('forbidden keys are refused in every spelling; words that merely contain them are not', async (t) => {
  for (const text of [
    '{"__proto__":{"a":1}}',
    '{"a":{"__proto__":{}}}',
    '{"\\u005f\\u005fproto__":{}}',
    '{"__pr\\u006fto__":{}}',
    '{"constructor":{"prototype":{}}}',
    '{"c\\u006fnstructor":{"prototype":{}}}'
  ]) {
    t.same(parseJsonObject(text), { ok: false, reason: 'forbidden_key' }, text)
  }
  t.same(parseJsonObject('{"protocol":"https","note":"constructor of things","u":"\\u00e9"}'), { ok: true, value: { protocol: 'https', note: 'constructor of things', u: 'é' } })
  t.same(parseJsonObject('\ufeff{"a":1}'), { ok: true, value: { a: 1 } }, 'a BOM before the JSON text')
  t.same(parseJsonObject('{"a":'), { ok: false, reason: 'invalid_json' })
  t.same(parseJsonObject('[1]'), { ok: false, reason: 'not_an_object' })
  t.same(parseJsonObject('  '), { ok: false, reason: 'empty_body' })
})

t.test('form bodies decode strictly: escapes must spell UTF-8', async (t) => {
  for (const text of ['a=%C3%28%FF', '%FF=1', 'a=%C3&b=%A9', 'a=%ED%A0%80', 'a=%c0%af']) {
    t.same(parseForm(text), { ok: false, reason: 'invalid_utf8' }, text)
  }
  t.same({ ...(parseForm('a=%C3%A9&b=%e2%82%ac+x&c=100%&d=%zz&e=%2') as { value: object }).value },
    { a: 'é', b: '€ x', c: '100%', d: '%zz', e: '%2' })
  t.same({ ...(parseForm('a=plain+text&b=é') as { value: object }).value }, { a: 'plain text', b: 'é' })
})

t.test('a top-level JSON array, for providers with jsonArrays: items, with the same refusals', async (t) => {
  const b = (text: string, arrays: boolean): ReturnType<typeof parseBody> => parseBody('json', Buffer.from(text), arrays)
  t.same(b('[{"a":1},2]', true), { ok: true, value: { kind: 'json', value: {}, items: [{ a: 1 }, 2] }, text: '[{"a":1},2]' })
  t.same(b('[{"a":1}]', false), { ok: false, reason: 'not_an_object' }, 'refused without jsonArrays')
  t.same(b('{"a":1}', true), { ok: true, value: { kind: 'json', value: { a: 1 } }, text: '{"a":1}' }, 'an object is still an object')
  t.same(b('[{"__proto__":{"x":1}}]', true), { ok: false, reason: 'forbidden_key' })
  t.same(b('42', true), { ok: false, reason: 'not_an_object' })
  t.same(b('null', true), { ok: false, reason: 'not_an_object' })
  t.same(b('[1,', true), { ok: false, reason: 'invalid_json' })
  t.same(b(' ', true), { ok: false, reason: 'empty_body' })
})
