import { defineScript, type LuaScript } from '../core/scripts.js'

// The scripts behind ClaimStore (claim.ts). Each runs in one round trip.

// KEYS: 1 fence counter, 2 done marker, 3 claim, 4 BullMQ job hash, 5 replay marker, 6 replay claim,
//       7 the object's committed version, 8 the queue's hydration pause
// ARGV: 1 lease ms, 2 idempotency key, 3 now ms, 4 '1' when the event has a replayKey,
//       5 '1' when the event has an ordered object
// (without a replayKey, KEYS 5 and 6 repeat KEYS 2 and 3 and are not used; without
// an object, KEYS 7 repeats KEYS 2). Positions are fixed so later checks can
// append their keys and arguments after these. A claim also reports the last
// committed version and how long hydration is still paused, so neither costs
// another round trip, and the time of the claim on Redis's clock (µs, last):
// hydrate starts after it, which is what a tombstone is compared with.
// A claim is a key holding a fencing token (from one INCR counter per queue)
// with a lease that the holder renews while its job runs. With a replayKey the
// claim also covers the replayKey, so two ids for one signed delivery never
// run at once. The first attempt's time is kept on the job hash (deleted with
// the job) so a dead letter can say when the event was first tried.
export const CLAIM = defineScript('claim', `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'done'} end
local replay = ARGV[4] == '1'
if replay then
  local owner = redis.call('GET', KEYS[5])
  if owner and owner ~= ARGV[2] then return {'replay'} end
end
local function heldFor (key)
  local ttl = redis.call('PTTL', key)
  if ttl == -2 then return nil end
  if ttl < 0 then return tonumber(ARGV[1]) end
  return ttl
end
local busy = heldFor(KEYS[3])
if not busy and replay then busy = heldFor(KEYS[6]) end
if busy then return {'busy', busy} end
local token = tostring(redis.call('INCR', KEYS[1]))
redis.call('SET', KEYS[3], token, 'PX', ARGV[1])
if replay then redis.call('SET', KEYS[6], token, 'PX', ARGV[1]) end
local first = ARGV[3]
if redis.call('EXISTS', KEYS[4]) == 1 then
  first = redis.call('HGET', KEYS[4], 'whfa')
  if not first then
    first = ARGV[3]
    redis.call('HSET', KEYS[4], 'whfa', first)
  end
end
local version = ''
if ARGV[5] == '1' then version = redis.call('GET', KEYS[7]) or '' end
local t = redis.call('TIME')
return {'claimed', token, first, version, redis.call('PTTL', KEYS[8]), t[1] .. string.format('%06d', tonumber(t[2]))}
`)

// KEYS: 1 claim, 2 done marker, 3 replay claim, 4 replay marker, 5 the object's version, 6 the object's lease
// ARGV: 1 token, 2 ttl ms, 3 idempotency key, 4 now ms, 5 '1' when the event has a replayKey,
//       6 the version to commit ('' for none), 7 the version read under the lease ('' for none),
//       8 '1' when this token holds the object's lease
// (without a replayKey, KEYS 3 and 4 repeat KEYS 1 and 2 and are not used; without
// an object, KEYS 5 and 6 repeat KEYS 2 and 1). Positions are fixed so later
// writes committed with the marker can be appended.
// Refused (0) unless the claim, and the object's lease when held, still carry
// this token: a worker that lost its claim to a stall never marks the event
// done on top of the new holder. The version is compared and set here, with the
// marker: it is written only if it is still the one the order check read.
// Versions live as long as done markers.
export const COMMIT = defineScript('commit', `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local object = ARGV[8] == '1'
if object and redis.call('GET', KEYS[6]) ~= ARGV[1] then return 0 end
if ARGV[6] ~= '' then
  if (redis.call('GET', KEYS[5]) or '') ~= ARGV[7] then return 0 end
  redis.call('SET', KEYS[5], ARGV[6], 'PX', ARGV[2])
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('DEL', KEYS[1])
if object then redis.call('DEL', KEYS[6]) end
if ARGV[5] == '1' then
  if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[2])
end
return 1
`)

// KEYS: 1 the object's lease, 2 the object's version; ARGV: 1 the claim's token, 2 lease ms.
// The lease keeps the applies of one object apart, fenced by the token of the
// claim that holds it (renewed and released with that claim). Taken after
// hydrate, so hydrates of one object still overlap; it returns the committed
// version, read under the lease, for the order check, and the time on Redis's
// clock (µs, last): after a null state, when the deletion was confirmed.
export const HOLD_OBJECT = defineScript('hold-object', `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[2]) end
  return {'busy', ttl}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
return {'held', redis.call('GET', KEYS[2]) or '', t[1] .. string.format('%06d', tonumber(t[2]))}
`)

// KEYS: claim keys; ARGV: 1 token. Deletes only what this token still holds.
export const RELEASE = defineScript('release', `
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    n = n + 1
  end
end
return n
`)

// KEYS: claim keys of every held claim; ARGV: 1 lease ms, then one token per key.
export const RENEW = defineScript('renew', `
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`)

/** Every claim script, loaded at start. */
export const CLAIM_SCRIPTS: LuaScript[] = [CLAIM, COMMIT, HOLD_OBJECT, RELEASE, RENEW]
