/**
 * `fastify-hybrid-webhooks/plugin`: the ingress plugin, provider presets,
 * plugin errors and types. Every export is named here; nothing else is public.
 */
export type { WebhookEvent } from '../worker/event.js'
