#!/usr/bin/env node
// Runs a command inside a new, private network namespace (unshare --net) with `lo` up,
// so tests, demos and benchmarks never touch the host's network. The namespace, and
// every device created in it, disappears when the command exits.
import { spawnSync } from 'node:child_process'

const [cmd, ...args] = process.argv.slice(2)
if (!cmd) {
  console.error('usage: node scripts/in-netns.mjs <command> [args...]')
  process.exit(2)
}
const r = spawnSync('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', cmd, ...args], {
  stdio: 'inherit',
})
if (r.error) {
  console.error(`in-netns: cannot run unshare: ${r.error.message}`)
  process.exit(1)
}
process.exit(r.status ?? 1)
