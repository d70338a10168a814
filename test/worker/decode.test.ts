import t from 'tap'
import { decodeEvent } from '../../core/decode.js'

const good = { v: 1, id: 'e1', source: 'acme', type: '', payload: {}, headers: {}, receivedAt: 1, origin: 'webhook' }

t.test('a valid event decodes, with or without the optional fields', async (t) => {
  t.same(decodeEvent(good), { ok: true, event: good })
  t.equal(decodeEvent({ ...good, sentAt: 2, replayKey: 'k', origin: 'replay' }).ok, true)
  t.equal(decodeEvent({ ...good, payload: null }).ok, true, 'a null payload is a payload')
})

const bad: Array<[string, unknown, RegExp]> = [
  ['not an object', 'x', /not an object but string/],
  ['null', null, /not an object but null/],
  ['an array', [], /not an object but an array/],
  ['another version', { ...good, v: 2 }, /unknown event schema version 2 \(this worker reads 1\)/],
  ['no version', { ...good, v: undefined }, /unknown event schema version undefined/],
  ['empty id', { ...good, id: '' }, /`id`/],
  ['bad source', { ...good, source: '1x' }, /`source`/],
  ['no type', { ...good, type: 3 }, /`type`/],
  ['no payload', { ...good, payload: undefined }, /`payload`/],
  ['bad headers', { ...good, headers: [] }, /`headers`/],
  ['bad receivedAt', { ...good, receivedAt: 'now' }, /`receivedAt`/],
  ['bad sentAt', { ...good, sentAt: Number.NaN }, /`sentAt`/],
  ['bad origin', { ...good, origin: 'email' }, /`origin`/],
  ['bad replayKey', { ...good, replayKey: '' }, /`replayKey`/]
]

for (const [name, data, reason] of bad) {
  t.test(`${name}: not decodable`, async (t) => {
    const r = decodeEvent(data)
    t.equal(r.ok, false)
    if (!r.ok) t.match(r.reason, reason)
  })
}
