import t from 'tap'
import { createDeadLetters, type DeadLetters } from '../../dead-letters/dead-letters.js'
import { DeadLetterStore } from '../../dead-letters/dead-letter-store.js'
import type { FailureInput } from '../../dead-letters/dead-letter-failures.js'
import { makeEvent, queueFixture, sleep } from '../helpers/worker.js'

// Paging through dead letters while they change: a cursor over the letters'
// creation order neither skips nor repeats a letter.
t.setTimeout(60_000)

const PAGE = 7 // does not divide 250

function failure (i: number): FailureInput {
  const event = makeEvent({ id: `page-${i}` })
  return {
    jobId: `acme.page-${i}`, jobTimestamp: 1, event, stage: 'apply', error: { name: 'Error', message: `failure ${i}` }, attemptsMade: 1, firstAttemptAt: 1, deadAt: Date.now()
  }
}

t.test('a cursor walk over 250 letters sees each letter present for the whole walk exactly once while letters are added, replayed and purged', async (t) => {
  const q = queueFixture(t)
  const store = new DeadLetterStore(q.redis, { queueName: q.queueName, prefix: q.prefix })
  const dl: DeadLetters = createDeadLetters({ connection: q.url, queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await dl.close(); await store.close() })
  for (let i = 0; i < 250; i += 25) await Promise.all(Array.from({ length: 25 }, async (_, k) => await store.record(failure(i + k))))
  const initial = Array.from({ length: 250 }, (_, i) => `acme.page-${i}`)
  t.equal(await dl.count(), 250)

  const purged = new Set<string>()
  const replayed = new Set<string>()
  let added = 250
  let step = 0
  // Mutations between pages and, at the same time, in a loop of their own.
  const mutate = async (): Promise<void> => {
    step++
    await store.record(failure(added++))
    const replayable = initial.filter((id) => !purged.has(id) && !replayed.has(id))
    const toReplay = replayable[(step * 37) % replayable.length]
    replayed.add(toReplay)
    t.match(await store.replay(toReplay), { status: 'replayed' })
    const toPurge = replayable[(step * 53 + 11) % replayable.length]
    if (toPurge !== toReplay) {
      purged.add(toPurge)
      await store.purge({ eventId: toPurge.replace('acme.', '') })
    }
  }
  const walk = { done: false }
  const background = (async () => {
    while (!walk.done) {
      await mutate()
      await sleep(5)
    }
  })()

  const seen = new Map<string, number>()
  let next: string | undefined
  let pages = 0
  do {
    const page = await dl.page({}, { after: next, limit: PAGE })
    for (const letter of page.letters) seen.set(letter.id, (seen.get(letter.id) ?? 0) + 1)
    next = page.next
    pages++
    await mutate()
  } while (next !== undefined)
  walk.done = true
  await background

  t.ok(pages >= Math.ceil(250 / PAGE), `${pages} pages`)
  t.ok(purged.size > 20 && replayed.size > 20, `${purged.size} purged and ${replayed.size} replayed during the walk`)
  const present = initial.filter((id) => !purged.has(id))
  const missed = present.filter((id) => seen.get(id) !== 1)
  t.same(missed, [], 'every letter present for the whole walk seen exactly once')
  t.same([...seen].filter(([, n]) => n > 1), [], 'no letter seen twice')
  t.ok(added > 250 + pages, 'letters were added during the walk')
})

t.test('a filtered walk (pending only) and the CLI-sized page of 1000', async (t) => {
  const q = queueFixture(t)
  const store = new DeadLetterStore(q.redis, { queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await store.close() })
  for (let i = 0; i < 30; i++) await store.record(failure(i))
  for (let i = 0; i < 30; i += 3) await store.replay(`acme.page-${i}`)
  const ids: string[] = []
  let next: string | undefined
  do {
    const page = await store.page({ replayed: false }, { after: next, limit: 4 })
    ids.push(...page.letters.map((l) => l.id))
    next = page.next
  } while (next !== undefined)
  t.same(ids, Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `acme.page-${i}`), 'pending letters in creation order')
  t.same((await store.page({}, { limit: 1000 })).letters.length, 30)
})

t.test('an index entry whose letter was removed by other means (a dashboard) is skipped and dropped', async (t) => {
  const q = queueFixture(t)
  const store = new DeadLetterStore(q.redis, { queueName: q.queueName, prefix: q.prefix })
  t.teardown(async () => { await store.close() })
  for (let i = 0; i < 3; i++) await store.record(failure(i))
  const dlq = `${q.prefix}:${q.queueName}-dlq`
  await q.redis.del(`${dlq}:acme.page-1`)
  await q.redis.lrem(`${dlq}:wait`, 0, 'acme.page-1')
  t.same((await store.page()).letters.map((l) => l.id), ['acme.page-0', 'acme.page-2'])
  t.equal(await q.redis.zcard(`${q.prefix}:${q.queueName}:wh:dlq-index`), 2, 'the stale entry is gone')
})
