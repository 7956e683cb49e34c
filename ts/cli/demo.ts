/**
 * `pltap demo`: the main job, end to end, across the real privilege boundary, in a private
 * network namespace.
 *
 * As root:
 * 1. start the vsys helper (`pltap vsysd --dir D --slice-uid 1000`) as a separate process;
 * 2. start the service half as uid 1000 with no capabilities and no groups (`setpriv`),
 *    exactly as a PlanetLab sliver ran;
 *
 * as uid 1000 (the service half, `pltap demo --service D`):
 * 3. open a Netdev through the helper (`allocator: 'vsys'`);
 * 4. `setConfig` → `vif_up` gives the tap 198.18.0.1/24 and brings it UP;
 * 5. answer ARP and ICMP echo for 198.18.0.2 in TypeScript, through Rx and send;
 *
 * as root again:
 * 6. run the system `ping -c 5 198.18.0.2` against it, and check that the kernel learned
 *    the service's ARP reply (`ip neigh`);
 * 7. ask the service to toggle promiscuous mode (the `promisc` script) and close (`vif_down`);
 * 8. show that uid 1001, outside the slice, is refused: once by the directory's modes, once
 *    (given the slice's group) by the helper's peer-credential check;
 * 9. clean up. Exit 0 only if all five pings were answered, the kernel learned the ARP
 *    reply and both outsiders were refused.
 * @internal
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Netdev } from '../netdev.js'
import { arpReply, icmpEchoReply } from './packets.js'
import { runtimeForOthers, type SliceIdentity, spawnAs } from './slice.js'

const LOCAL_IP = '198.18.0.1'
const PEER_IP = '198.18.0.2'
const PEER_MAC = '02:00:c6:12:00:02'
/** The slice the helper serves, and the uid the service half runs as. */
const SLICE: SliceIdentity = { uid: 1000, gid: 1000 }
/** A uid outside the slice. */
const OUTSIDER = 1001

/** Where the step log goes: stdout, or stderr with `--json` (stdout then carries only the result). */
let logTo: 'stdout' | 'stderr' = 'stdout'

function log(step: string, detail: unknown = ''): void {
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail)
  const line = `[demo] ${step}${text ? ` ${text}` : ''}`
  if (logTo === 'stdout') console.log(line)
  else console.error(line)
}

/** The stdout of the demo's children: the demo's stdout, or its stderr with `--json`. */
function childOut(): 'inherit' | NodeJS.WriteStream {
  return logTo === 'stdout' ? 'inherit' : process.stderr
}

/** What to undo if the demo is stopped early (a signal, or stdout closed): see {@link stopDemo}. */
const cleanups = new Set<() => Promise<void>>()

/**
 * Stops a running demo early: stops the service half and the helper, waiting for each to
 * exit, and removes the work directory. Idempotent; resolves when everything is gone.
 */
export async function stopDemo(): Promise<void> {
  for (const cleanup of [...cleanups]) await cleanup()
}

function startHelper(cli: string, dir: string): Promise<ChildProcess> {
  // Dies with the demo twice over: SIGTERM when the demo's process dies (setpriv's
  // PR_SET_PDEATHSIG), and a clean stop when its stdin, a pipe from the demo, reaches EOF.
  const argv = [
    cli,
    'vsysd',
    '--dir',
    dir,
    '--slice-uid',
    String(SLICE.uid),
    '--slice-name',
    'demo_slice',
    '--vnet',
    '198.18.0.0/16',
    '--die-with-parent',
  ]
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', '--', process.execPath, ...argv], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pltap vsysd did not start within 10 s')), 10_000)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`pltap vsysd exited early with code ${code}`)))
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('serving')) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve(child)
      }
    })
  })
}

function runPing(): Promise<{ code: number | null; received: number; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ping', ['-c', '5', '-i', '0.2', '-W', '2', '-n', PEER_IP], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d
      for (const line of d.split('\n')) if (line.trim()) (logTo === 'stdout' ? console.log : console.error)(`  ping | ${line}`)
    })
    p.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    p.once('error', (err) => reject(new Error(`cannot run ping (install iputils-ping): ${err.message}`)))
    p.once('exit', (code) => {
      const m = /(\d+) received/.exec(output)
      resolve({ code, received: m ? Number(m[1]) : 0, output })
    })
  })
}

/** What the service half reports over the IPC channel. */
type ServiceMessage =
  | { step: 'ready'; realName: string; mac: string; uid: number; flags: unknown; config: unknown }
  | { step: 'flags'; what: string; flags: unknown }
  | { step: 'closed'; answered: { arp: number; icmp: number }; stats: unknown; changeSeq: string }
  | { step: 'refused'; code: string; message: string }
  | { step: 'failed'; code?: string; message: string }

/** A child speaking {@link ServiceMessage}s; `next()` resolves with the next one. */
function messages(child: ChildProcess): { next(): Promise<ServiceMessage> } {
  const queue: ServiceMessage[] = []
  const waiting: Array<{ resolve(m: ServiceMessage): void; reject(e: Error): void }> = []
  let ended: Error | undefined
  child.on('message', (m) => {
    const w = waiting.shift()
    if (w) w.resolve(m as ServiceMessage)
    else queue.push(m as ServiceMessage)
  })
  child.once('exit', (code, signal) => {
    ended = new Error(`the service half exited (${signal ?? code}) before reporting`)
    for (const w of waiting.splice(0)) w.reject(ended)
  })
  return {
    next: () => {
      const m = queue.shift()
      if (m) return Promise.resolve(m)
      if (ended) return Promise.reject(ended)
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
    },
  }
}

function serviceArgv(runtime: string, vsysRoot: string, probe = false): string[] {
  return [process.execPath, join(runtime, 'dist', 'cli', 'main.js'), 'demo', '--service', vsysRoot, ...(probe ? ['--probe'] : [])]
}

/** The kernel's neighbour entry for the peer: the MAC it learned from our ARP reply. */
function learnedMac(dev: string): string | undefined {
  try {
    const out = execFileSync('ip', ['-j', 'neigh', 'show', PEER_IP, 'dev', dev], { encoding: 'utf8' })
    return (JSON.parse(out) as Array<{ lladdr?: string }>)[0]?.lladdr
  } catch {
    return undefined
  }
}

/** Runs an outsider's open attempt; resolves with the refusal it got (or null if it was let in). */
async function outsiderAttempt(runtime: string, vsysRoot: string, who: SliceIdentity): Promise<{ code: string; message: string } | null> {
  const child = spawnAs(who, serviceArgv(runtime, vsysRoot, true), { stdio: ['ignore', childOut(), 'inherit', 'ipc'] })
  const m = await messages(child).next()
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)))
  return m.step === 'refused' ? { code: m.code, message: m.message } : null
}

/**
 * Runs the demo as root; resolves with the exit code. With `json`, the step log goes to
 * stderr and the outcome is one JSON object on stdout.
 */
export async function runDemo(cli: string, options: { json?: boolean } = {}): Promise<number> {
  if (options.json) logTo = 'stderr'
  const work = mkdtempSync(join(tmpdir(), 'pltap-demo-'))
  chmodSync(work, 0o755) // the slice must be able to reach <work>/vsys; the helper guards that one
  const vsysRoot = join(work, 'vsys')
  const runtime = runtimeForOthers(join(dirname(cli), '..', '..'))
  let helper: ChildProcess | undefined
  let service: ChildProcess | undefined
  let cleaned: Promise<void> | undefined
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      cleanups.delete(cleanup)
      for (const child of [service, helper]) {
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r))
          child.kill('SIGTERM')
          await exited
        }
      }
      runtime.dispose()
      rmSync(work, { recursive: true, force: true })
      log('cleaned up')
    })())
  cleanups.add(cleanup)
  try {
    helper = await startHelper(cli, vsysRoot)
    log('vsys helper serving', `${vsysRoot} for uid ${SLICE.uid}`)

    service = spawnAs(SLICE, serviceArgv(runtime.root, vsysRoot), { stdio: ['ignore', childOut(), 'inherit', 'ipc'] })
    const from = messages(service)
    const ready = await from.next()
    if (ready.step !== 'ready') throw new Error(`the service half failed: ${'message' in ready ? ready.message : ready.step}`)
    log(`service half (uid ${ready.uid}, no capabilities) opened through fd_tuntap:`, ready.realName)
    log('MAC', ready.mac)
    log('vif_up done: config', ready.config)
    log('flags', ready.flags)

    log('running', `ping -c 5 ${PEER_IP}`)
    const ping = await runPing()
    const learned = learnedMac(ready.realName)
    log('the kernel learned the ARP reply:', `${PEER_IP} is at ${learned ?? '(nothing)'}`)

    service.send('promisc')
    for (let i = 0; i < 2; i++) {
      const m = await from.next()
      if (m.step !== 'flags') throw new Error(`the service half failed: ${'message' in m ? m.message : m.step}`)
      log(m.what, m.flags)
    }
    service.send('close')
    const closed = await from.next()
    if (closed.step !== 'closed') throw new Error(`the service half failed: ${'message' in closed ? closed.message : closed.step}`)
    log('answered from TypeScript', closed.answered)
    log('stats', closed.stats)
    log('changeSeq', closed.changeSeq)

    const byModes = await outsiderAttempt(runtime.root, vsysRoot, { uid: OUTSIDER, gid: OUTSIDER })
    log(`uid ${OUTSIDER} (not in the slice's group):`, byModes ? `refused, ${byModes.code}: ${byModes.message}` : 'LET IN')
    const byCreds = await outsiderAttempt(runtime.root, vsysRoot, { uid: OUTSIDER, gid: OUTSIDER, groups: [SLICE.gid] })
    log(`uid ${OUTSIDER} (given the slice's group):`, byCreds ? `refused, ${byCreds.code}: ${byCreds.message}` : 'LET IN')

    const checks = [
      [ping.received === 5, `${ping.received} of 5 pings answered`],
      [learned === PEER_MAC, `the kernel learned ${learned ?? 'nothing'} for ${PEER_IP}`],
      [byModes !== null && byCreds !== null, 'outsiders refused'],
    ] as const
    const failed = checks.filter(([ok]) => !ok).map(([, what]) => what)
    log(failed.length === 0 ? 'OK: all 5 pings answered by uid 1000 through the helper; outsiders refused' : `FAILED: ${failed.join('; ')}`)
    if (options.json) {
      const result = {
        ok: failed.length === 0,
        failed,
        device: ready.realName,
        pings: { sent: 5, received: ping.received },
        learnedMac: learned ?? null,
        answered: closed.answered,
        stats: closed.stats,
        outsiders: { byModes, byCreds },
      }
      console.log(JSON.stringify(result))
    }
    return failed.length === 0 ? 0 : 1
  } finally {
    await cleanup()
  }
}

function report(m: ServiceMessage): void {
  process.send!(m)
}

function errorOf(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown }
  return { code: typeof e?.code === 'string' ? e.code : 'ERR', message: typeof e?.message === 'string' ? e.message : String(err) }
}

/**
 * The service half (`pltap demo --service <vsysRoot> [--probe]`), run as the slice by
 * {@link runDemo}; it talks to its parent over the IPC channel. With `--probe` it only
 * tries to open a device and reports how it was refused.
 */
export async function runDemoService(vsysRoot: string, probe: boolean): Promise<number> {
  if (!process.send) {
    console.error('pltap demo --service is the demo\'s own service half: run "pltap demo"')
    return 2
  }
  if (probe) {
    try {
      const dev = await Netdev.open({ name: 'intruder', allocator: 'vsys', vsysRoot, timeoutMs: 5000 })
      await dev.close()
      report({ step: 'failed', message: 'the helper let an outsider in' })
    } catch (err) {
      report({ step: 'refused', ...errorOf(err) })
    }
    process.disconnect()
    return 0
  }
  // The service half shares the demo's stdout. When that pipe closes (`pltap demo | head -1`)
  // the demo itself notices and stops this process; until then, a log line that can no longer
  // be written is dropped rather than crashing the service half with an unhandled EPIPE.
  process.stdout.on('error', () => {})
  let dev: Netdev | undefined
  try {
    dev = await Netdev.open({ name: 'demo0', allocator: 'vsys', vsysRoot })
    const d = dev
    d.on('change', (c) => log('change event', c))
    await d.setConfig({ localIp: LOCAL_IP, localNetmask: 24 })
    const rx = d.rxOpen()
    const answered = { arp: 0, icmp: 0 }
    const responder = (async () => {
      for await (const frame of rx) {
        const arp = arpReply(frame, PEER_IP, PEER_MAC)
        if (arp) {
          d.send(arp)
          answered.arp++
          continue
        }
        const echo = icmpEchoReply(frame, PEER_IP)
        if (echo) {
          d.send(echo)
          answered.icmp++
        }
      }
    })()
    const commands: string[] = []
    let wake: (() => void) | undefined
    process.on('message', (m) => {
      commands.push(String(m))
      wake?.()
    })
    const command = async (): Promise<string> => {
      while (commands.length === 0) await new Promise<void>((r) => (wake = r))
      return commands.shift()!
    }
    report({ step: 'ready', realName: d.realName, mac: d.etheraddr, uid: process.getuid!(), flags: d.flags, config: d.getConfig() })

    if ((await command()) !== 'promisc') throw new Error('expected "promisc"')
    await d.setPromisc(true)
    report({ step: 'flags', what: 'promisc on: flags', flags: d.flags })
    await d.setPromisc(false)
    report({ step: 'flags', what: 'promisc off: flags', flags: d.flags })

    if ((await command()) !== 'close') throw new Error('expected "close"')
    const stats = d.stats()
    const changeSeq = String(d.changeSeq)
    await rx.close()
    await responder
    await d.close()
    dev = undefined
    report({ step: 'closed', answered, stats, changeSeq })
    process.disconnect()
    return 0
  } catch (err) {
    report({ step: 'failed', ...errorOf(err) })
    await dev?.close()
    process.disconnect()
    return 1
  }
}
