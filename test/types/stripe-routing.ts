// Compiled by test/types.test.ts, never run: Stripe's event union narrows the
// payload of each handler, and typos are compile errors.
import type Stripe from 'stripe'
import { createWebhookWorker, defineHandler, type ByType, type WebhookEvent } from '../../worker/index.js'

type Events = { stripe: ByType<Stripe.Event> }
declare function fetchInvoice (id: string): Promise<Stripe.Invoice>
declare function saveInvoice (invoice: Stripe.Invoice | null): Promise<void>

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    stripe: {
      'invoice.paid': {
        hydrate: async (event) => {
          const invoice: Stripe.Invoice = event.payload.data.object
          const type: 'invoice.paid' = event.payload.type
          return await fetchInvoice(invoice.id ?? type)
        },
        apply: async (_state, event) => {
          const paid: Stripe.InvoicePaidEvent = event.payload
          return paid
        }
      },
      'customer.subscription.updated': {
        apply: async (_state, event) => {
          const subscription: Stripe.Subscription = event.payload.data.object
          // @ts-expect-error a subscription event carries no invoice
          const invoice: Stripe.Invoice = event.payload.data.object
          return [subscription, invoice]
        }
      },
      'invoice.voided': defineHandler({
        hydrate: async (event) => await fetchInvoice(event.payload.data.object.id ?? ''),
        // The state's type flows from hydrate: Stripe.Invoice | null.
        apply: async (invoice) => await saveInvoice(invoice)
      }),
      'invoice.finalized': defineHandler({
        hydrate: async () => 42,
        // @ts-expect-error the state is a number here, not an invoice
        apply: async (invoice) => await saveInvoice(invoice)
      }),
      '*': {
        apply: async (_state, event) => {
          const any: Stripe.Event = event.payload
          // @ts-expect-error the fallback sees every type of the source, not one
          const paid: Stripe.InvoicePaidEvent = event.payload
          return [any, paid]
        }
      }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    stripe: {
      // @ts-expect-error a typo in an event type
      'invoice.piad': { apply: async () => {} }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    // @ts-expect-error a source the catalog does not name
    strpe: { 'invoice.paid': { apply: async () => {} } }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    stripe: {
      // @ts-expect-error a handler has hydrate and apply, nothing else
      'invoice.paid': { aply: async () => {} }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    stripe: {
      'charge.refunded': {
        apply: async (_state, event: WebhookEvent<Stripe.ChargeRefundedEvent>) => event.payload.data.object.amount_refunded
      }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    stripe: {
      'charge.succeeded': {
        // @ts-expect-error a handler's event is the one of its key
        apply: async (_state, event: WebhookEvent<Stripe.InvoicePaidEvent>) => event
      }
    }
  }
})

// An annotated state is taken as it is (no defineHandler needed).
createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: { stripe: { 'invoice.paid': { apply: async (invoice: Stripe.Invoice | null) => await saveInvoice(invoice) } } }
})

// A state type for the whole worker: handlers without defineHandler get it.
createWebhookWorker<Events, Stripe.Invoice>({
  connection: 'redis://localhost:6379',
  hydrate: async (event) => await fetchInvoice(event.id),
  handlers: { stripe: { 'invoice.paid': { apply: async (invoice) => await saveInvoice(invoice) } } }
})
