/**
 * `pltap bridge <ifA> <ifB>`: a two-port forwarder between direct TAP devices.
 * @internal
 * @module
 */
import { Netdev } from '../netdev.js'
import type { PackedFrames, Rx } from '../rx.js'

/** Forwards frames both ways until SIGINT/SIGTERM, then prints counters. */
export async function runBridge(ifA: string, ifB: string, options: { quiet?: boolean } = {}): Promise<number> {
  const a = await Netdev.open({ name: `bridge:${ifA}`, allocator: 'direct', ifname: ifA })
  let b: Netdev
  try {
    b = await Netdev.open({ name: `bridge:${ifB}`, allocator: 'direct', ifname: ifB })
  } catch (err) {
    await a.close()
    throw err
  }
  await Promise.all([a.up(), b.up()])
  const rxA = a.rxOpen()
  const rxB = b.rxOpen()
  let forwarded = 0
  let dropped = 0
  let errors = 0
  // One await and one native call per burst, with no object per frame.
  const pump = async (rx: Rx, out: Netdev): Promise<void> => {
    for (;;) {
      let burst: PackedFrames
      try {
        burst = await rx.readPacked()
      } catch {
        return // closed
      }
      try {
        const sent = out.sendPacked(burst.data, burst.lengths)
        forwarded += sent
        dropped += burst.lengths.length - sent
      } catch {
        errors++ // e.g. EIO while the other side is down: the burst is lost, the bridge goes on
        dropped += burst.lengths.length
      }
    }
  }
  if (!options.quiet) console.log(`pltap bridge: forwarding between ${a.realName} and ${b.realName} (Ctrl-C to stop)`)
  const done = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  const pumps = [pump(rxA, b), pump(rxB, a)]
  await done
  const stats = { [a.realName]: a.stats().port, [b.realName]: b.stats().port }
  await Promise.all([a.close(), b.close()])
  await Promise.all(pumps)
  console.log(JSON.stringify({ forwarded, dropped, errors, ports: stats }, null, 2))
  return 0
}

/**
 * `pltap bridge <ifA> <ifB>` with the CLI's conventions (ts/cli/main.ts). A stand-in until
 * the bridge rewrite (its own `run`) is merged; it replaces this.
 */
export async function run(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util')
  const usage = `Usage: pltap bridge <ifA> <ifB>

Creates TAP devices ifA and ifB (direct allocation; names may use %d), brings them up
and forwards every frame between them until SIGINT/SIGTERM, then prints its counters
as JSON. Runs in the current network namespace: start it inside one you created
(e.g. "ip netns exec NAME pltap bridge a0 b0"). Needs CAP_NET_ADMIN.`
  let parsed: { values: { help?: boolean }; positionals: string[] }
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true })
  } catch (err) {
    console.error(`pltap bridge: ${(err as Error).message}\n\n${usage}`)
    return 2
  }
  if (parsed.values.help) {
    console.log(usage)
    return 0
  }
  if (parsed.positionals.length !== 2) {
    console.error(`pltap bridge: expected two interface names\n\n${usage}`)
    return 2
  }
  return runBridge(parsed.positionals[0]!, parsed.positionals[1]!)
}
