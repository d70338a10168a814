// The shapes the chaos harness passes between its files, for `// @ts-check`.
// Types only: nothing imports this file at run time.
import type { WebhookEvent } from 'fastify-hybrid-webhooks/worker'
import type { StartRedisOptions } from '../redis-server.d.mts'
import type { check } from './verify.mjs'
import type { createSender } from './sender.mjs'
import type { nodeChild, startRedis } from './processes.mjs'
import type { startCluster } from './redis-cluster.mjs'
import type { startReplicated } from './redis-replicated.mjs'
import type { startStack } from './stack.mjs'

/** run.mjs's defaults and flags: what every scenario starts from. */
export interface RunSettings {
  senders: number
  workers: number
  concurrency: number
  lockDuration: number
  stalledInterval: number
  ackTimeoutMs: number
  requestTimeout: number
  connectionTimeout: number
  keepAliveTimeout: number
  hydrateLatencyMs: number
  slowHydrateMs: number
  applyLatencyMs: number
  applyFailureRate: number
  attemptTimeoutMs: number
  drainDeadlineMs: number
  outageMs: number
  short: boolean
  keep: boolean
  secret: string
  /** `--events`: overrides the scenario's own count. */
  events?: number
}

/** Extra app settings a scenario passes to app.mjs. */
export interface AppSettings {
  waitReplicas?: number
  maxBacklog?: number
  headersTimeout?: number
  connectionsCheckingInterval?: number
}

/** What only some scenarios set. */
export interface ScenarioExtras {
  apps?: number
  cluster?: boolean
  replicated?: boolean
  poller?: boolean
  pollEveryMs?: number
  /** Extra startRedisServer options. */
  redis?: StartRedisOptions
  app?: AppSettings
  /** false: the scenario starts the workers itself. */
  startWorkers?: boolean
  slowSockets?: number
  backlog?: number
}

/** A scenario's `settings`: overrides of the defaults, and its extras. */
export type ScenarioSettings = Partial<RunSettings> & ScenarioExtras

/** One scenario's settings, as runScenario hands them on (`s`). */
export interface Settings extends RunSettings, ScenarioExtras {
  name: string
  workerMode: WorkerMode
  appendonly: boolean
  events: number
}

export type WorkerMode = 'real' | 'broken'

/** Where the harness's lines go. */
export type Say = (line: string) => void

export type Sender = ReturnType<typeof createSender>
export type SenderOptions = Parameters<typeof createSender>[0]
/** One attempt, as the sender's observers see it. */
export interface AttemptResult {
  status?: number
  error?: string
  latencyMs: number
  /** When the attempt started (ms since epoch). */
  at: number
}

export type Stack = Awaited<ReturnType<typeof startStack>>
/** A child process of the harness (app, worker, poller, proxy). */
export type Child = ReturnType<typeof nodeChild>
/** A Redis a fault can kill, restart and freeze: one server, or the node of a cluster holding the queue. */
export type KillableRedis = Awaited<ReturnType<typeof startRedis>> | Awaited<ReturnType<typeof startCluster>>
/** A primary and a replica behind a proxy: only `failover` and `stop`. */
export type ReplicatedRedis = Awaited<ReturnType<typeof startReplicated>>

/** What each phase of a scenario gets. */
export interface Ctx {
  stack: Stack
  s: Settings
  say: Say
  runId: string
  /** The main run's sender, from the start of the main run on. */
  sender?: Sender
  /** The replicas scenario's acknowledgement times. */
  ackTimes?: number[]
}

/** The context once the main run's sender exists (`during`, `after`). */
export type SendingCtx = Ctx & { sender: Sender }

export type FaultKind = 'worker' | 'worker-freeze' | 'app' | 'redis' | 'redis-down' | 'redis-freeze' | 'failover'

/** A planned fault: fired once `at` (a share of the events) are acknowledged; the holding ones last `holdMs`. */
export type Fault =
  | { at: number, kind: 'worker' | 'app' | 'redis' }
  | { at: number, kind: 'worker-freeze' | 'redis-down' | 'redis-freeze' | 'failover', holdMs: number }

/** A run the worker holds: its event and BullMQ lock token. */
export interface HeldRun {
  eventId: string
  token: string
  attempt: number
}

/** A fault as it went; `at` is then the time it fired (ms since epoch). */
export type FaultRecord = Fault & FaultOutcome

/** The record of one kind of fault. */
export type FaultRecordOf<K extends FaultKind> = FaultRecord & { kind: K }

/** What the harness noted about a fault. */
export interface FaultOutcome {
  landed: boolean
  ackedAt?: number
  target?: string
  pid?: number
  recoveredMs?: number
  waitingAtKill?: number
  replicationGap?: number
  resumedAt?: number
  heldRuns?: HeldRun[]
  statsBefore?: Record<string, number>
  statsAfter?: Record<string, number>
  /** Apply calls the fault can have re-opened (set by the accounting). */
  openCalls?: number
}

export type Check = ReturnType<typeof check>

/** The attempts' answers: late, unanswered, 5xx other than 503, and the slowest. */
export interface Answers {
  total: number
  late: number
  unanswered: number
  non503Errors: number
  maxMs: number
  /** `at` while sending; `sinceFirstFaultMs` in the figures. */
  slowest: Array<{ ms: number, status: number | string | undefined, at?: number, sinceFirstFaultMs?: number }>
  /** Latencies of the 2xx answers (not enumerable: kept out of the JSON). */
  acceptedMs: number[]
}

/**
 * A scenario's figures: those of every main run, and whatever its own phases
 * add (`before`, `during`, `after`), which only its checks and notes read.
 */
export interface Figures {
  events: number
  senders: number
  acked: number
  expected: number
  lost: number
  doubledEffects: number
  unexpectedEffects: number
  deadLetteredEvents: number
  appliedAndDeadLettered: number
  applyCalls: number
  injectedFailures: number
  extraApplyCalls: number
  callsOpenAtKills: number
  faultsMidApply: number
  eventsWithSeveralKeys: number
  outcomes: Record<string, number>
  effectsByOrigin: Record<string, number>
  dropped: number
  givenUp: number
  attempts: number
  statuses: Record<string, number>
  connectionErrors: Record<string, number>
  maxLatencyMs: number
  harnessLoopDelayMaxMs: number
  answers: Answers
  deadLetters: number
  failedJobs: number
  pendingJobs: number
  drainMs: number | undefined
  sendMs: number
  /** Handed to the checks, then removed from the figures. */
  faultRecords?: FaultRecord[]
  faults: Array<Partial<FaultRecord>>
  unexpectedExits: Array<{ process: string, code: number | null, signal: NodeJS.Signals | null, expected: boolean, at: number }>
  /** A scenario's own figures. */
  [figure: string]: any
}

/** A scenario definition: the fields runScenario reads (see scenarios.mjs). */
export interface Scenario {
  full: number
  short: number
  ci: boolean
  settings?: ScenarioSettings | ((s: RunSettings) => ScenarioSettings)
  plan: (s: Settings) => Fault[]
  sender?: (s: Settings, stack: Stack) => Partial<SenderOptions>
  during?: (ctx: SendingCtx) => Promise<{ stop: () => Promise<Record<string, unknown>> }>
  before?: (ctx: Ctx) => Promise<Record<string, unknown>>
  after?: (ctx: SendingCtx, f: Figures) => Promise<Record<string, unknown>>
  checks: (f: Figures, s: Settings, faults: FaultRecord[]) => Check[]
  notes?: (f: Figures) => string[]
  workerMode?: WorkerMode
  appendonly?: boolean
  expectFail?: boolean
}

/** What runScenario returns, and run.mjs reports. */
export interface ScenarioResult {
  name: string
  expectFail: boolean
  passed: boolean
  checks: Check[]
  figures: Partial<Figures>
  notes?: string[]
  durationMs?: number
  runDir?: string
  error?: string
  /** The verdict: PASS, or for a negative control, FAIL for the right reason. */
  ok?: boolean
}

/** The body the sender posts: a job's payload. */
export interface ChaosPayload {
  event_id: string
  type: string
  data?: { n: number, poison?: boolean, slowHydrate?: boolean }
}

export type ChaosEvent = WebhookEvent<ChaosPayload>

/** A worker's hydrate: the payload, after a provider's latency. */
export type ChaosHydrate = (event: ChaosEvent) => Promise<ChaosPayload>

/** A worker's apply: the ledger's call record and transactional effect. */
export type ChaosApply = (event: WebhookEvent, key: string, run: { attempt: number, token?: string, origin?: string }) => Promise<void>

/** What every child process gets in CHAOS_CONFIG. */
export interface CommonConfig {
  redisUrl: string
  clusterNodes?: Array<{ host: string, port: number }>
  queueName: string
  prefix: string
  logLevel: string
  source: string
}

/** app.mjs's CHAOS_CONFIG. */
export interface AppConfig extends CommonConfig, AppSettings {
  port: number
  secret: string
  path: string
  ackTimeoutMs: number
  requestTimeout: number
  connectionTimeout: number
  keepAliveTimeout: number
}

/** worker.mjs's CHAOS_CONFIG. */
export interface WorkerConfig extends CommonConfig {
  mode: WorkerMode
  ledgerFile: string
  concurrency: number
  lockDuration: number
  stalledInterval: number
  hydrateLatencyMs: number
  slowHydrateMs: number
  applyLatencyMs: number
  applyFailureRate: number
}

/** poller.mjs's CHAOS_CONFIG. */
export interface PollerConfig extends CommonConfig {
  apiUrl: string
  every: number
  pageSize: number
  maxPagesPerRun: number
  lockDuration: number
  stalledInterval: number
  leaseMs: number
  lagThresholdMs: number
}

/** redis-proxy.mjs's CHAOS_CONFIG. */
export interface ProxyConfig {
  port: number
  targetPort: number
}
