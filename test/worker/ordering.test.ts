import t from 'tap'
import {
  compareVersions, decodeStored, decodeVersion, encodeTombstone, encodeVersion, objectKeyOf, objectKeys, orderDecision, storedDecision, versionOf
} from '../../worker/ordering.js'
import type { ObjectVersion } from '../../worker/options.js'

t.test('versions are stored with their type and read back exactly', async (t) => {
  const values: ObjectVersion[] = [0, 7, -3, 1.5, 1e21, Number.MAX_SAFE_INTEGER, 2n ** 64n + 1n, -5n, '', '2026-03-01T10:00:00.000Z', 'a:b']
  for (const v of values) {
    const back = decodeVersion(encodeVersion(v))
    t.equal(typeof back, typeof v, `${String(v)} keeps its type`)
    t.equal(back, v)
  }
  t.equal(encodeVersion(12), 'n:12')
  t.equal(encodeVersion(12n), 'b:12')
  t.equal(encodeVersion('12'), 's:12')
})

t.test('a stored form this worker does not know reads as nothing', async (t) => {
  for (const raw of [undefined, '', 'n', 'x:1', 'n:', 'n:abc', 'b:1.5', '12']) t.equal(decodeVersion(raw), undefined, String(raw))
})

t.test('tombstones: the deletion\'s time (µs) and the version before it, under a prefix of their own', async (t) => {
  const at = 1_796_408_376_114_326
  t.equal(encodeTombstone(at, 5), 'd:1796408376114326:n:5')
  t.equal(encodeTombstone(at, undefined), 'd:1796408376114326:')
  for (const v of [5, 2n ** 64n, 'a:b', '', undefined]) {
    t.same(decodeStored(encodeTombstone(at, v)), { version: v, deletedAt: at }, `carrying ${String(v)}`)
    t.equal(decodeVersion(encodeTombstone(at, v)), v, 'decodeVersion reads the version it carries')
  }
  t.same(decodeStored('n:7'), { version: 7 }, 'stored versions read as before')
  t.same(decodeStored('s:d:1:n:2'), { version: 'd:1:n:2' }, 'a string version that looks like a tombstone stays a string')
  t.same(decodeStored(undefined), { version: undefined })
  for (const raw of ['d:', 'd:x:n:1', 'd:12', 'd:12345678901234567:n:1']) t.same(decodeStored(raw), { version: undefined }, `${raw} is not a tombstone this worker knows`)
  t.same(decodeStored('d:12:x:1'), { version: undefined, deletedAt: 12 }, 'a tombstone whose version this worker cannot read still counts')
})

t.test('the order decision against a tombstone: only a state fetched after the deletion is applied', async (t) => {
  const tomb = { version: 5, deletedAt: 1000 }
  t.equal(storedDecision(tomb, 6, 999, false), 'stale', 'claimed before the deletion was confirmed: may predate it, even with a higher version')
  t.equal(storedDecision(tomb, 6, 1000, false), 'stale', 'the same microsecond counts as before')
  t.equal(storedDecision(tomb, 1, 1001, false), 'apply', 'fetched after it: re-created, whatever its version')
  t.equal(storedDecision(tomb, 5, 1001, true), 'apply', 'even equal to the version before the deletion, with skipEqualVersion')
  t.equal(storedDecision(tomb, 'x', 1001, false), 'apply', 'or of another kind')
  t.equal(storedDecision(tomb, 6, undefined, false), 'stale', 'a payload state, of unknown time')
  t.equal(storedDecision(tomb, undefined, 0, false), 'apply', 'a null state is always applied')
  t.equal(storedDecision({ version: 5 }, 4, 2000, false), 'stale', 'without a tombstone, versions decide')
  t.equal(storedDecision({ version: 5 }, 5, undefined, true), 'unchanged')
  t.equal(storedDecision({ version: undefined }, 1, undefined, false), 'apply')
})

t.test('numbers and bigints compare by value, strings by code unit, mixed kinds not at all', async (t) => {
  t.equal(compareVersions(1, 2), -1)
  t.equal(compareVersions(2, 2), 0)
  t.equal(compareVersions(3n, 2n), 1)
  t.equal(compareVersions(2 ** 53, 2n ** 53n + 1n), -1, 'exact beyond 2^53')
  t.equal(compareVersions(2n ** 53n, 2 ** 53), 0)
  t.equal(compareVersions(1.5, 1n), 1, 'a fraction against a bigint, as doubles')
  t.equal(compareVersions(1n, 1.5), -1)
  t.equal(compareVersions('2026-03-01T10:00:00Z', '2026-02-28T23:59:59Z'), 1, 'ISO-8601 sorts as text')
  t.equal(compareVersions('000010', '000009'), 1, 'zero-padded counters sort as text')
  t.equal(compareVersions('10', '9'), -1, 'unpadded counters do not: docs/worker.md says to pad')
  t.equal(compareVersions('a', 'a'), 0)
  t.equal(compareVersions('1', 1), undefined)
  t.equal(compareVersions(1n, '1'), undefined)
})

t.test('the order decision', async (t) => {
  t.equal(orderDecision(undefined, 1, false), 'apply', 'nothing committed yet')
  t.equal(orderDecision(3, undefined, false), 'apply', 'no version: the object is gone')
  t.equal(orderDecision(3, 4, false), 'apply')
  t.equal(orderDecision(3, 2, false), 'stale')
  t.equal(orderDecision(3, 2, true), 'stale')
  t.equal(orderDecision(3, 3, false), 'apply', 'an equal version is applied')
  t.equal(orderDecision(3, 3, true), 'unchanged', 'unless skipEqualVersion')
  t.equal(orderDecision('3', 3, true), 'incomparable')
})

t.test('object keys: short ones readable, long ones and #-prefixed ones hashed', async (t) => {
  t.same(objectKeys('bull:q:wh:', 'stripe:cus_1'), { version: 'bull:q:wh:version:stripe:cus_1', lease: 'bull:q:wh:object:stripe:cus_1' })
  const long = objectKeys('b:', 'x'.repeat(201))
  t.match(long.version, /^b:version:#[0-9a-f]{64}$/)
  t.not(objectKeys('b:', '#abc').version, 'b:version:#abc', 'a key that looks hashed is hashed too')
  t.equal(objectKeys('b:', 'x'.repeat(200)).version, `b:version:${'x'.repeat(200)}`)
})

t.test('objectKey and version return values are checked', async (t) => {
  const event = { id: 'e' } as never
  t.equal(objectKeyOf(undefined, event), undefined)
  t.equal(objectKeyOf(() => 'k', event), 'k')
  t.equal(objectKeyOf(() => undefined, event), undefined, 'undefined opts the event out')
  t.throws(() => objectKeyOf(() => '', event), { code: 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE', message: /objectKey\(event\) must return a non-empty string or undefined, got `` \(string\)/ })
  t.throws(() => objectKeyOf(() => 5 as never, event), { code: 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE' })
  t.equal(versionOf(() => 3n, {}), 3n)
  t.throws(() => versionOf(() => Number.NaN, {}), { code: 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE', message: /version\(state\) must return a finite number, a bigint or a string, got `NaN`/ })
  t.throws(() => versionOf(() => null as never, {}), { code: 'WEBHOOK_WORKER_BAD_CALLBACK_VALUE' })
})
