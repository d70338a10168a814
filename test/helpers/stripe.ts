import type { Test } from 'tap'
import Stripe from 'stripe'
import { createFakeStripe, type FakeStripe } from '../../scripts/fakes/stripe-api.mjs'

/** A fake Stripe API on a free port, closed with the test. */
export async function fakeStripe (t: Test): Promise<FakeStripe> {
  const fake = createFakeStripe()
  await fake.listen()
  t.teardown(() => fake.close())
  return fake
}

/** The official SDK pointed at the fake (its own retries off unless asked for). */
export function sdk (fake: FakeStripe, key = fake.apiKey, maxNetworkRetries = 0): Stripe {
  return new Stripe(key, { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries })
}
