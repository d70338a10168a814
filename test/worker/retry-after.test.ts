import t from 'tap'
import { RateLimitedError } from '../../core/hook-errors.js'
import { DEFAULT_PAUSE_MS, parseRetryAfter, rateLimitPauseMs } from '../../worker/retry-after.js'

const NOW = Date.parse('2026-03-01T12:00:00Z')

function http429 (fields: Record<string, unknown>): Error {
  return Object.assign(new Error('Too Many Requests'), fields)
}

t.test('Retry-After as delay-seconds', async (t) => {
  t.equal(parseRetryAfter('120', NOW), 120_000)
  t.equal(parseRetryAfter(' 5 ', NOW), 5000)
  t.equal(parseRetryAfter('0', NOW), 1000, 'zero waits a second rather than looping on the API')
})

t.test('Retry-After as an HTTP date', async (t) => {
  t.equal(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', NOW), 30_000)
  t.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000)
  t.equal(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW), 1000, 'a date already past waits a second')
})

t.test('Retry-After missing or unreadable', async (t) => {
  t.equal(parseRetryAfter(undefined, NOW), undefined)
  t.equal(parseRetryAfter('', NOW), undefined)
  t.equal(parseRetryAfter('1.5', NOW), undefined)
  t.equal(parseRetryAfter('soon', NOW), undefined)
  t.equal(parseRetryAfter('-3', NOW), undefined)
})

t.test('RateLimitedError, by class or by name', async (t) => {
  t.equal(rateLimitPauseMs(new RateLimitedError(2500)), 2500)
  t.equal(rateLimitPauseMs(new RateLimitedError(10.2)), 11)
  t.equal(rateLimitPauseMs(new RateLimitedError(0)), DEFAULT_PAUSE_MS, 'no usable delay: the default')
  t.equal(rateLimitPauseMs(Object.assign(new Error('x'), { name: 'RateLimitedError', retryAfterMs: 700 })), 700, 'from another copy of the package')
})

t.test('a 429 from status, statusCode or response.status', async (t) => {
  t.equal(rateLimitPauseMs(http429({ status: 429, headers: { 'Retry-After': '7' } }), NOW), 7000, 'plain object, any case')
  t.equal(rateLimitPauseMs(http429({ statusCode: 429, headers: { 'retry-after': ['3', '9'] } }), NOW), 3000, 'array value (node http)')
  t.equal(rateLimitPauseMs(http429({ statusCode: '429', headers: { 'retry-after': 4 } }), NOW), 4000, 'numbers as text')
  t.equal(rateLimitPauseMs(http429({ response: { status: 429, headers: new Headers({ 'Retry-After': '11' }) } }), NOW), 11_000, 'a Headers instance on the response (axios, fetch)')
  t.equal(rateLimitPauseMs(http429({ status: 429, response: { headers: { 'retry-after': 'Sun, 01 Mar 2026 12:01:00 GMT' } } }), NOW), 60_000, 'an HTTP date')
  t.equal(rateLimitPauseMs(http429({ status: 429, retryAfterMs: 1234, headers: { 'retry-after': '99' } }), NOW), 1234, 'err.retryAfterMs first')
  t.equal(rateLimitPauseMs(http429({ status: 429 }), NOW), 60_000, 'no Retry-After: 60 s')
  t.equal(rateLimitPauseMs(http429({ status: 429, headers: { 'retry-after': 'later' }, response: null }), NOW), 60_000, 'unreadable: 60 s')
  t.equal(rateLimitPauseMs(http429({ status: 429, headers: 'retry-after: 5' }), NOW), 60_000, 'headers that are not an object are ignored')
})

t.test('anything else is not a rate limit', async (t) => {
  t.equal(rateLimitPauseMs(http429({ status: 503, headers: { 'retry-after': '5' } })), undefined)
  t.equal(rateLimitPauseMs(new Error('boom')), undefined)
  t.equal(rateLimitPauseMs('429'), undefined)
  t.equal(rateLimitPauseMs(null), undefined)
})
