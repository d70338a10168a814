// Compiled by test/types.test.ts, never run: GitHub's name→payload map, with
// `${type}.${action}` route keys narrowed to their action.
import type { PullRequestClosedEvent, PullRequestEvent, PushEvent, WebhookEventMap } from '@octokit/webhooks-types'
import type Stripe from 'stripe'
import { createWebhookWorker, defineHandler, type ByName, type ByType } from '../../worker/index.js'

interface Events {
  github: ByName<WebhookEventMap>
  stripe: ByType<Stripe.Event>
}
declare function fetchPull (url: string): Promise<{ url: string, merged: boolean }>

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  unhandled: 'dead-letter',
  handlers: {
    github: {
      push: {
        apply: async (_state, event) => {
          const push: PushEvent = event.payload
          const ref: string = event.payload.ref
          return [push, ref]
        }
      },
      'pull_request.closed': defineHandler({
        hydrate: async (event) => {
          const closed: PullRequestClosedEvent = event.payload
          const action: 'closed' = event.payload.action
          return await fetchPull(closed.pull_request.url + action)
        },
        apply: async (pull) => pull?.merged === true
      }),
      pull_request: {
        apply: async (_state, event) => {
          const any: PullRequestEvent = event.payload
          // @ts-expect-error `pull_request` is every action, not only `closed`
          const closed: PullRequestClosedEvent = event.payload
          return [any, closed]
        }
      },
      'issues.opened': {
        apply: async (_state, event) => {
          const opened: 'opened' = event.payload.action
          // @ts-expect-error an issue event has no pull request
          return [opened, event.payload.pull_request]
        }
      }
    },
    stripe: {
      'invoice.paid': { apply: async (_state, event) => event.payload.data.object.id }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    github: {
      // @ts-expect-error an action GitHub does not send for pull requests
      'pull_request.merged': { apply: async () => {} }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  handlers: {
    github: {
      // @ts-expect-error a Stripe type under the github source
      'invoice.paid': { apply: async () => {} }
    }
  }
})

createWebhookWorker<Events>({
  connection: 'redis://localhost:6379',
  // @ts-expect-error not a policy
  unhandled: 'ignore',
  handlers: { github: { push: { apply: async () => {} } } }
})
