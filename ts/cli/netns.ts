/**
 * Re-running a command inside a private network namespace.
 * @internal
 * @module
 */
import { spawnSync } from 'node:child_process'

const MARK = 'PLTAP_PRIVATE_NETNS'

/**
 * Unless this process already runs in a namespace it made, re-runs `argv` under
 * `unshare --net` with `lo` up and returns its exit code; returns `null` when already
 * inside (the caller then does the work).
 */
export function reexecInPrivateNetns(argv: readonly string[]): number | null {
  if (process.env[MARK] === 'inside') return null
  const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: 'inside' },
  })
  if (r.error) {
    console.error(`pltap: cannot create a private network namespace (unshare): ${r.error.message}`)
    return 1
  }
  if (r.status === null) {
    console.error(`pltap: the namespaced run was killed by ${r.signal}`)
    return 1
  }
  return r.status
}
