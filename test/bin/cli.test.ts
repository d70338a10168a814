import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import { main } from '../../bin/cli.js'
import { runSend } from '../../bin/send.js'
import type { CliIo } from '../../bin/command.js'
import { providers } from '../../providers/index.js'

const SECRET = 'whsec_cli_test_secret'
const EVENT = JSON.stringify({ id: 'evt_cli_1', object: 'event', type: 'invoice.paid' })

interface Captured { method?: string, url?: string, headers: IncomingMessage['headers'], body: Buffer }

function io (options: { stdin?: string | Buffer, env?: Record<string, string>, tty?: boolean } = {}): CliIo & { out: () => string, err: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c) => { out += String(c) })
  stderr.on('data', (c) => { err += String(c) })
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]) as CliIo['stdin']
  if (options.tty === true) stdin.isTTY = true
  return { stdin, stdout, stderr, env: options.env ?? {}, out: () => out, err: () => err }
}

async function server (t: Test, status = 202, reply = '{"received":true}'): Promise<{ url: string, requests: Captured[], server: Server }> {
  const requests: Captured[] = []
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(status, { 'content-type': 'application/json' }).end(reply)
    })
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => srv.close(() => resolve())))
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/v1/events`, requests, server: srv }
}

t.test('send: a Stripe event from a file, secret from WEBHOOK_SECRET, signed as Stripe signs', async (t) => {
  const { url, requests } = await server(t)
  const dir = t.testdir({ 'event.json': EVENT })
  const c = io({ env: { WEBHOOK_SECRET: SECRET } })
  const code = await runSend(['--provider', 'stripe', '--url', url, '--file', `${dir}/event.json`], c)
  t.equal(code, 0, c.err())
  t.equal(c.out(), 'HTTP 202 Accepted\n{"received":true}\n')
  t.equal(c.err(), '', 'no warning')
  t.equal(requests.length, 1)
  const [req] = requests
  t.equal(req.method, 'POST')
  t.equal(req.url, '/v1/events')
  t.equal(req.body.toString(), EVENT, 'the payload is sent byte for byte')
  t.match(req.headers, { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': /^t=\d+,v1=[0-9a-f]{64}$/ })
  const verified = providers.stripe({ secret: SECRET }).verify({ headers: req.headers, rawBody: req.body }, [SECRET], Date.now())
  t.match(verified, { ok: true, secretIndex: 0 })
  t.notMatch(c.out() + c.err(), SECRET, 'the secret is never printed')
})

t.test('send: payload on stdin, form content type, GitHub event name, extra headers, provider options', async (t) => {
  const { url, requests } = await server(t)
  const form = `payload=${encodeURIComponent('{"zen":"Keep it logically awesome."}')}`
  const c = io({ stdin: form, env: { GH_SECRET: 'gh-secret' } })
  const code = await runSend(['--provider', 'github', '--url', url, '--secret-env', 'GH_SECRET', '--content-type', 'form', '--event', 'ping',
    '--id', 'guid-1', '--header', 'X-Trace: abc'], c)
  t.equal(code, 0, c.err())
  const [req] = requests
  t.equal(req.body.toString(), form)
  t.match(req.headers, { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'ping', 'x-github-delivery': 'guid-1', 'x-trace': 'abc' })
  t.ok(providers.github({ secret: 'gh-secret' }).verify({ headers: req.headers, rawBody: req.body }, ['gh-secret'], Date.now()).ok)

  const c2 = io({ stdin: '{"event_id":"e1"}', env: { WEBHOOK_SECRET: 'k' } })
  t.equal(await runSend(['--provider', 'hmac', '--url', url, '--option', 'header=x-acme-signature', '--option', 'encoding=hex',
    '--option', 'typeHeader=x-acme-type', '--event', 'order.paid', '--file', '-'], c2), 0, c2.err())
  const hmacReq = requests[1]
  t.match(hmacReq.headers, { 'x-acme-signature': /^[0-9a-f]{64}$/, 'x-acme-type': 'order.paid' })
  t.ok(providers.hmac({ secret: 'k', header: 'x-acme-signature', encoding: 'hex' }).verify({ headers: hmacReq.headers, rawBody: hmacReq.body }, ['k'], Date.now()).ok)
})

t.test('send: secret from stdin, or from --secret with a warning', async (t) => {
  const { url, requests } = await server(t)
  const dir = t.testdir({ 'event.json': EVENT })
  const c = io({ stdin: 'stdin-secret\n' })
  t.equal(await runSend(['--provider', 'slack', '--url', url, '--file', `${dir}/event.json`, '--secret-stdin'], c), 0, c.err())
  t.ok(providers.slack({ secret: 'stdin-secret' }).verify({ headers: requests[0].headers, rawBody: requests[0].body }, ['stdin-secret'], Date.now()).ok)

  const c2 = io()
  t.equal(await runSend(['--provider', 'shopify', '--url', url, '--file', `${dir}/event.json`, '--secret', 'cli-secret'], c2), 0)
  t.match(c2.err(), /warning: --secret puts the secret in your shell history/)
  t.notMatch(c2.err(), /cli-secret/)
  t.ok(providers.shopify({ secret: 'cli-secret' }).verify({ headers: requests[1].headers, rawBody: requests[1].body }, ['cli-secret'], Date.now()).ok)

  const c3 = io({ env: { WEBHOOK_SECRET: 'whsec_' + Buffer.from('sw key').toString('base64') } })
  t.equal(await runSend(['--provider', 'svix', '--url', url, '--file', `${dir}/event.json`], c3), 0, c3.err())
  t.match(requests[2].headers, { 'webhook-id': /^msg_/, 'webhook-signature': /^v1,/ })
})

t.test('send: clear errors, exit code 2, nothing sent', async (t) => {
  const { url, requests } = await server(t)
  const dir = t.testdir({ 'event.json': EVENT, 'empty.json': '' })
  const cases: Array<[string[], RegExp, { stdin?: string, env?: Record<string, string>, tty?: boolean }?]> = [
    [['--provider', 'stripe', '--url', url, '--file', `${dir}/event.json`], /no secret: the environment variable WEBHOOK_SECRET is not set/],
    [['--provider', 'stripe', '--url', url, '--file', `${dir}/event.json`, '--secret-env', 'MY_SECRET'], /MY_SECRET is empty/, { env: { MY_SECRET: '' } }],
    [['--provider', 'stripe', '--url', url, '--file', `${dir}/missing.json`], /cannot read the payload file '.*missing.json': ENOENT/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'stripe', '--url', url, '--file', `${dir}/empty.json`], /the payload is empty/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'stripe', '--url', url], /stdin is a terminal/, { env: { WEBHOOK_SECRET: 's' }, tty: true }],
    [['--provider', 'stripe', '--url', url, '--secret-stdin'], /--secret-stdin reads the secret from stdin, so the payload needs --file/],
    [['--provider', 'stripe', '--url', url, '--secret-stdin', '--file', `${dir}/event.json`], /first line of stdin is empty/, { stdin: '\nmore' }],
    [['--provider', 'stripe', '--url', url, '--secret', '', '--file', `${dir}/event.json`], /--secret is empty/],
    [['--provider', 'paypal', '--url', url], /--provider must be one of stripe, github, shopify, slack, standard-webhooks, svix, hmac, twilio, square, paddle, linear, discord, sendgrid, hubspot, mailgun, zoom, meta, clerk, resend, got 'paypal'/],
    [['--url', url], /--provider must be one of .* got nothing/],
    [['--provider', 'stripe'], /--url is required/],
    [['--provider', 'stripe', '--url', 'localhost:3000'], /--url must be http or https/],
    [['--provider', 'stripe', '--url', 'not a url'], /--url is not a URL/],
    [['--provider', 'stripe', '--url', url, '--timeout-ms', '0'], /--timeout-ms must be a positive integer/],
    [['--provider', 'stripe', '--url', url, '--bogus'], /Unknown option '--bogus'/],
    [['--provider', 'hmac', '--url', url, '--file', `${dir}/event.json`, '--option', 'nokey'], /--option must be key=value/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'hmac', '--url', url, '--file', `${dir}/event.json`, '--option', 'secret=x'], /--option secret=… is refused/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'hmac', '--url', url, '--file', `${dir}/event.json`, '--option', 'algorithm=md5'], /Expected `hmac.algorithm`/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'hmac', '--url', url, '--file', `${dir}/event.json`, '--header', 'novalue'], /--header must be name:value/, { env: { WEBHOOK_SECRET: 's' } }],
    [['--provider', 'standard-webhooks', '--url', url, '--file', `${dir}/event.json`], /a `whsec_` secret whose rest is base64/, { env: { WEBHOOK_SECRET: 'not base64!' } }]
  ]
  for (const [argv, message, options] of cases) {
    const c = io(options)
    t.equal(await runSend(argv, c), 2, argv.join(' '))
    t.match(c.err(), message, argv.join(' '))
    t.notMatch(c.err(), /not base64!/, 'a secret is never echoed')
  }
  t.equal(requests.length, 0)
})

t.test('send: refused connection, timeout, and a non-2xx answer', async (t) => {
  const closed = await server(t)
  const port = (closed.server.address() as AddressInfo).port
  await new Promise<void>((resolve) => closed.server.close(() => resolve()))
  const dir = t.testdir({ 'event.json': EVENT })
  const env = { WEBHOOK_SECRET: 's' }
  const c = io({ env })
  t.equal(await runSend(['--provider', 'stripe', '--url', `http://127.0.0.1:${port}/v1/events`, '--file', `${dir}/event.json`], c), 2)
  t.match(c.err(), /connection refused by 127\.0\.0\.1:\d+: is the server running/)

  const hanging = createServer(() => {})
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hanging.closeAllConnections(); hanging.close() })
  const c2 = io({ env })
  t.equal(await runSend(['--provider', 'stripe', '--url', `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`, '--file', `${dir}/event.json`, '--timeout-ms', '300'], c2), 2)
  t.match(c2.err(), /no answer from http:\/\/127\.0\.0\.1:\d+ within 300 ms/)

  const c3 = io({ env })
  t.equal(await runSend(['--provider', 'stripe', '--url', 'http://nonexistent.invalid/', '--file', `${dir}/event.json`], c3), 2)
  t.match(c3.err(), /cannot resolve the host 'nonexistent.invalid'|request to http:\/\/nonexistent.invalid failed/)

  const refusing = await server(t, 401, '{"statusCode":401,"code":"FST_WEBHOOK_UNAUTHORIZED"}')
  const c4 = io({ env })
  t.equal(await runSend(['--provider', 'stripe', '--url', refusing.url, '--file', `${dir}/event.json`], c4), 1)
  t.equal(c4.out(), 'HTTP 401 Unauthorized\n{"statusCode":401,"code":"FST_WEBHOOK_UNAUTHORIZED"}\n')

  const silent = await server(t, 200, '')
  const c5 = io({ env })
  t.equal(await runSend(['--provider', 'stripe', '--url', silent.url, '--file', `${dir}/event.json`], c5), 0)
  t.equal(c5.out(), 'HTTP 200 OK\n', 'an empty body prints only the status')
})

t.test('the dispatcher: help, unknown command, send --help', async (t) => {
  const c = io()
  t.equal(await main([], c), 2)
  t.match(c.err(), /Usage: fastify-hybrid-webhooks <command>[\s\S]*send +sign one event/)
  const c2 = io()
  t.equal(await main(['--help'], c2), 0)
  t.match(c2.out(), /Commands:/)
  const c3 = io()
  t.equal(await main(['frobnicate'], c3), 2)
  t.match(c3.err(), /Unknown command 'frobnicate'. Commands: send/)
  const c4 = io()
  t.equal(await main(['send', '--help'], c4), 0)
  t.match(c4.out(), /--secret-env <NAME>/)
  const c5 = io()
  t.equal(await main(['toString'], c5), 2, 'prototype names are not commands')
})

t.test('the program runs as a process (shebang entry)', async (t) => {
  const root = new URL('../..', import.meta.url)
  const r = spawnSync(process.execPath, [...process.execArgv, 'bin/cli.ts', 'send', '--help'], { cwd: root, encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /Usage: fastify-hybrid-webhooks send/)
  const bad = spawnSync(process.execPath, [...process.execArgv, 'bin/cli.ts', 'nope'], { cwd: root, encoding: 'utf8' })
  t.equal(bad.status, 2)
  t.match(bad.stderr, /Unknown command 'nope'/)
})

t.test('the package bin: built, with its shebang, and runnable through a symlink as npx runs it', async (t) => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.same(pkg.bin, { 'fastify-hybrid-webhooks': './dist/bin/cli.js' })
  const built = join(root, pkg.bin['fastify-hybrid-webhooks'])
  t.ok(readFileSync(built, 'utf8').startsWith('#!/usr/bin/env node\n'), 'the shebang survives the build')
  const dir = t.testdir({})
  const link = join(dir, 'fastify-hybrid-webhooks')
  symlinkSync(built, link)
  const r = spawnSync(process.execPath, [link, 'send', '--help'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /--provider <name>/)
})
