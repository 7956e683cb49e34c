#!/usr/bin/env node
/**
 * The `pltap` command.
 * @internal
 * @module
 */
import { runDemo, runDemoService } from './demo.js'
import { reexecInPrivateNetns } from './netns.js'
import { runVsysd } from './vsysd.js'

const HELP: Record<string, string> = {
  main: `Usage: pltap <command> [options]

Commands:
  demo                 the main job: a vsys helper, a vsys Netdev, ARP/ICMP answered
                       from TypeScript, the system ping against it (private netns)
  bridge <ifA> <ifB>   create two TAP devices and forward frames between them
  vsysd [flags]        run the vsys-compatible privileged helper
  capture <ifname>     create a TAP/TUN device and capture what it receives (pcap)

Run "pltap <command> --help" for a command's options.`,
  demo: `Usage: pltap demo

Runs, inside a private network namespace that it creates and removes, the main job across
the real privilege boundary: the vsys helper (pltap vsysd --slice-uid 1000) as root in a
process of its own; the service half as uid 1000 with no capabilities (setpriv), which
opens a Netdev through the helper (allocator 'vsys'), runs setConfig({ localIp:
'198.18.0.1', localNetmask: 24 }) and answers ARP and ICMP for 198.18.0.2 in TypeScript;
'ping -c 5 198.18.0.2' from root; promiscuous mode on and off; close (vif_down); then uid
1001, outside the slice, trying to get a device. Exits 0 only if all five pings were
answered, the kernel learned the service's ARP reply and uid 1001 was refused.
Needs root (CAP_NET_ADMIN), setpriv (util-linux) and ping (iputils-ping).
("pltap demo --service <dir>" is the demo's own service half.)`,
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const wantsHelp = rest.includes('--help') || rest.includes('-h')
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(HELP.main)
      return command === undefined ? 2 : 0
    case 'demo': {
      if (wantsHelp) {
        console.log(HELP.demo)
        return 0
      }
      if (rest[0] === '--service' && rest[1] !== undefined && rest.length <= 3 && (rest.length === 2 || rest[2] === '--probe')) {
        return runDemoService(rest[1], rest[2] === '--probe')
      }
      if (rest.length > 0) {
        console.error(`pltap demo: unexpected argument ${rest[0]}\n\n${HELP.demo}`)
        return 2
      }
      const code = reexecInPrivateNetns([process.execPath, process.argv[1]!, 'demo'])
      return code ?? runDemo(process.argv[1]!)
    }
    case 'bridge':
      return (await import('./bridge.js')).run(rest)
    case 'vsysd':
      return runVsysd(rest)
    case 'capture':
      return (await import('./capture.js')).run(rest)
    default:
      console.error(`pltap: unknown command ${JSON.stringify(command)}\n\n${HELP.main}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(`pltap: ${err instanceof Error ? err.message : String(err)}`)
    process.exitCode = 1
  },
)
