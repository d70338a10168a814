// A local stand-in for your process manager (systemd, Kubernetes, PM2): starts
// one app process and WORKERS worker processes, and stops them all on Ctrl-C.
//
//   WEBHOOK_SECRET=… REDIS_URL=redis://127.0.0.1:6379 WORKERS=2 npx tsx examples/multi-process/main.ts
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const workers = Number(process.env.WORKERS ?? 2)

// fork() passes this process's execArgv on, so a TypeScript loader carries over.
const children: ChildProcess[] = [
  fork(here('./app.ts')),
  ...Array.from({ length: workers }, () => fork(here('./worker.ts')))
]

let stopping = false
function stopAll (signal: NodeJS.Signals): void {
  if (stopping) return
  stopping = true
  for (const child of children) child.kill(signal)
}
process.once('SIGINT', () => stopAll('SIGTERM'))
process.once('SIGTERM', () => stopAll('SIGTERM'))

// One child dying takes the others down: a process manager would restart it instead.
for (const child of children) child.once('exit', () => stopAll('SIGTERM'))
await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))))
