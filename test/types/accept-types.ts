// Compiled by test/types.test.ts, never run: `webhookOptions<Events>()`
// checks `acceptTypes` against the provider's event types, and what it
// returns is what `app.register(webhookPlugin, …)` takes.
import type { WebhookEventMap, WebhookEventName } from '@octokit/webhooks-types'
import Fastify from 'fastify'
import type Stripe from 'stripe'
import { providers, webhookOptions, webhookPlugin, type ByName, type ByType } from '../../index.js'

const app = Fastify()
const connection = 'redis://localhost:6379'
const stripe = providers.stripe({ secret: 'whsec_x' })
const github = providers.github({ secret: 'x' })

await app.register(webhookPlugin, webhookOptions<Stripe.Event>({ provider: stripe, connection, acceptTypes: ['invoice.paid', 'invoice.voided'] }))
await app.register(webhookPlugin, webhookOptions<ByType<Stripe.Event>>({ provider: stripe, connection, path: '/b', acceptTypes: ['customer.created'] }))
await app.register(webhookPlugin, webhookOptions<ByName<WebhookEventMap>>({ provider: github, connection, acceptTypes: ['push', 'pull_request'] }))
await app.register(webhookPlugin, webhookOptions<WebhookEventName>({ provider: github, connection, path: '/g', acceptTypes: ['issues'] }))
// A predicate sees every verified type: a string.
await app.register(webhookPlugin, webhookOptions<Stripe.Event>({ provider: stripe, connection, path: '/p', acceptTypes: (type) => type.startsWith('invoice.') }))
// Untyped: any list, as without the helper.
await app.register(webhookPlugin, webhookOptions({ provider: stripe, connection, path: '/u', acceptTypes: ['anything.at_all'] }))

// @ts-expect-error a typo in a Stripe type
webhookOptions<Stripe.Event>({ provider: stripe, connection, acceptTypes: ['invoice.piad'] })

// @ts-expect-error a route key with an action is not an event type: the plugin filters on `type`
webhookOptions<ByName<WebhookEventMap>>({ provider: github, connection, acceptTypes: ['pull_request.closed'] })

// @ts-expect-error a GitHub type is not a Stripe one
webhookOptions<ByType<Stripe.Event>>({ provider: stripe, connection, acceptTypes: ['push'] })

// @ts-expect-error the other options are checked as always
webhookOptions<Stripe.Event>({ provider: stripe, connection, ackTimeoutMs: '2s' })
