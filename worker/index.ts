/**
 * `fastify-hybrid-webhooks/worker`: everything that runs next to the app,
 * without Fastify. Every export is named here; nothing else is public.
 */
export { safeJobId } from '../core/job-id.js'
export { EVENT_VERSION, SOURCE_PATTERN, JOB_NAME } from '../core/event.js'
export type { WebhookEvent } from '../core/event.js'
export type { ByType, ByName, EventTypes, EventTypeName } from '../core/event-types.js'
export { defineHandler } from './router.js'
export { PermanentError, RateLimitedError } from '../core/hook-errors.js'
export { WorkerErrors, WebhookErrors } from '../core/errors.js'
export type { WebhookErrorCode } from '../core/errors.js'
export { checkPersistence } from '../core/persistence.js'
export type { PersistenceReport } from '../core/persistence.js'
export type { RedisConnection, RedisClient } from '../core/connection.js'
export { createWebhookWorker } from './worker.js'
export type { WebhookWorkerHandle, CloseOptions } from './worker.js'
export type { WorkerHealth, WorkerHealthStatus } from './worker-health.js'
export { serveWorkerOps } from './ops-server.js'
export type { WorkerOps, WorkerOpsOptions, WorkerHealthSource } from './ops-server.js'
export type { MetricsOption } from '../core/prom.js'
export type {
  WebhookWorkerOptions, WorkerContext, Hydrate, Apply, RetryOptions, DedupeOptions, DeadLetterOptions, WorkerPersistenceCheck,
  RateLimitOptions, ObjectKeyOf, VersionOf, ObjectVersion, Handler, SourceHandlers, WorkerHandlers, UnhandledPolicy, UntypedEvents, WorkerOptionsFor, DefaultEvents
} from './options.js'
export type { AttemptReport, AttemptOutcome, DeadLetterAlert, WorkerStats, WebhookWorkerEvents, StaleInfo } from './reporter.js'
export { createDeadLetters } from '../dead-letters/dead-letters.js'
export type { DeadLetters, DeadLettersOptions, ReplayOptions } from '../dead-letters/dead-letters.js'
export type { DeadLetter, DeadLetterStage, DeadLetterError, DeadLetterFilter, DeadLetterPage, DeadLetterCursor, DeadLetterCursorPage, DeadLetterFailure, ReplayResult } from '../dead-letters/dead-letter-record.js'
export type { ClaimDecision } from './claim.js'
export { createPoller } from '../poller/poller.js'
export type { Poller, PollerStatus, PollRunEvent, PollLagEvent, PollResult, PollRunResult } from '../poller/poller.js'
export type { PollerOptions } from '../poller/poller-options.js'
export type { PollChange, PollPage, PollContext, FetchChanges } from '../poller/poll-page.js'
export type { CursorStore } from '../poller/cursor.js'
