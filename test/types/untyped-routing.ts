// Compiled by test/types.test.ts, never run: without a catalog of typed
// events, payloads stay `unknown` (or `P`), and every existing form of
// `createWebhookWorker<S, P>()` compiles as it did.
import { createWebhookWorker, defineHandler, type WebhookEvent, type WebhookWorkerOptions } from '../../worker/index.js'

interface Order { id: string, updated: number }
interface OrderEvent { data: { object: { id: string } } }
declare function fetchOrder (id: string): Promise<Order>
const connection = 'redis://localhost:6379'

// The state type inferred from hydrate, as before.
createWebhookWorker({
  connection,
  hydrate: async () => await fetchOrder('o'),
  apply: async (order) => order?.updated
})
createWebhookWorker<Order>({ connection, apply: async (order) => order?.id })
createWebhookWorker<Order, OrderEvent>({
  connection,
  objectKey: (event) => event.payload.data.object.id,
  hydrate: async (event) => await fetchOrder(event.payload.data.object.id),
  version: (order) => order.updated,
  apply: async (order, event) => [order?.id, event.payload.data.object.id]
})
// `any` and `unknown` are state types like any other.
createWebhookWorker<any>({ connection, apply: async (state) => state.anything })
createWebhookWorker<unknown>({ connection, apply: async (state) => state })

// A function wrapping createWebhookWorker with its own state type parameter.
export function startWorker<S> (options: Partial<WebhookWorkerOptions<S>> & Pick<WebhookWorkerOptions<S>, 'apply'>): unknown {
  return createWebhookWorker<S>({ connection, concurrency: 2, ...options })
}

// Untyped handlers: any source and key, payloads `unknown`.
createWebhookWorker({
  connection,
  handlers: {
    acme: {
      'order.paid': {
        apply: async (_state, event) => {
          const payload: unknown = event.payload
          // @ts-expect-error an untyped payload is `unknown`
          return event.payload.id ?? payload
        }
      },
      '*': defineHandler({ hydrate: async () => 1, apply: async (n) => (n ?? 0) + 1 })
    }
  }
})
// With P, untyped handlers get P.
createWebhookWorker<Order, OrderEvent>({
  connection,
  handlers: { acme: { 'order.paid': { apply: async (_state, event: WebhookEvent<OrderEvent>) => event.payload.data.object.id } } }
})
// Untyped handlers take the worker's state type.
createWebhookWorker<Order>({
  connection,
  hydrate: async () => await fetchOrder('o'),
  handlers: { acme: { 'order.paid': { apply: async (order) => order?.updated } } }
})
