// @ts-check
// A few requests a forger or a broken sender would send. Each must be refused
// with its own clear 4xx and leave nothing in the queue; the summary shows them.

/** @typedef {Awaited<ReturnType<typeof sendHostileRequests>>} HostileReport */

/**
 * Sends the hostile requests to the webhook route and returns what came back.
 * @param {string} url the webhook route
 * @param {{ sign: (body: string) => Record<string, string> }} signer the demo's provider (signs like the real sender)
 * @param {(eventId: string) => Promise<boolean>} hasJob whether the queue holds a job for an event id
 */
export async function sendHostileRequests (url, signer, hasJob) {
  const good = JSON.stringify({ event_id: 'evt_hostile', type: 'order.updated', order_id: 'o-1' })
  const cases = [
    { name: 'no signature', expect: 401, headers: { 'content-type': 'application/json' }, body: good },
    { name: 'forged signature', expect: 401, headers: { ...signer.sign(good), 'x-provider-signature': Buffer.alloc(32, 7).toString('base64') }, body: good },
    { name: 'signature of another body', expect: 401, headers: signer.sign(good.replace('o-1', 'o-2')), body: good },
    { name: 'short signature header', expect: 401, headers: { ...signer.sign(good), 'x-provider-signature': 'AA==' }, body: good },
    { name: 'text/plain body', expect: 415, headers: { ...signer.sign(good), 'content-type': 'text/plain' }, body: good },
    { name: 'gzip content encoding', expect: 415, headers: { ...signer.sign(good), 'content-encoding': 'gzip' }, body: good },
    { name: 'signed, not JSON', expect: 400, headers: signer.sign('{"event_id": '), body: '{"event_id": ' },
    { name: 'signed JSON array', expect: 400, headers: signer.sign('[1,2]'), body: '[1,2]' },
    { name: 'signed, no event id', expect: 400, headers: signer.sign('{"type":"order.updated"}'), body: '{"type":"order.updated"}' },
    { name: 'signed __proto__ key', expect: 400, headers: signer.sign('{"event_id":"e","__proto__":{"x":1}}'), body: '{"event_id":"e","__proto__":{"x":1}}' },
    { name: 'body over the limit', expect: 413, headers: { 'content-type': 'application/json' }, body: `{"pad":"${'x'.repeat(1_100_000)}"}` }
  ]
  const results = []
  for (const c of cases) {
    const res = await fetch(url, { method: 'POST', headers: c.headers, body: c.body })
    const answer = /** @type {{ code?: string }} */ (await res.json().catch(() => ({})))
    results.push({ name: c.name, expected: c.expect, status: res.status, code: answer.code })
  }
  // The ids these requests carry must not have reached the queue.
  const enqueued = (await Promise.all(['evt_hostile', 'e'].map(hasJob))).filter(Boolean).length
  return { ok: enqueued === 0 && results.every((r) => r.status === r.expected), enqueued, results }
}
