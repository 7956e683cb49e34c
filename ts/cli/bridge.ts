/**
 * `pltap bridge [options] <ifA> <ifB>`: a two-port forwarder between direct TAP or TUN
 * devices, built to be measured: counters as JSON on stdout at exit (nothing else goes to
 * stdout), live counters on stderr (`--interval`), one worker per queue pair
 * (`--queues N`) and virtio-net header pass-through (`--offload`).
 * @internal
 * @module
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Worker } from 'node:worker_threads'
import * as pkg from '../index.js'
import type { NetdevOptions } from '../netdev/types.js'
import { Netdev } from '../netdev.js'
import { Rx, type RxOptions } from '../rx.js'
import { forwardPump, newCounters, pump, type SendPacked, sumDirection } from './bridge-pump.js'

/** The usage text (`pltap bridge --help` prints it on stdout, a usage error on stderr). */
export const USAGE = `Usage: pltap bridge [options] <ifA> <ifB>

Creates the devices ifA and ifB (direct allocation; a name may be a template with %d,
the same template may be given for both: the kernel picks each number), brings them up
and forwards every frame between them until SIGINT/SIGTERM. At exit it prints its
counters as one JSON object on stdout (nothing else goes to stdout; messages go to
stderr). Runs in the current network namespace: start it inside one you created
(e.g. "ip netns exec NAME pltap bridge a0 b0"). Needs CAP_NET_ADMIN.

Options:
  --mode tap|tun          device kind (default tap); tun forwards IP packets
  --queues N              N queues per device (IFF_MULTI_QUEUE), queue i of ifA paired with
                          queue i of ifB in worker thread i (1..256, default 1)
  --interval S            print live counters on stderr every S seconds (0.05..3600)
  --engine native|js      native (default): each burst is written to the other device
                          by the receive path itself (Rx.forward, no JavaScript per
                          burst); js: handed to a JS consumer that sends it
                          (Rx.consume + sendPacked), what a TS service's own forwarding
                          costs
  --wake loop|thread      how the receive path wakes (RxOptions.wake, issue 8 item 2);
                          default: the library's
  --offload               virtio-net header offload: forward the kernel's super-frames
                          with their metadata untouched (needs issue 9's support)
  --offload-mode M        pass (default), split (frames split to MTU size in Rust, one
                          write each) or coalesce (split, then TCP segments coalesced on
                          send); implies --offload
  -h, --help              print this text`

/** What `--offload-mode` selects, as `Netdev.open`'s `offload` option. */
const OFFLOAD_MODES = {
  pass: { deliver: 'super' },
  split: { deliver: 'split', coalesce: false },
  coalesce: { deliver: 'split', coalesce: 'tcp' },
} as const
type OffloadMode = keyof typeof OFFLOAD_MODES

/** A usage error: the reason and the usage text on stderr, exit status 2. */
function usage(reason: string): number {
  console.error(`pltap bridge: ${reason}\n\n${USAGE}`)
  return 2
}

/** A queue as the multi-queue API (issue 8 item 3) hands it over; only what the bridge uses. */
interface QueueApi {
  transfer(): unknown
}
/** The loosely typed view of a Netdev with the multi-queue API. */
type MultiQueueNetdev = Netdev & { queue(i: number): QueueApi; readonly queueCount: number }

/** Whether this build has virtio-net header offload (issue 9: `dev.offload`, `readPacked().vnet`). */
export function offloadAvailable(): boolean {
  return Object.getOwnPropertyDescriptor(Netdev.prototype, 'offload') !== undefined
}

/** Whether this build has the multi-queue API (`dev.queue(i)`, `NetdevQueue.adopt`). */
export function queuesAvailable(): boolean {
  const ctor = (pkg as unknown as Record<string, unknown>).NetdevQueue as { adopt?: unknown } | undefined
  return typeof (Netdev.prototype as unknown as Record<string, unknown>).queue === 'function' && typeof ctor?.adopt === 'function'
}

/** Whether this build has the receive wake modes (issue 8 item 2: `RxOptions.wake`, `rx.wake`). */
export function wakeAvailable(): boolean {
  return Object.getOwnPropertyDescriptor(Rx.prototype, 'wake') !== undefined
}

/** Whether a queue's `sendPacked` takes vnet headers (offload on multi-queue devices). */
function queueOffloadAvailable(): boolean {
  const ctor = (pkg as unknown as Record<string, unknown>).NetdevQueue as { prototype?: { sendPacked?: { length: number } } } | undefined
  return (ctor?.prototype?.sendPacked?.length ?? 0) >= 3
}

/** Parsed and checked options. */
interface BridgeArgs {
  ifA: string
  ifB: string
  mode: 'tap' | 'tun'
  queues: number
  intervalMs: number | undefined
  offload: OffloadMode | undefined
  wake: 'loop' | 'thread' | undefined
  engine: BridgeEngine
}

/** How a burst gets from one device to the other: see `--engine`. @internal */
export type BridgeEngine = 'native' | 'js'

/** Parses argv; returns the options, or an exit status (help printed, or a usage error). */
function parse(argv: string[]): BridgeArgs | number {
  const parseStrict = () => parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true })
  let parsed: ReturnType<typeof parseStrict>
  try {
    parsed = parseStrict()
  } catch (err) {
    return usage((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (positionals.length !== 2) return usage(`expected two interface names, got ${positionals.length}`)
  const [ifA, ifB] = positionals as [string, string]
  for (const name of [ifA, ifB]) {
    if (name.length === 0 || name.length > 15 || /[\s/:]/.test(name)) return usage(`${JSON.stringify(name)} is not an interface name`)
  }
  if (ifA === ifB && !ifA.includes('%d')) return usage('the two interface names must differ (a %d template may be given twice)')
  const mode = values.mode ?? 'tap'
  if (mode !== 'tap' && mode !== 'tun') return usage(`--mode must be tap or tun, not ${JSON.stringify(mode)}`)
  let queues = 1
  if (values.queues !== undefined) {
    queues = Number(values.queues)
    if (!/^\d+$/.test(values.queues) || queues < 1 || queues > 256)
      return usage(`--queues must be an integer in 1..256, not ${JSON.stringify(values.queues)}`)
  }
  let intervalMs: number | undefined
  if (values.interval !== undefined) {
    const s = Number(values.interval)
    if (!(s >= 0.05 && s <= 3600))
      return usage(`--interval must be a number of seconds in 0.05..3600, not ${JSON.stringify(values.interval)}`)
    intervalMs = Math.round(s * 1000)
  }
  let offload: OffloadMode | undefined
  if (values['offload-mode'] !== undefined) {
    const m = values['offload-mode']
    if (!Object.hasOwn(OFFLOAD_MODES, m)) return usage(`--offload-mode must be pass, split or coalesce, not ${JSON.stringify(m)}`)
    offload = m as OffloadMode
  } else if (values.offload) {
    offload = 'pass'
  }
  const wake = values.wake
  if (wake !== undefined && wake !== 'loop' && wake !== 'thread') return usage(`--wake must be loop or thread, not ${JSON.stringify(wake)}`)
  const engine = values.engine ?? 'native'
  if (engine !== 'native' && engine !== 'js') return usage(`--engine must be native or js, not ${JSON.stringify(engine)}`)
  return { ifA, ifB, mode, queues, intervalMs, offload, wake, engine }
}

const OPTIONS = {
  mode: { type: 'string' },
  queues: { type: 'string' },
  interval: { type: 'string' },
  offload: { type: 'boolean' },
  'offload-mode': { type: 'string' },
  wake: { type: 'string' },
  engine: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/**
 * Runs `pltap bridge` with the arguments after the subcommand; resolves with the exit
 * status (0 after SIGINT/SIGTERM, 2 for a usage error or a missing feature).
 *
 * @example
 * ```ts
 * process.exitCode = await run(['--mode', 'tun', '--interval', '1', 'tunA%d', 'tunB%d'])
 * ```
 */
export async function run(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (typeof args === 'number') return args
  if (args.offload !== undefined && !offloadAvailable()) {
    console.error('pltap bridge: --offload needs virtio-net header support (issue 9), which this build does not have')
    return 2
  }
  if (args.queues > 1 && !queuesAvailable()) {
    console.error('pltap bridge: --queues N > 1 needs multi-queue support (issue 8 item 3), which is not available in this build')
    return 2
  }
  if (args.wake !== undefined && !wakeAvailable()) {
    console.error('pltap bridge: --wake needs the receive wake modes (issue 8 item 2), which this build does not have')
    return 2
  }
  if (args.queues > 1 && args.offload !== undefined && !queueOffloadAvailable()) {
    console.error('pltap bridge: --offload with --queues N > 1 needs queues that carry vnet headers, which this build does not have')
    return 2
  }
  let signalled = false
  const stop = new Promise<string>((resolve) => {
    const on = (sig: string) => () => {
      signalled = true
      resolve(sig)
    }
    process.once('SIGINT', on('SIGINT'))
    process.once('SIGTERM', on('SIGTERM'))
  })

  const open = (side: 'a' | 'b', ifname: string) =>
    Netdev.open({
      name: `bridge:${side}:${ifname}`,
      allocator: 'direct',
      ifname,
      mode: args.mode,
      ...(args.queues > 1 ? { queues: args.queues } : {}),
      ...(args.offload !== undefined ? { offload: OFFLOAD_MODES[args.offload] } : {}),
    } as NetdevOptions)
  const a = await open('a', args.ifA)
  let b: Netdev
  try {
    b = await open('b', args.ifB)
  } catch (err) {
    await a.close()
    throw err
  }
  const started = process.hrtime.bigint()
  const counters: Float64Array[] = []
  /** The wake mode the receive queues use (`rx.wake`), when the build reports one. */
  const wakes = new Set<string>()
  let finish: () => Promise<void>
  try {
    await Promise.all([a.up(), b.up()])
    const rxOptions = (args.wake !== undefined ? { wake: args.wake } : {}) as RxOptions
    finish =
      args.queues > 1
        ? await startWorkers(a as MultiQueueNetdev, b as MultiQueueNetdev, args, rxOptions, counters)
        : startPumps(a, b, rxOptions, counters, wakes, args)
  } catch (err) {
    await Promise.all([a.close(), b.close()])
    throw err
  }
  const dirAB = `${a.realName}>${b.realName}`
  const dirBA = `${b.realName}>${a.realName}`
  console.error(
    `pltap bridge: forwarding between ${a.realName} and ${b.realName} (${args.mode}, ${args.engine}, ${args.queues} queue${args.queues > 1 ? 's' : ''}` +
      `${args.offload ? `, offload ${args.offload}` : ''}; SIGINT/SIGTERM to stop)`,
  )
  let timer: NodeJS.Timeout | undefined
  if (args.intervalMs !== undefined) {
    let last = { at: started, total: 0 }
    timer = setInterval(() => {
      const now = process.hrtime.bigint()
      const ab = sumDirection(counters, 0)
      const ba = sumDirection(counters, 1)
      const total = ab.frames + ba.frames
      const rate = (total - last.total) / (Number(now - last.at) / 1e9)
      console.error(
        `pltap bridge: t=${(Number(now - started) / 1e9).toFixed(1)}s forwarded ${total} (${Math.round(rate)}/s)` +
          ` dropped ${ab.dropped + ba.dropped} errors ${ab.errors + ba.errors} | ${dirAB} ${ab.frames} | ${dirBA} ${ba.frames}`,
      )
      last = { at: now, total }
    }, args.intervalMs)
  }
  const sig = await stop
  if (timer) clearInterval(timer)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const portStats = (dev: Netdev) => {
    try {
      return dev.stats().port
    } catch {
      return null // e.g. the device was moved to another namespace and is gone from ours
    }
  }
  const ports = { [a.realName]: portStats(a), [b.realName]: portStats(b) }
  await finish()
  await Promise.all([a.close(), b.close()])
  const ab = sumDirection(counters, 0)
  const ba = sumDirection(counters, 1)
  const report: Record<string, unknown> = {
    mode: args.mode,
    queues: args.queues,
    offload: args.offload ?? null,
    engine: args.engine,
    wake: wakes.size > 0 ? [...wakes].join(',') : (args.wake ?? null),
    signal: signalled ? sig : null,
    seconds: Number(seconds.toFixed(3)),
    forwarded: ab.frames + ba.frames,
    bytes: ab.bytes + ba.bytes,
    dropped: ab.dropped + ba.dropped,
    errors: ab.errors + ba.errors,
    directions: { [dirAB]: ab, [dirBA]: ba },
    ports,
  }
  if (counters.length > 1) {
    report.perQueue = counters.map((c) => ({ [dirAB]: sumDirection([c], 0), [dirBA]: sumDirection([c], 1) }))
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  return 0
}

/** Send through a device or queue, with the vnet metadata when the burst has some. */
function sender(target: { sendPacked: (...a: never[]) => number }): SendPacked {
  const send = target.sendPacked.bind(target) as unknown as SendPacked
  return (data, lengths, vnet) => (vnet === undefined ? send(data, lengths) : send(data, lengths, vnet))
}

/** One queue pair on this thread; returns what ends it (after the devices' Rx are closed). */
function startPumps(
  a: Netdev,
  b: Netdev,
  rxOptions: RxOptions,
  counters: Float64Array[],
  wakes: Set<string>,
  args: BridgeArgs,
): () => Promise<void> {
  const c = newCounters(false)
  counters.push(c)
  const rxA = a.rxOpen(rxOptions)
  const rxB = b.rxOpen(rxOptions)
  for (const rx of [rxA, rxB]) {
    const wake = (rx as unknown as { wake?: string }).wake
    if (wake !== undefined) wakes.add(wake)
  }
  const pumps =
    args.engine === 'native'
      ? [forwardPump(rxA, b, c, 0, args.intervalMs), forwardPump(rxB, a, c, 1, args.intervalMs)]
      : [pump(rxA, sender(b), c, 0), pump(rxB, sender(a), c, 1)]
  return async () => {
    await Promise.all([rxA.close(), rxB.close()])
    await Promise.all(pumps)
  }
}

/** Message a bridge worker posts. */
type WorkerMessage = { type: 'ready' } | { type: 'error'; message: string } | { type: 'stopped' }

/** Queue pair i in worker i; resolves once every worker forwards; returns what stops them. */
async function startWorkers(
  a: MultiQueueNetdev,
  b: MultiQueueNetdev,
  args: BridgeArgs,
  rxOptions: RxOptions,
  counters: Float64Array[],
): Promise<() => Promise<void>> {
  const { Worker } = await import('node:worker_threads')
  const workers: Worker[] = []
  const exited: Promise<void>[] = []
  const stopAll = async () => {
    for (const w of workers) w.postMessage('stop')
    await Promise.all(exited)
  }
  try {
    const ready: Promise<void>[] = []
    for (let i = 0; i < args.queues; i++) {
      const c = newCounters(true)
      counters.push(c)
      const w = new Worker(join(__dirname, 'bridge-worker.js'), {
        workerData: {
          a: a.queue(i).transfer(),
          b: b.queue(i).transfer(),
          counters: c,
          index: i,
          rxOptions,
          engine: args.engine,
          intervalMs: args.intervalMs,
        },
      })
      workers.push(w)
      exited.push(new Promise((resolve) => w.once('exit', () => resolve())))
      ready.push(
        new Promise((resolve, reject) => {
          w.on('message', (m: WorkerMessage) => {
            if (m.type === 'ready') resolve()
            else if (m.type === 'error') reject(new Error(`queue ${i}: ${m.message}`))
          })
          w.once('error', reject)
          w.once('exit', (code) => reject(new Error(`queue ${i}: the worker exited (${code}) before forwarding`)))
        }),
      )
    }
    await Promise.all(ready)
  } catch (err) {
    await stopAll()
    throw err
  }
  return stopAll
}
