/**
 * Running a command inside a private network namespace. Also what `scripts/in-netns.mjs`
 * (the test, bench and example runner) uses, from the build.
 * @internal
 * @module
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process'

const MARK = 'PLTAP_PRIVATE_NETNS'

/**
 * Runs `argv` to completion in a new network namespace (`unshare --net`) with `lo` up, its
 * output inherited. The namespace, and every device made in it, goes when it exits.
 */
export function runInPrivateNetns(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<Buffer> {
  return spawnSync('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv], { stdio: 'inherit', env })
}

/**
 * Unless this process already runs in a namespace it made, re-runs `argv` under
 * `unshare --net` with `lo` up and returns its exit code; returns `null` when already
 * inside (the caller then does the work).
 */
export function reexecInPrivateNetns(argv: readonly string[]): number | null {
  if (process.env[MARK] === 'inside') return null
  const r = runInPrivateNetns(argv, { ...process.env, [MARK]: 'inside' })
  if (r.error) {
    const hint = (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (install util-linux: apt-get install util-linux)' : ''
    console.error(`pltap: cannot create a private network namespace (unshare): ${r.error.message}${hint}`)
    return 1
  }
  if (r.status === null) {
    console.error(`pltap: the namespaced run was killed by ${r.signal}`)
    return 1
  }
  return r.status
}
