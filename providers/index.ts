/**
 * `fastify-hybrid-webhooks/providers`: the signature presets and the
 * `Provider` interface, with no Fastify, BullMQ or Redis behind them, for
 * signing test deliveries and for writing a provider of your own.
 *
 * The provider presets. Each is a factory `({ secret, ...options }) => Provider`
 * with a static `delivery` field: how the sender delivers, for sizing the
 * dedupe TTL (e.g. `providers.stripe.delivery.suggestedDedupeTtlMs`).
 */
import type { DeliveryFacts } from './provider.js'
import { hmac, HMAC_DELIVERY } from './hmac.js'
import { clerk, resend, standardWebhooks, STANDARD_WEBHOOKS_DELIVERY, svix, SVIX_DELIVERY } from './standard-webhooks.js'
import { stripe, STRIPE_DELIVERY } from './stripe.js'
import { github, GITHUB_DELIVERY } from './github.js'
import { shopify, SHOPIFY_DELIVERY } from './shopify.js'
import { slack, SLACK_DELIVERY } from './slack.js'
import { twilio, TWILIO_DELIVERY } from './twilio.js'
import { square, SQUARE_DELIVERY } from './square.js'
import { paddle, PADDLE_DELIVERY } from './paddle.js'
import { linear, LINEAR_DELIVERY } from './linear.js'
import { discord, DISCORD_DELIVERY } from './discord.js'
import { sendgrid, SENDGRID_DELIVERY } from './sendgrid.js'
import { hubspot, HUBSPOT_DELIVERY } from './hubspot.js'
import { mailgun, MAILGUN_DELIVERY } from './mailgun.js'
import { zoom, ZOOM_DELIVERY } from './zoom.js'
import { meta, META_DELIVERY } from './meta.js'

/** A preset factory with its sender's delivery facts. */
export type PresetFactory<O, P> = ((options: O) => P) & {
  /** How the sender delivers: retry horizon, suggested dedupe TTL, response deadline. */
  readonly delivery: DeliveryFacts
}

function preset<O, P> (factory: (options: O) => P, delivery: DeliveryFacts): PresetFactory<O, P> {
  const named = { [factory.name]: (options: O): P => factory(options) }[factory.name]
  return Object.defineProperty(named, 'delivery', { value: delivery, enumerable: true }) as PresetFactory<O, P>
}

/** Signature scheme presets for `webhookPlugin`'s `provider` option. */
export const providers = Object.freeze({
  /** The generic HMAC scheme (see the README's "Generic HMAC"). Its `delivery` is a conservative default for an unknown sender (14-day dedupe). */
  hmac: preset(hmac, HMAC_DELIVERY),
  /** Standard Webhooks and Svix (`webhook-*` and `svix-*` headers). Retries up to 75.6 h (Svix 27.6 h): dedupe 4 days. */
  standardWebhooks: preset(standardWebhooks, STANDARD_WEBHOOKS_DELIVERY),
  /** Stripe (`Stripe-Signature`). Retries for 3 days: dedupe 4 days on the `evt_…` id. */
  stripe: preset(stripe, STRIPE_DELIVERY),
  /** GitHub (`X-Hub-Signature-256`), JSON or form bodies. No automatic retries; manual redelivery for 30 days. */
  github: preset(github, GITHUB_DELIVERY),
  /** Shopify (`X-Shopify-Hmac-Sha256` or `Shopify-Hmac-Sha256`). Retries for 4 h: dedupe 24 h. */
  shopify: preset(shopify, SHOPIFY_DELIVERY),
  /** Slack (`X-Slack-Signature`), Events API, slash commands and interactivity. Retries 3 times: dedupe 1 h. */
  slack: preset(slack, SLACK_DELIVERY),
  /** Twilio (`X-Twilio-Signature`), form bodies or JSON with `bodySHA256`; signs the public URL (`publicUrl`). No signed time: dedupe 24 h. */
  twilio: preset(twilio, TWILIO_DELIVERY),
  /** Square (`X-Square-HmacSha256-Signature`) over the notification URL and body (`notificationUrl`). Retries for 72 h: dedupe 4 days on `event_id`. */
  square: preset(square, SQUARE_DELIVERY),
  /** Paddle Billing (`Paddle-Signature` `ts=…;h1=…`), a 5 s window. Retries for 3 days: dedupe 4 days on `event_id`. */
  paddle: preset(paddle, PADDLE_DELIVERY),
  /** Linear (`Linear-Signature`), the signed body `webhookTimestamp` within 60 s. Retries for ~7 h: dedupe 24 h on `Linear-Delivery` (+ replay key). */
  linear: preset(linear, LINEAR_DELIVERY),
  /** Discord interactions (`X-Signature-Ed25519`, Ed25519 with the application's `publicKey`); PING answered inline, the rest deferred. No retries: dedupe 1 h. */
  discord: preset(discord, DISCORD_DELIVERY),
  /** SendGrid Event Webhook (`X-Twilio-Email-Event-Webhook-Signature`, ECDSA P-256 with the verification `publicKey`), a JSON array per batch. Retries for 24 h: dedupe 2 days. */
  sendgrid: preset(sendgrid, SENDGRID_DELIVERY),
  /** HubSpot signature v3 (`X-HubSpot-Signature-v3` over method, public URI, body and ms timestamp; `publicUrl`), a JSON array per batch. Retries for 24 h: dedupe 2 days. */
  hubspot: preset(hubspot, HUBSPOT_DELIVERY),
  /** Mailgun (HMAC-SHA256 of the body's signed timestamp + token; the event itself is unsigned), the token as replay key. Retries for 8 h: dedupe 24 h. */
  mailgun: preset(mailgun, MAILGUN_DELIVERY),
  /** Zoom (`x-zm-signature` `v0=…`), `endpoint.url_validation` answered inline. Retries for 85 min: dedupe 24 h. */
  zoom: preset(zoom, ZOOM_DELIVERY),
  /** Meta: WhatsApp, Messenger, Instagram (`X-Hub-Signature-256` with the app secret); the GET `hub.challenge` handshake with `verifyToken`. Retries up to 7 days: dedupe 8 days. */
  meta: preset(meta, META_DELIVERY),
  /** Senders that deliver through Svix: Standard Webhooks with `svix-*` headers by default. Retries for 27.6 h: dedupe 2 days. */
  svix: preset(svix, SVIX_DELIVERY),
  /** Clerk (through Svix: `svix-id`, `svix-timestamp`, `svix-signature`, a `whsec_` secret). Retries for 27.6 h: dedupe 2 days. */
  clerk: preset(clerk, SVIX_DELIVERY),
  /** Resend (through Svix: `svix-id`, `svix-timestamp`, `svix-signature`, a `whsec_` secret). Retries for 27.6 h: dedupe 2 days. */
  resend: preset(resend, SVIX_DELIVERY)
})

/** Every coded error of the package; the presets throw `WEBHOOK_PROVIDER_INVALID_OPTION` and `WEBHOOK_PROVIDER_BAD_SIGNING_SECRET`. */
export { WebhookErrors } from '../core/errors.js'
export type { WebhookErrorCode } from '../core/errors.js'
export type { HmacOptions, HmacProvider, HmacSignOptions } from './hmac.js'
export type { StandardWebhooksOptions, StandardWebhooksProvider, StandardWebhooksSignOptions } from './standard-webhooks.js'
export type { StripeOptions } from './stripe.js'
export type { GitHubOptions, GitHubProvider, GitHubSignOptions } from './github.js'
export type { ShopifyOptions, ShopifyProvider, ShopifySignOptions } from './shopify.js'
export type { SlackOptions } from './slack.js'
export type { TwilioOptions, TwilioProvider, TwilioSignOptions } from './twilio.js'
export type { PublicUrlOption } from './public-url.js'
export type { SquareOptions, SquareProvider, SquareSignOptions } from './square.js'
export type { PaddleOptions } from './paddle.js'
export type { LinearOptions, LinearProvider, LinearSignOptions } from './linear.js'
export type { DiscordOptions, DiscordProvider, DiscordSignOptions } from './discord.js'
export type { SendGridOptions, SendGridProvider, SendGridSignOptions } from './sendgrid.js'
export type { HubSpotOptions, HubSpotProvider, HubSpotSignOptions } from './hubspot.js'
export type { MailgunOptions, MailgunProvider, MailgunSignOptions } from './mailgun.js'
export type { ZoomOptions } from './zoom.js'
export type { MetaOptions } from './meta.js'
export type {
  Provider, ContentKind, IncomingHeaders, SecretOption, SecretContext, SecretResolver, VerifyFailureReason, VerifyInput,
  VerifySuccess, VerifyFailure, VerifyResult, BodyFailureReason, ParsedBody, ProviderRequest, EventFields, BodyFailure,
  InlineResponse, DeliveryFacts, SignOptions, RequestTarget, ChallengeRequest, ChallengeResponse
} from './provider.js'
