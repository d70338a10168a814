/**
 * The dead-letter queue's Redis writes, each one script so that two workers
 * dead-lettering one event, a replay and a purge never lose each other's
 * work. Every write is conditional on the SHA1 of the letter's data as the
 * caller read it (empty: the letter must not exist), and the caller reads
 * again and retries when it changed.
 *
 * A letter is a BullMQ job of the dead-letter queue: pending in its wait
 * list, replayed in its completed set (with `finishedOn`). The index is a
 * sorted set of every letter (all scores 0, so ordered by member):
 * `<sequence number, zero-padded>:<id>`, numbered in the order letters are
 * created and kept in the letter's `whix` field. It never changes while the
 * letter exists, so a cursor over it neither skips nor repeats letters that
 * are written, replayed or purged meanwhile.
 */
import { defineScript } from '../core/scripts.js'

const MEMBER = `
local function indexed (jobKey, indexKey, seqKey, id)
  local m = redis.call('HGET', jobKey, 'whix')
  if not m then
    local seq = tostring(redis.call('INCR', seqKey))
    m = string.rep('0', 15 - #seq) .. seq .. ':' .. id
    redis.call('HSET', jobKey, 'whix', m)
  end
  redis.call('ZADD', indexKey, 'NX', 0, m)
end
local function sameData (cur, expected)
  if cur then return redis.sha1hex(cur) == expected end
  return expected == ''
end
`

/** The letter id of an index member. */
export function idOfMember (member: string): string {
  return member.slice(member.indexOf(':') + 1)
}

/** A cursor is an index member. */
export const CURSOR = /^\d{15}:./

// KEYS: 1 job hash, 2 wait, 3 completed, 4 index, 5 index sequence
// ARGV: 1 id, 2 expected data SHA1 ('' = absent), 3 new data, 4 first dead time (for a new letter), 5 job opts
// Returns 1 written, 0 changed meanwhile.
export const WRITE_LETTER = defineScript('dlqWrite', `${MEMBER}
local cur = redis.call('HGET', KEYS[1], 'data')
if not sameData(cur, ARGV[2]) then return 0 end
if not cur then
  redis.call('HSET', KEYS[1], 'name', 'dead-letter', 'data', ARGV[3], 'opts', ARGV[5], 'timestamp', ARGV[4], 'delay', 0, 'priority', 0)
  redis.call('LPUSH', KEYS[2], ARGV[1])
  indexed(KEYS[1], KEYS[4], KEYS[5], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], 'data', ARGV[3])
if redis.call('HEXISTS', KEYS[1], 'finishedOn') == 1 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[1], 'finishedOn', 'processedOn', 'returnvalue')
  redis.call('LPUSH', KEYS[2], ARGV[1])
end
indexed(KEYS[1], KEYS[4], KEYS[5], ARGV[1])
return 1
`)

// A replayed letter moves from wait to completed, unless it changed since it was read
// (a new failure of the event, or another replay).
// KEYS: 1 job hash, 2 wait, 3 completed; ARGV: 1 id, 2 expected data SHA1, 3 new data, 4 now ms
// Returns 1 moved, 0 changed meanwhile, -1 gone.
export const REPLAY_GATE = defineScript('dlqReplayGate', `${MEMBER}
local cur = redis.call('HGET', KEYS[1], 'data')
if not cur then return -1 end
if not sameData(cur, ARGV[2]) or redis.call('HEXISTS', KEYS[1], 'finishedOn') == 1 then return 0 end
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'finishedOn', ARGV[4])
return 1
`)

// KEYS: 1 job hash, 2 wait, 3 completed, 4 index, 5 job logs; ARGV: 1 id, 2 expected data SHA1
// Returns 1 removed, 0 changed meanwhile, -1 gone.
export const PURGE_LETTER = defineScript('dlqPurge', `${MEMBER}
local cur = redis.call('HGET', KEYS[1], 'data')
if not cur then return -1 end
if not sameData(cur, ARGV[2]) then return 0 end
local m = redis.call('HGET', KEYS[1], 'whix')
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[5])
if m then redis.call('ZREM', KEYS[4], m) end
return 1
`)

// Drops an index member whose letter is gone (removed by other means, e.g. a dashboard).
// KEYS: 1 job hash, 2 index; ARGV: 1 member
export const DROP_STALE = defineScript('dlqDropStale', `
if redis.call('HGET', KEYS[1], 'whix') ~= ARGV[1] then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 0
`)

// Indexes letters written without the index (by an older version), in the order given.
// KEYS: 1 index, 2 index sequence, 3.. job hashes; ARGV: their ids
export const INDEX_LETTERS = defineScript('dlqIndex', `${MEMBER}
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then indexed(KEYS[i], KEYS[1], KEYS[2], ARGV[i - 2]) end
end
return 0
`)

// KEYS: 1 wait, 2 completed, 3 index; returns letters in the queue and in the index.
export const INDEX_GAP = defineScript('dlqIndexGap', `
return { redis.call('LLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]) }
`)
