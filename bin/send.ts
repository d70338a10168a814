/**
 * `send`: signs one event the way its real sender would and POSTs it, to try
 * a route by hand. The secret never goes on the command line unless asked for.
 */
import { createPublicKey } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { WebhookErrors } from '../core/errors.js'
import { providers } from '../providers/index.js'
import { parsePrivateKey, type KeyKind } from '../providers/keys.js'
import { standardWebhooksPublicOf } from '../providers/standard-webhooks.js'
import type { Provider, SignOptions } from '../providers/provider.js'
import { EXIT, say, type CliIo, type Command } from './command.js'

const PRESETS: Record<string, (options: Record<string, unknown>) => Provider> = {
  stripe: providers.stripe as never,
  github: providers.github as never,
  shopify: providers.shopify as never,
  slack: providers.slack as never,
  'standard-webhooks': withSigningKey(providers.standardWebhooks as never),
  svix: withSigningKey(providers.standardWebhooks as never),
  hmac: providers.hmac as never,
  twilio: providers.twilio as never,
  square: providers.square as never,
  paddle: providers.paddle as never,
  linear: providers.linear as never,
  discord: signedWithKey('discord', providers.discord as never, 'ed25519', 'publicKey'),
  sendgrid: signedWithKey('sendgrid', providers.sendgrid as never, 'p256', 'publicKey'),
  hubspot: providers.hubspot as never,
  mailgun: providers.mailgun as never,
  zoom: providers.zoom as never,
  meta: providers.meta as never,
  clerk: withSigningKey(providers.clerk as never),
  resend: withSigningKey(providers.resend as never)
}

/**
 * A sender that signs with a private key: the CLI's secret is that key (PEM,
 * JWK or raw seed), the preset is built with its public half, and `sign()`
 * uses the key.
 */
function signedWithKey (name: string, factory: (options: Record<string, unknown>) => Provider, kind: KeyKind, option: string): (options: Record<string, unknown>) => Provider {
  return function presetWithKey ({ secret, ...options }) {
    let key
    try {
      key = parsePrivateKey(secret, kind, name)
    } catch (err) {
      throw new UsageError(`${(err as Error).message.replace('sign() needs { privateKey }', 'the secret must be the sender\'s private key')}`)
    }
    const provider = factory({ ...options, [option]: createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString() })
    return { ...provider, sign: (body, signOptions) => provider.sign(body, { ...signOptions, privateKey: key } as SignOptions) }
  }
}

/** Standard Webhooks: a `whsk_` secret signs `v1a`, verified by its `whpk_` public key. */
function withSigningKey (factory: (options: Record<string, unknown>) => Provider): (options: Record<string, unknown>) => Provider {
  return function presetWithSigningKey ({ secret, ...options }) {
    const publicKey = typeof secret === 'string' ? standardWebhooksPublicOf(secret) : undefined
    if (publicKey === undefined) return factory({ ...options, secret })
    const provider = factory({ ...options, secret: publicKey })
    return { ...provider, sign: (body, signOptions) => provider.sign(body, { ...signOptions, secret: secret as string }) }
  }
}

const USAGE = `Usage: fastify-hybrid-webhooks send --provider <name> --url <url> [--file <path>] [options]

Signs one event as its real sender would and POSTs it; prints the status and body.
The payload comes from --file, or from stdin when --file is absent or '-'.

Options:
  --provider <name>      ${Object.keys(PRESETS).join(', ')}
  --url <url>            where to POST, e.g. http://localhost:3000/v1/events
  --file <path>          the payload file (sent byte for byte)
  --secret-env <NAME>    the environment variable holding the secret (default WEBHOOK_SECRET);
                         for discord and sendgrid, the sender's private key (PEM, JWK or raw seed);
                         for standard-webhooks, a whsk_ signing key signs v1a
  --secret-stdin         read the secret from the first line of stdin (the payload then needs --file)
  --secret <secret>      the secret itself: it lands in your shell history, prefer --secret-env
  --content-type <type>  json, form, or a full content type (default: the provider's first)
  --id <id>              the delivery or message id header, where the scheme has one
  --event <name>         github: X-GitHub-Event; shopify: X-Shopify-Topic; hmac: the type header
  --option <key=value>   a provider option, repeatable (values parsed as JSON when they are JSON)
  --header <name:value>  an extra header, repeatable
  --timeout-ms <ms>      give up after this long (default 10000)`

const S = 'string' as const
const B = 'boolean' as const
const OPTIONS = {
  provider: { type: S },
  url: { type: S },
  file: { type: S },
  'secret-env': { type: S, default: 'WEBHOOK_SECRET' },
  'secret-stdin': { type: B, default: false },
  secret: { type: S },
  'content-type': { type: S },
  id: { type: S },
  event: { type: S },
  option: { type: S, multiple: true as const, default: [] as string[] },
  header: { type: S, multiple: true as const, default: [] as string[] },
  'timeout-ms': { type: S, default: '10000' },
  help: { type: B, short: 'h', default: false }
}

type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values']

/** A user error: printed as it is, exit code 2. */
class UsageError extends Error {}

/** The `send` command. */
export const sendCommand: Command = {
  summary: 'sign one event as a provider would and POST it',
  usage: USAGE,
  run: runSend
}

/** Runs `send` with its arguments; resolves to the exit code. */
export async function runSend (argv: string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values
    if (args.help) {
      say(io.stdout, USAGE)
      return EXIT.ok
    }
    const request = await prepare(args, io)
    return await post(request, io)
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err instanceof WebhookErrors.WEBHOOK_PROVIDER_INVALID_OPTION) {
      say(io.stderr, `send: ${(err as Error).message}`)
      say(io.stderr, 'Run `fastify-hybrid-webhooks send --help` for the options.')
      return EXIT.usage
    }
    throw err
  }
}

interface Prepared {
  url: URL
  headers: Record<string, string>
  body: Buffer
  timeoutMs: number
}

async function prepare (args: Args, io: CliIo): Promise<Prepared> {
  const preset = args.provider === undefined ? undefined : (Object.hasOwn(PRESETS, args.provider) ? PRESETS[args.provider] : undefined)
  if (preset === undefined) throw new UsageError(`--provider must be one of ${Object.keys(PRESETS).join(', ')}, got ${args.provider === undefined ? 'nothing' : `'${args.provider}'`}`)
  const url = parseUrl(args.url)
  const timeoutMs = Number(args['timeout-ms'])
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`--timeout-ms must be a positive integer, got '${args['timeout-ms']}'`)
  const stdinUse = args['secret-stdin'] ? 'secret' : (args.file === undefined || args.file === '-' ? 'payload' : 'none')
  if (args['secret-stdin'] && (args.file === undefined || args.file === '-')) {
    throw new UsageError('--secret-stdin reads the secret from stdin, so the payload needs --file <path>')
  }
  const stdin = stdinUse === 'none' ? undefined : await readStdin(io)
  const secret = readSecret(args, io, stdin)
  let body = stdinUse === 'payload' ? (stdin as Buffer) : await readPayload(args.file as string)
  if (body.length === 0) throw new UsageError(`the payload is empty (${stdinUse === 'payload' ? 'stdin' : args.file})`)
  const provider = preset({ ...parseProviderOptions(args.option), secret })
  // Schemes that sign the URL (Twilio, Square, HubSpot) sign the one posted to.
  const signOptions: SignOptions & { event?: string, topic?: string, type?: string, url?: string } = { url: url.href }
  if (args['content-type'] !== undefined) signOptions.contentType = args['content-type']
  if (args.id !== undefined) signOptions.id = args.id
  if (args.event !== undefined) Object.assign(signOptions, { event: args.event, topic: args.event, type: args.event })
  // Mailgun carries its signature in the body: the payload gets one first.
  const signBody = (provider as { signBody?: (body: Buffer, options: SignOptions) => string }).signBody
  if (signBody !== undefined) {
    try {
      body = Buffer.from(signBody(body, signOptions), 'utf8')
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
  }
  const headers = { ...provider.sign(body, signOptions), ...parseHeaders(args.header) }
  // Twilio moves a JSON body's hash into the URL it signs.
  const requestUrl = (provider as { requestUrl?: (url: string, body: Buffer, options: SignOptions) => string }).requestUrl
  return { url: requestUrl === undefined ? url : new URL(requestUrl(url.href, body, signOptions)), headers, body, timeoutMs }
}

function parseUrl (value: string | undefined): URL {
  if (value === undefined) throw new UsageError('--url is required, e.g. --url http://localhost:3000/v1/events')
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`--url is not a URL: '${value}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http or https, got '${url.protocol}'`)
  return url
}

function readSecret (args: Args, io: CliIo, stdin: Buffer | undefined): string {
  if (args['secret-stdin']) {
    const line = (stdin as Buffer).toString('utf8').split(/\r?\n/)[0]
    if (line === '') throw new UsageError('--secret-stdin: the first line of stdin is empty')
    return line
  }
  if (args.secret !== undefined) {
    say(io.stderr, 'send: warning: --secret puts the secret in your shell history and process list; prefer --secret-env NAME or --secret-stdin')
    if (args.secret === '') throw new UsageError('--secret is empty')
    return args.secret
  }
  const name = args['secret-env']
  const value = io.env[name]
  if (value === undefined || value === '') {
    throw new UsageError(`no secret: the environment variable ${name} is ${value === undefined ? 'not set' : 'empty'}. ` +
      'Set it, name another one with --secret-env NAME, or pipe it in with --secret-stdin')
  }
  return value
}

async function readPayload (file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new UsageError(`cannot read the payload file '${file}': ${(err as Error).message}`)
  }
}

async function readStdin (io: CliIo): Promise<Buffer> {
  if (io.stdin.isTTY === true) throw new UsageError('no --file given and stdin is a terminal: pass --file <path> or pipe the payload in')
  const chunks: Buffer[] = []
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

function parseProviderOptions (pairs: string[]): Record<string, unknown> {
  const options: Record<string, unknown> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq < 1) throw new UsageError(`--option must be key=value, got '${pair}'`)
    const key = pair.slice(0, eq)
    if (key === 'secret') throw new UsageError('--option secret=… is refused: use --secret-env, --secret-stdin or --secret')
    const raw = pair.slice(eq + 1)
    try {
      options[key] = JSON.parse(raw)
    } catch {
      options[key] = raw
    }
  }
  return options
}

function parseHeaders (pairs: string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const pair of pairs) {
    const colon = pair.indexOf(':')
    if (colon < 1) throw new UsageError(`--header must be name:value, got '${pair}'`)
    headers[pair.slice(0, colon).trim().toLowerCase()] = pair.slice(colon + 1).trim()
  }
  return headers
}

async function post ({ url, headers, body, timeoutMs }: Prepared, io: CliIo): Promise<number> {
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' })
  } catch (err) {
    say(io.stderr, `send: ${describeFetchError(err, url, timeoutMs)}`)
    return EXIT.usage
  }
  const text = await res.text()
  say(io.stdout, `HTTP ${res.status} ${res.statusText}`.trimEnd())
  if (text !== '') say(io.stdout, text)
  return res.ok ? EXIT.ok : EXIT.refused
}

function describeFetchError (err: unknown, url: URL, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string, message?: string } }
  if (e.name === 'TimeoutError') return `no answer from ${url.origin} within ${timeoutMs} ms`
  const code = e.cause?.code
  if (code === 'ECONNREFUSED') return `connection refused by ${url.host}: is the server running and listening there?`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host '${url.hostname}'`
  return `request to ${url.origin} failed: ${e.cause?.message ?? e.message}`
}
