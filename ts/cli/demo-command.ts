/**
 * `pltap demo`: options, usage, the checks before it starts (programs, privileges), and
 * stopping cleanly when stdout goes away (`pltap demo | head -1`) or a signal arrives. The
 * demo itself is in `demo.ts`.
 * @internal
 * @module
 */
import { parseArgs } from 'node:util'
import { missingNetnsPrivilege, missingPrograms } from './hints.js'

/** The usage text (`pltap demo --help` prints it on stdout, a usage error on stderr). */
export const USAGE = `Usage: pltap demo [--json]

Runs, inside a private network namespace that it creates and removes, the main job across
the real privilege boundary: the vsys helper (pltap vsysd --slice-uid 1000) as root in a
process of its own; the service half as uid 1000 with no capabilities (setpriv), which
opens a Netdev through the helper (allocator 'vsys'), runs setConfig({ localIp:
'198.18.0.1', localNetmask: 24 }) and answers ARP and ICMP for 198.18.0.2 in TypeScript;
'ping -c 5 198.18.0.2' from root; promiscuous mode on and off; close (vif_down); then uid
1001, outside the slice, trying to get a device. Exits 0 only if all five pings were
answered, the kernel learned the service's ARP reply and uid 1001 was refused.
Needs root, ip (iproute2), unshare and setpriv (util-linux) and ping (iputils-ping).
The helper and the service half never outlive the demo: if it is stopped (Ctrl-C, SIGTERM,
its stdout closed as in "pltap demo | head -1"), both are stopped and its files removed.

Options:
  --json        the step log on stderr, the outcome as one JSON object on stdout
  -h, --help    print this text
("pltap demo --service <dir> [--probe]" is the demo's own service half.)`

/** The environment mark of the demo's run inside its private namespace (netns.ts). */
const INSIDE = 'PLTAP_PRIVATE_NETNS'

/** `pltap demo [options]`; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let values: { help?: boolean; json?: boolean; service?: string; probe?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        service: { type: 'string' },
        probe: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (err) {
    console.error(`pltap demo: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (values.service !== undefined) {
    const { runDemoService } = await import('./demo.js')
    return runDemoService(values.service, values.probe === true)
  }
  if (values.probe) {
    console.error(`pltap demo: --probe goes with --service\n\n${USAGE}`)
    return 2
  }
  if (process.env[INSIDE] !== 'inside') {
    const problems = [...missingPrograms(['unshare', 'ip', 'setpriv', 'ping'])]
    const privilege = missingNetnsPrivilege('pltap demo')
    if (privilege) problems.push(privilege)
    if (problems.length > 0) {
      for (const p of problems) console.error(p.startsWith('pltap') ? p : `pltap demo ${p}`)
      return 1
    }
    const { reexecInPrivateNetns } = await import('./netns.js')
    const code = reexecInPrivateNetns([process.execPath, process.argv[1]!, 'demo', ...(values.json ? ['--json'] : [])])
    if (code !== null) return code
  }
  const demo = await import('./demo.js')
  // Stopped early: stop the helper and the service half, remove the files, then exit.
  let stopping = false
  const stop = (why: string, code: number): void => {
    if (stopping) return
    stopping = true
    console.error(`pltap demo: ${why}: stopping`)
    void demo.stopDemo().finally(() => process.exit(code))
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop('stdout was closed', 1)
    else stop(`cannot write to stdout (${err.code ?? err.message})`, 1)
  })
  process.once('SIGINT', () => stop('SIGINT', 130))
  process.once('SIGTERM', () => stop('SIGTERM', 143))
  process.once('SIGHUP', () => stop('SIGHUP', 129))
  try {
    return await demo.runDemo(process.argv[1]!, { json: values.json === true })
  } catch (err) {
    if (stopping) return new Promise<number>(() => {}) // stop() exits once everything is gone
    throw err
  }
}
