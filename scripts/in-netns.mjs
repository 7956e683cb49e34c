#!/usr/bin/env node
// Runs a command inside a new, private network namespace (unshare --net) with `lo` up,
// so tests, demos and benchmarks never touch the host's network. The namespace, and
// every device created in it, disappears when the command exits. The namespace is made
// by the CLI's own code (ts/cli/netns.ts), from the build.

const [cmd, ...args] = process.argv.slice(2)
if (!cmd) {
  console.error('usage: node scripts/in-netns.mjs <command> [args...]')
  process.exit(2)
}
let netns
try {
  netns = await import(new URL('../dist/cli/netns.js', import.meta.url).href)
} catch (err) {
  console.error(`in-netns: cannot load dist/cli/netns.js (run \`npm run build\` first): ${err.message}`)
  process.exit(1)
}
const r = netns.runInPrivateNetns([cmd, ...args])
if (r.error) {
  console.error(`in-netns: cannot run unshare: ${r.error.message}`)
  process.exit(1)
}
process.exit(r.status ?? 1)
