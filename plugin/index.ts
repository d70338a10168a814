/**
 * `fastify-hybrid-webhooks/plugin`: the ingress plugin, provider presets,
 * plugin errors and types. Every export is named here; nothing else is public.
 */
import { webhookPlugin } from './plugin.js'

export { webhookPlugin }
export default webhookPlugin
export type { WebhookIntake, WebhookRegistry, WebhooksHealth } from './registry.js'
export type { IntakeHealth, HealthCheck, HealthStatus } from './health.js'
export { PluginErrors, WebhookErrors } from '../core/errors.js'
export type { WebhookErrorCode } from '../core/errors.js'
export { UnknownTenantError } from './secrets.js'
export { PLUGIN_DEFAULTS } from './resolve-options.js'
export type { WebhookPluginOptions, PersistenceCheck, AcceptTypes } from './options.js'
export { webhookOptions } from './typed-options.js'
export type { TypedWebhookPluginOptions } from './typed-options.js'
export type { IntakeStats, Outcome } from './outcome.js'
export { providers } from '../providers/index.js'
export type {
  PresetFactory, HmacOptions, HmacProvider, HmacSignOptions, StandardWebhooksOptions, StandardWebhooksProvider, StandardWebhooksSignOptions,
  StripeOptions, GitHubOptions, GitHubProvider, GitHubSignOptions, ShopifyOptions, ShopifyProvider, ShopifySignOptions, SlackOptions
} from '../providers/index.js'
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
} from '../providers/index.js'
export type {
  Provider, ContentKind, IncomingHeaders, SecretOption, SecretContext, SecretResolver, VerifyFailureReason, VerifyInput,
  VerifySuccess, VerifyFailure, VerifyResult, BodyFailureReason, ParsedBody, ProviderRequest, EventFields, BodyFailure,
  InlineResponse, DeliveryFacts, SignOptions
} from '../providers/provider.js'
export type { WebhookEvent } from '../core/event.js'
export type { ByType, ByName, EventTypes, EventTypeName } from '../core/event-types.js'
