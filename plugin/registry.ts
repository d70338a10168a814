import type { Queue } from 'bullmq'
import { worst, type HealthStatus, type IntakeHealth } from './health.js'
import type { IntakeStats } from './outcome.js'

/** One registration of the plugin, as seen through `app.webhooks`. */
export interface WebhookIntake {
  /** Its key in `app.webhooks`: the `name` option, `source:path` by default. */
  readonly name: string
  readonly source: string
  /** The route path as registered (without the prefix of the enclosing scope). */
  readonly path: string
  readonly queueName: string
  readonly prefix: string
  /** The BullMQ queue events are added to (on the plugin's fail-fast connection). */
  readonly queue: Queue
  /** Counters by outcome since registration. */
  readonly stats: Readonly<IntakeStats>
  /** True when an event would be enqueued now (Redis ready and, under `'refuse'`, verified). */
  readonly ready: boolean
  /** Checks Redis, its persistence settings, the backlog and the oldest waiting job of this registration. */
  health: () => Promise<IntakeHealth>
}

/** What `app.webhooks.health()` answers: the worst status, and each registration's report by name. */
export interface WebhooksHealth {
  status: HealthStatus
  /** False when some check fails: the route answers 503 to some events now. */
  ok: boolean
  /** When the checks ran (ms since epoch). */
  checkedAt: number
  registrations: Record<string, IntakeHealth>
}

/** `app.webhooks`: every registration of the plugin in the app, by `name`, and their health. */
export interface WebhookRegistry extends ReadonlyMap<string, WebhookIntake> {
  /** Runs every registration's checks at once and aggregates them. */
  health: () => Promise<WebhooksHealth>
}

/** The registry and the functions registrations use to join and leave it. */
export interface RegistryHandle {
  registry: WebhookRegistry
  add: (intake: WebhookIntake) => void
  remove: (name: string) => void
  /** Claims a health route path; false when another registration already serves it. */
  claimHealthRoute: (path: string) => boolean
}

const handles = new WeakMap<object, RegistryHandle>()

/** The handle of a registry this module created; `undefined` for anything else. */
export function handleOf (registry: unknown): RegistryHandle | undefined {
  return typeof registry === 'object' && registry !== null ? handles.get(registry) : undefined
}

/** A new, empty registry. */
export function createRegistry (): RegistryHandle {
  const entries = new Map<string, WebhookIntake>()
  const healthRoutes = new Set<string>()

  async function health (): Promise<WebhooksHealth> {
    const reports = await Promise.all([...entries.values()].map(async (intake) => await intake.health()))
    const status = worst(reports.map((r) => r.status))
    return { status, ok: status !== 'fail', checkedAt: Date.now(), registrations: Object.fromEntries(reports.map((r) => [r.name, r])) }
  }

  const registry: WebhookRegistry = {
    get size () { return entries.size },
    get: (name) => entries.get(name),
    has: (name) => entries.has(name),
    keys: () => entries.keys(),
    values: () => entries.values(),
    entries: () => entries.entries(),
    forEach (callback, thisArg) {
      entries.forEach((value, key) => callback.call(thisArg, value, key, registry))
    },
    [Symbol.iterator]: () => entries[Symbol.iterator](),
    health
  }

  const handle: RegistryHandle = {
    registry,
    add: (intake) => { entries.set(intake.name, intake) },
    remove: (name) => { entries.delete(name) },
    claimHealthRoute (path) {
      if (healthRoutes.has(path)) return false
      healthRoutes.add(path)
      return true
    }
  }
  handles.set(registry, handle)
  return handle
}
