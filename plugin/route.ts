import { performance } from 'node:perf_hooks'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { EVENT_VERSION, type WebhookEvent } from '../core/event.js'
import { parseBody } from '../providers/body.js'
import type { BacklogGuard } from './backlog.js'
import type { EventProducer } from './enqueue.js'
import { BODY_FAILURE_ERRORS, WebhookErrors } from '../core/errors.js'
import { classifyMedia, collectHeaders, pickEventHeaders, type MediaResult } from './headers.js'
import type { ResolvedPluginOptions } from './resolve-options.js'
import { SHED_REASON, type Answerer, type OutcomeFields } from './outcome.js'
import type { ChallengeResponse, EventFields, IncomingHeaders, InlineResponse, ParsedBody, ProviderRequest, RequestTarget, VerifyResult } from '../providers/provider.js'
import { secretRefusal, staticSecretOutcome, type SecretSource } from './secrets.js'
import { declaredLength, UNVERIFIED_FULL_REASON, type UnverifiedBudget } from './unverified.js'

/** What the route of one registration works with. */
export interface RouteContext {
  options: ResolvedPluginOptions
  producer: EventProducer
  secrets: SecretSource
  answer: Answerer
  /** Whether a verified event is enqueued (`acceptTypes`); every event when absent. */
  accepts?: (type: string, event: WebhookEvent) => boolean
  /** Load shedding (`maxBacklog`), when set. */
  backlog?: BacklogGuard
  /** The bytes of unverified bodies held across the route (`maxUnverifiedBytes`). */
  budget: UnverifiedBudget
}

/** The route's hooks and handler, in pipeline order. */
export interface RouteHandlers {
  checkFraming: (request: FastifyRequest, reply: FastifyReply, done: () => void) => void
  receiveWebhook: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>
  /** The GET handshake, for a provider with `challenge`. */
  answerChallenge: (request: FastifyRequest, reply: FastifyReply) => FastifyReply
  onRouteError: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply
}

/**
 * The request pipeline: method and route (Fastify's router) → content type →
 * size → signature headers → room for unverified bytes → (the body is read)
 * → secrets → verify over the raw bytes → parse → event → enqueue → 202.
 */
export function createRouteHandlers ({ options, producer, secrets, answer, accepts, backlog, budget }: RouteContext): RouteHandlers {
  const { provider, source, bodyLimit } = options
  const fixedSecrets = staticSecretOutcome(provider.secret)
  return { checkFraming, receiveWebhook, answerChallenge, onRouteError }

  // Runs before the body is read: a refused request costs no body bytes. A
  // callback hook, not an async one: no promise per request. A refusal sends
  // the reply and does not call `done`, as Fastify asks of callback hooks.
  function checkFraming (request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const { headers, media } = frame(request)
    const declared = declaredLength(request.raw)
    let refused: Refusal | undefined
    if (!media.ok) {
      refuseUnread(request, reply, new WebhookErrors.FST_WEBHOOK_UNSUPPORTED_MEDIA_TYPE(), media.reason)
    } else if (declared !== undefined && declared > bodyLimit) {
      refuseUnread(request, reply, new WebhookErrors.FST_WEBHOOK_BODY_TOO_LARGE(), 'body_too_large')
    } else if ((refused = checkHeaders(headers)) !== undefined) {
      refuseUnread(request, reply, new WebhookErrors.FST_WEBHOOK_UNAUTHORIZED(), refused.reason, refused.detail)
    } else if (declared !== undefined && !budget.reserve(request.raw, declared)) {
      refuseUnread(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), UNVERIFIED_FULL_REASON, `${declared} bytes over maxUnverifiedBytes`)
    } else {
      // Whatever ends the request (an answer, an abort, an error) gives its bytes back.
      if (declared !== 0) reply.raw.once('close', () => { budget.release(request.raw) })
      done()
    }
  }

  // The provider's header pre-check, when it has one; one that throws refuses, as verify does.
  function checkHeaders (headers: IncomingHeaders): Refusal | undefined {
    if (provider.checkHeaders === undefined) return undefined
    try {
      return provider.checkHeaders(headers, Date.now())
    } catch (err) {
      return { reason: 'verify_threw', detail: `checkHeaders threw: ${causeOf(err) ?? String(err)}` }
    }
  }

  // The handler reads the headers and media type again: kept on the request, not recomputed.
  function frame (request: FastifyRequest): Framing {
    const headers = collectHeaders(request.raw.rawHeaders)
    const framing: Framing = { headers, media: classifyMedia(headers, provider.contentTypes) }
    ;(request as FramedRequest)[FRAMING] = framing
    return framing
  }

  function refuseUnread (request: FastifyRequest, reply: FastifyReply, error: FastifyError, reason: string, detail?: string): FastifyReply {
    // The unread body would otherwise be drained from a keep-alive socket.
    reply.header('connection', 'close')
    const outcome = error.statusCode === 503 ? 'unavailable' : 'rejected'
    return answer.fail(request, reply, error, detail === undefined ? { outcome, reason } : { outcome, reason, detail })
  }

  async function receiveWebhook (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const receivedAt = Date.now()
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    const { headers, media } = (request as FramedRequest)[FRAMING] ?? frame(request)
    const kind = media.ok ? media.kind : provider.contentTypes[0]

    // A static secret needs no context, and Fastify's `routeOptions` getter builds an object per call.
    const found = fixedSecrets ?? await secrets({ headers, source, path: request.routeOptions.url ?? options.path, params: paramsOf(request) })
    if (!found.ok) return answer.fail(request, reply, ...secretRefusal(found))

    let verified: VerifyResult
    try {
      verified = provider.verify({ headers, rawBody, target: targetOf(request) }, found.secrets, Date.now())
    } catch (err) {
      // A provider must not throw on hostile input; if it does, the request is still unauthenticated.
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAUTHORIZED(), { outcome: 'rejected', reason: 'verify_threw', err })
    } finally {
      // Verified or refused, the body no longer counts as unverified.
      budget.release(request.raw)
    }
    if (!verified.ok) {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAUTHORIZED(), { outcome: 'rejected', reason: verified.reason, detail: verified.detail })
    }
    const secretIndex = verified.secretIndex

    const parsed = parseBody(kind, rawBody, provider.jsonArrays === true)
    if (!parsed.ok) return answer.fail(request, reply, new BODY_FAILURE_ERRORS[parsed.reason](), { outcome: 'rejected', reason: parsed.reason, secretIndex })

    const req: ProviderRequest = { headers, rawBody }
    // After verification the sender is authentic: a provider that throws now is
    // our bug, so the sender is told to retry (503) rather than to give up.
    let inline: InlineResponse | undefined
    let fields: EventFields | { ok: false, reason: keyof typeof BODY_FAILURE_ERRORS, detail?: string }
    try {
      inline = provider.respond?.(parsed.value, req, found.secrets[secretIndex])
      if (inline !== undefined && !inline.enqueue) {
        return answer.succeed(request, reply, inline.statusCode, inline.body, { outcome: 'responded', reason: 'inline', secretIndex })
      }
      fields = provider.toEvent(parsed.value, req, verified)
    } catch (err) {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: 'provider_threw', err })
    }
    if (fields.ok && (typeof fields.id !== 'string' || fields.id === '')) fields = { ok: false, reason: 'missing_id' }
    if (!fields.ok) {
      return answer.fail(request, reply, new BODY_FAILURE_ERRORS[fields.reason](), { outcome: 'rejected', reason: fields.reason, detail: fields.detail, secretIndex })
    }

    const event = toWebhookEvent(parsed.value, fields, headers, receivedAt, verified.timestampMs)
    const ids = { eventId: event.id, type: event.type, secretIndex }
    if (accepts !== undefined) {
      let accepted: boolean
      try {
        accepted = accepts(event.type, event)
      } catch (err) {
        return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: 'accept_types_threw', ...ids, err })
      }
      if (!accepted) return succeed(request, reply, inline, { outcome: 'ignored', reason: 'type_not_accepted', ...ids })
    }
    if (backlog?.over() === true) {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: SHED_REASON, ...ids, detail: `backlog ${backlog.last} over maxBacklog` })
    }
    // A JSON body the preset did not replace is stored as the verified text: not serialized again.
    const payloadJson = kind === 'json' && fields.payload === undefined ? parsed.text : undefined
    const started = performance.now()
    const added = await producer.add(event, payloadJson)
    const enqueueMs = Math.round((performance.now() - started) * 100) / 100
    if (!added.ok && added.reason === 'unserializable') {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNSERIALIZABLE(), { outcome: 'rejected', reason: added.reason, ...ids, detail: causeOf(added.cause) })
    }
    if (!added.ok) {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: added.reason, ...ids, enqueueMs, detail: causeOf(added.cause) })
    }
    return succeed(request, reply, inline, { outcome: added.duplicate ? 'duplicate' : 'accepted', ...ids, enqueueMs })
  }

  // 202, or the provider's inline answer (which then gives the reason).
  function succeed (request: FastifyRequest, reply: FastifyReply, inline: InlineResponse | undefined, fields: OutcomeFields): FastifyReply {
    if (inline !== undefined) return answer.succeed(request, reply, inline.statusCode, inline.body, { reason: 'inline', ...fields })
    return answer.succeed(request, reply, 202, { received: true }, fields)
  }

  function toWebhookEvent (parsed: ParsedBody, fields: EventFields, headers: IncomingHeaders, receivedAt: number, sentAt: number | undefined): WebhookEvent {
    const event: WebhookEvent = {
      v: EVENT_VERSION,
      id: fields.id,
      source,
      type: typeof fields.type === 'string' ? fields.type : '',
      payload: fields.payload === undefined ? (parsed.items ?? parsed.value) : fields.payload,
      headers: pickEventHeaders(headers, provider.eventHeaders),
      receivedAt,
      origin: 'webhook'
    }
    if (sentAt !== undefined) event.sentAt = sentAt
    if (fields.replayKey !== undefined) event.replayKey = fields.replayKey
    return event
  }

  // A GET on the path: the provider's subscription handshake, answered as text.
  function answerChallenge (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const q = request.url.indexOf('?')
    let answered: ChallengeResponse
    try {
      answered = (provider.challenge as NonNullable<typeof provider.challenge>)({ headers: collectHeaders(request.raw.rawHeaders), query: q === -1 ? '' : request.url.slice(q + 1) })
    } catch (err) {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: 'provider_threw', err })
    }
    reply.type('text/plain; charset=utf-8')
    if (answered.statusCode === 200) return answer.succeed(request, reply, 200, answered.body, { outcome: 'responded', reason: 'challenge' })
    return answer.succeed(request, reply, answered.statusCode, answered.body, { outcome: 'rejected', reason: answered.reason ?? 'challenge_refused' })
  }

  // Fastify's own errors on this route: framing and body-reading failures.
  function onRouteError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    // The body reader's refusal: a chunked body that no longer fits in maxUnverifiedBytes.
    if (error.code === 'FST_WEBHOOK_UNAVAILABLE') {
      return answer.fail(request, reply, error, { outcome: 'unavailable', reason: UNVERIFIED_FULL_REASON })
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_BODY_TOO_LARGE(), { outcome: 'rejected', reason: 'body_too_large' })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      return answer.fail(request, reply, error, { outcome: 'rejected', reason: error.code === undefined ? 'bad_request' : error.code.toLowerCase() })
    }
    // Never a 500: whatever failed, the sender keeps the event and retries.
    return answer.fail(request, reply, new WebhookErrors.FST_WEBHOOK_UNAVAILABLE(), { outcome: 'unavailable', reason: 'internal_error', err: error })
  }
}

/** Why a request is refused before its body is read. */
interface Refusal { reason: string, detail?: string }

const FRAMING = Symbol('webhookFraming')
interface Framing { headers: IncomingHeaders, media: MediaResult }
type FramedRequest = FastifyRequest & { [FRAMING]?: Framing }

/**
 * The request line for schemes that sign the URL. The origin is built only
 * when the app trusts its proxy: Fastify defines `request.ips` only under
 * `trustProxy`, and only then do `protocol` and `host` read the forwarded
 * headers. Lazily, as most schemes never ask.
 */
function targetOf (request: FastifyRequest): RequestTarget {
  return {
    method: request.method,
    url: request.url,
    get origin () { return 'ips' in request ? `${request.protocol}://${request.host}` : undefined }
  }
}

function paramsOf (request: FastifyRequest): Record<string, string> {
  return (request.params ?? {}) as Record<string, string>
}

function causeOf (cause: unknown): string | undefined {
  return cause instanceof Error ? cause.message : undefined
}
