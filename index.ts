/**
 * `fastify-hybrid-webhooks`: the plugin (default export) and everything from
 * `./plugin` and `./worker`, named one by one.
 */
import { webhookPlugin } from './plugin/index.js'

export default webhookPlugin
export { webhookPlugin, webhookOptions, PluginErrors, WebhookErrors, PLUGIN_DEFAULTS, providers, UnknownTenantError } from './plugin/index.js'
export type { WebhookErrorCode } from './plugin/index.js'
export type {
  WebhookIntake, WebhookRegistry, WebhooksHealth, IntakeHealth, HealthCheck, HealthStatus, AcceptTypes, WebhookPluginOptions, TypedWebhookPluginOptions, PersistenceCheck, IntakeStats, Outcome, Provider, ContentKind, IncomingHeaders, SecretOption,
  SecretContext, SecretResolver, VerifyFailureReason, VerifyInput, VerifySuccess, VerifyFailure, VerifyResult, BodyFailureReason,
  ParsedBody, ProviderRequest, EventFields, BodyFailure, InlineResponse, DeliveryFacts, SignOptions
} from './plugin/index.js'
export type {
  PresetFactory, HmacOptions, HmacProvider, HmacSignOptions, StandardWebhooksOptions, StandardWebhooksProvider, StandardWebhooksSignOptions,
  StripeOptions, GitHubOptions, GitHubProvider, GitHubSignOptions, ShopifyOptions, ShopifyProvider, ShopifySignOptions, SlackOptions
} from './plugin/index.js'
export type {
  PublicUrlOption, RequestTarget, ChallengeRequest, ChallengeResponse, TwilioOptions, TwilioProvider, TwilioSignOptions,
  MetaOptions,
  ZoomOptions,
  MailgunOptions, MailgunProvider, MailgunSignOptions,
  HubSpotOptions, HubSpotProvider, HubSpotSignOptions,
  SendGridOptions, SendGridProvider, SendGridSignOptions,
  DiscordOptions, DiscordProvider, DiscordSignOptions,
  LinearOptions, LinearProvider, LinearSignOptions,
  PaddleOptions,
  SquareOptions, SquareProvider, SquareSignOptions
} from './plugin/index.js'
export { safeJobId, EVENT_VERSION, SOURCE_PATTERN, JOB_NAME, defineHandler, PermanentError, RateLimitedError, WorkerErrors, checkPersistence, createPoller, createWebhookWorker, createDeadLetters, serveWorkerOps } from './worker/index.js'
export type { WebhookEvent, PersistenceReport, RedisConnection, RedisClient, ByType, ByName, EventTypes, EventTypeName } from './worker/index.js'
export type {
  WebhookWorkerHandle, CloseOptions, WorkerHealth, WorkerHealthStatus, WorkerOps, WorkerOpsOptions, WorkerHealthSource, MetricsOption, WebhookWorkerOptions, WorkerContext, Hydrate, Apply, RetryOptions, DedupeOptions, DeadLetterOptions, WorkerPersistenceCheck,
  AttemptReport, AttemptOutcome, DeadLetterAlert, WorkerStats, WebhookWorkerEvents, DeadLetters, DeadLettersOptions, ReplayOptions,
  DeadLetter, DeadLetterStage, DeadLetterError, DeadLetterFilter, DeadLetterPage, DeadLetterCursor, DeadLetterCursorPage, DeadLetterFailure, ReplayResult, ClaimDecision,
  RateLimitOptions, ObjectKeyOf, VersionOf, ObjectVersion, StaleInfo, Handler, SourceHandlers, WorkerHandlers, UnhandledPolicy, UntypedEvents,
  WorkerOptionsFor, DefaultEvents
} from './worker/index.js'
export type { Poller, PollerOptions, PollerStatus, PollRunEvent, PollLagEvent, PollResult, PollRunResult, PollChange, PollPage, PollContext, FetchChanges, CursorStore } from './worker/index.js'
