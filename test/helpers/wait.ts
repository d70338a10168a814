/**
 * Polls `check` every 25 ms until it returns something other than
 * `undefined`, `null` or `false`, and resolves with that; fails after
 * `timeoutMs`.
 */
export async function waitFor<T> (check: () => T | Promise<T>, timeoutMs = 10_000, label = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${label}`)
    await sleep(25)
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
