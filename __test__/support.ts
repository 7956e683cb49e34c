/**
 * Shared helpers for the ava suite. Tests run inside the private network namespace made by
 * `scripts/in-netns.mjs`; every address used is in 198.18.0.0/15.
 */

import { type ChildProcess, type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { runtimeForOthers, type SliceIdentity, spawnAs } from '../ts/cli/slice.ts'
import { Netdev, type NetdevChange, type NetdevOptions } from '../ts/index.ts'

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** The built CLI. */
export const CLI = join(ROOT, 'dist', 'cli', 'main.js')
/** The built package entry (for child processes and workers, which cannot load TypeScript). */
export const DIST_INDEX = join(ROOT, 'dist', 'index.js')

const CAP_NET_ADMIN = 12

function probeNetAdmin(): { ok: boolean; why: string } {
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapEff:'))
    const eff = BigInt(`0x${line!.split(/\s+/)[1]}`)
    if ((eff >> BigInt(CAP_NET_ADMIN)) & 1n) {
      try {
        readFileSync('/dev/net/tun') // EINVAL/EBADFD on read is fine: the node exists and opens
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') return { ok: false, why: `/dev/net/tun unusable (${code})` }
      }
      return { ok: true, why: '' }
    }
    return { ok: false, why: 'the process lacks CAP_NET_ADMIN (run as root through `npm run test:js`)' }
  } catch (err) {
    return { ok: false, why: `cannot read capabilities: ${(err as Error).message}` }
  }
}

const probe = probeNetAdmin()
/** Whether device tests can run here. */
export const hasNetAdmin = probe.ok
/** Why they cannot (empty when they can). */
export const noNetAdminReason = probe.why

/** `test`, or `test.skip` with a printed reason (see {@link announceSkips}) when devices cannot be created. */
export const devTest = hasNetAdmin ? test : test.skip
/** `test.serial`, or `test.skip` with a printed reason (see {@link announceSkips}). */
export const devSerial = hasNetAdmin ? test.serial : test.skip

/** Prints, once per file, why device tests are skipped. */
export function announceSkips(file: string): void {
  if (!hasNetAdmin) console.log(`[${file}] skipping device tests: ${noNetAdminReason}`)
}

/** What registers cleanup: an ava `ExecutionContext`. */
export type Teardown = Pick<ExecutionContext, 'teardown'>

/** The options of `Netdev.open`, with `allocator` defaulting to `'direct'`. */
export type DeviceOptions = Omit<NetdevOptions, 'allocator'> & { allocator?: NetdevOptions['allocator'] }

/** Opens a Netdev that is closed (with its `Rx`s) when test `t` ends, pass or fail: the device-test prologue. */
export async function withDevice(t: Teardown, options: DeviceOptions): Promise<Netdev> {
  const dev = await Netdev.open({ allocator: 'direct', ...options })
  t.teardown(() => dev.close())
  return dev
}

/** {@link withDevice}, then IPv6 silenced and `198.18.<net>.1/24` set, which brings the device UP. */
export async function upDevice(t: Teardown, net: number, options: DeviceOptions): Promise<Netdev> {
  const dev = await withDevice(t, options)
  quietIpv6(dev.realName)
  await dev.setConfig({ localIp: `198.18.${net}.1`, localNetmask: 24 })
  return dev
}

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length
}

/** Interface names of this network namespace (from /proc/net/dev, which follows the netns). */
export function linkNames(): string[] {
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter((n) => n.length > 0)
    .sort()
}

/** Kernel counters of an interface from /proc/net/dev (kernel's own view: rx = what it received). */
export function procNetDev(name: string): { rxPackets: number; txPackets: number } | undefined {
  for (const l of readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)) {
    const [n, rest] = l.split(':')
    if (n?.trim() !== name || rest === undefined) continue
    const f = rest.trim().split(/\s+/).map(Number)
    return { rxPackets: f[1]!, txPackets: f[9]! }
  }
  return undefined
}

/** `ip -o link show <name>` output, or null if the interface does not exist. */
export function ipLink(name: string): string | null {
  try {
    return execFileSync('ip', ['-o', 'link', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  } catch {
    return null
  }
}

/** The flags between `<...>` of `ip -o link show`. */
export function ipFlags(name: string): string[] {
  const out = ipLink(name)
  if (out === null) throw new Error(`no interface ${name}`)
  const m = /<([^>]*)>/.exec(out)
  return m ? m[1]!.split(',') : []
}

/**
 * Promiscuous mode on, off, then the device down: after each step the Netdev's flags and
 * the kernel (`ip -o link`) both show the change. Shared by the direct and vsys suites.
 */
export async function checkPromiscThenDown(t: ExecutionContext, dev: Netdev): Promise<void> {
  await dev.setPromisc(true)
  t.true(dev.flags.promisc)
  t.true(ipFlags(dev.realName).includes('PROMISC'))
  await dev.setPromisc(false)
  t.false(dev.flags.promisc)
  t.false(ipFlags(dev.realName).includes('PROMISC'))
  await dev.down()
  t.false(dev.flags.up)
  t.false(ipFlags(dev.realName).includes('UP'))
}

/** `ip -4 -o addr show dev <name>` output. */
export function ipAddr(name: string): string {
  return execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', name], { encoding: 'utf8' })
}

/** Turns IPv6 off on an interface so the kernel sends nothing unsolicited (RS, MLD, DAD). */
export function quietIpv6(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1')
  } catch {
    // IPv6 not available: nothing to silence
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Polls `fn` until it returns a non-undefined/non-false value, or throws after `ms` (a
 * generous deadline: the machine may be loaded; a condition that holds returns at once).
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | null | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** A running `pltap vsysd` helper in its own process. */
export interface Vsysd {
  /** The vsys root to pass as `vsysRoot`. */
  dir: string
  /** The child process. */
  child: ChildProcess
  /** What it wrote on stderr so far. */
  stderr(): string
  /** SIGTERMs it and waits for it to exit (idempotent); removes the temporary directory. */
  stop(): Promise<void>
}

/**
 * Starts `node dist/cli/main.js vsysd --dir <tmp>/vsys --slice-uid 1000 --vnet 198.18.0.0/16`
 * plus `extra` flags. `<tmp>` is searchable by anyone, so the slice reaches the frontend
 * directory, whose own modes the helper sets.
 */
export async function startVsysd(extra: readonly string[] = []): Promise<Vsysd> {
  const work = mkdtempSync(join(tmpdir(), 'pltap-test-vsys-'))
  chmodSync(work, 0o755)
  const dir = join(work, 'vsys')
  // setpriv --pdeathsig: the helper dies with this test process even if ava kills it
  // (e.g. on a timeout) before our teardown runs.
  const argv = [process.execPath, CLI, 'vsysd', '--dir', dir, '--slice-uid', '1000', '--vnet', '198.18.0.0/16', ...extra]
  const child = spawn('setpriv', ['--pdeathsig', 'SIGTERM', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    rmSync(work, { recursive: true, force: true })
  }
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`vsysd did not print "serving" within 60 s: ${out} ${stderr}`)), 60_000)
      const early = (code: number | null): void => reject(new Error(`vsysd exited early (${code}): ${stderr}`))
      child.once('error', reject)
      child.once('exit', early)
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
        if (out.includes('serving')) {
          clearTimeout(timer)
          child.off('exit', early)
          child.off('error', reject)
          resolve()
        }
      })
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { dir, child, stop, stderr: () => stderr }
}

/** The slice's uid and gid: what `startVsysd` serves. */
export const SLICE: SliceIdentity = { uid: 1000, gid: 1000 }
/** A uid outside the slice. */
export const OUTSIDER: SliceIdentity = { uid: 1001, gid: 1001 }

/** An error as the slice's process reported it (a plain object: it crossed the IPC channel). */
export interface RemoteError {
  name?: string
  code?: string
  errno?: number
  syscall?: string
  message: string
  reply?: string
  script?: string
}

/** Thrown by {@link SliceService.call} when the remote operation failed. */
export class RemoteFailure extends Error {
  constructor(readonly remote: RemoteError) {
    super(`${remote.code ?? remote.name}: ${remote.message}`)
  }
}

/** A Netdev driven in a process of the slice's (see `fixtures/slice-service.mjs`). */
export interface SliceService {
  child: ChildProcess
  /** Runs one operation there; rejects with a {@link RemoteFailure}. */
  call<T = unknown>(op: string, arg?: unknown): Promise<T>
  /** Kills the process (idempotent) and waits for it. */
  stop(): Promise<void>
}

let runtime: { root: string; fixture: string } | undefined
/** The built package and the fixture, where another uid can read them (staged once). */
function sliceRuntime(): { root: string; fixture: string } {
  if (runtime) return runtime
  const r = runtimeForOthers(ROOT)
  let fixture = join(ROOT, '__test__', 'fixtures', 'slice-service.mjs')
  if (r.root !== ROOT) {
    copyFileSync(fixture, join(r.root, 'slice-service.mjs'))
    chmodSync(join(r.root, 'slice-service.mjs'), 0o644)
    fixture = join(r.root, 'slice-service.mjs')
    process.once('exit', () => r.dispose())
  }
  runtime = { root: r.root, fixture }
  return runtime
}

/** Starts the service half as `who` (default: the slice) with no capabilities. */
export async function startSlice(who: SliceIdentity = SLICE): Promise<SliceService> {
  const rt = sliceRuntime()
  const child = spawnAs(who, [process.execPath, rt.fixture, join(rt.root, 'dist', 'index.js')], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  let nextId = 1
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  void exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`the slice's process exited: ${stderr}`))
    pending.clear()
  })
  child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: RemoteError }) => {
    const p = pending.get(m.id)
    pending.delete(m.id)
    if (m.ok) p?.resolve(m.value)
    else p?.reject(new RemoteFailure(m.error!))
  })
  const call = <T>(op: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`the slice's process is gone: ${stderr}`))
      const id = nextId++
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      child.send({ id, op, arg })
    })
  await new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  return { child, call, stop }
}

/** A child process whose output is collected as it comes. */
export interface Spawned {
  child: ChildProcessByStdio<null, Readable, Readable>
  /** What it wrote on stdout so far. */
  stdout(): string
  /** What it wrote on stderr so far. */
  stderr(): string
  /** Settles once it has exited and its output is all read (rejects if it could not start). */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts a command (in the repository root unless `cwd` says otherwise), collecting its output. */
export function spawnCollecting(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Spawned {
  const child = spawn(cmd, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  closed.catch(() => {}) // whoever awaits it sees the failure; nobody else must crash on it
  return { child, stdout: () => stdout, stderr: () => stderr, closed }
}

/** Runs a command to completion (killed after `timeoutMs`, default 30 s); resolves with its exit and output. */
export async function run(
  cmd: string,
  args: string[],
  options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const p = spawnCollecting(cmd, args, options)
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
  try {
    return { ...(await p.closed), stdout: p.stdout(), stderr: p.stderr() }
  } finally {
    clearTimeout(timer)
  }
}

// ---- Frames ---------------------------------------------------------------------------
// The CLI's own helpers (ts/cli/packets.ts): every frame the device tests build with them is
// checked by the kernel (it answers, counts or drops it), and packets.spec.ts pins the
// helpers themselves to golden bytes written out by hand.
export { arpFrame, icmpEchoReply, parseArp } from '../ts/cli/packets.ts'

/**
 * Resolves with the first `'change'` event of `dev` that `pick` accepts; rejects after `ms`
 * (a generous deadline, not a synchronisation). Listen before causing the change.
 */
export function nextChange(dev: Netdev, pick: (c: NetdevChange) => boolean, ms = 20_000): Promise<NetdevChange> {
  return new Promise((resolve, reject) => {
    const onChange = (c: NetdevChange): void => {
      if (!pick(c)) return
      clearTimeout(timer)
      dev.off('change', onChange)
      resolve(c)
    }
    const timer = setTimeout(() => {
      dev.off('change', onChange)
      reject(new Error(`no matching 'change' event on ${dev.realName} within ${ms} ms`))
    }, ms)
    dev.on('change', onChange)
  })
}
