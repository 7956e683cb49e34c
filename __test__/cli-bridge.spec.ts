// `pltap bridge` as a measuring tool: its usage errors, %d templates, the JSON counters at
// exit with real traffic (the kernel as both peers, each end in a namespace of its own, as
// bench/bridge.mjs sets it up), --interval, --mode tun, and the feature gates of --offload
// and --queues, and the two forwarding engines (--engine native, the default, and js).
import { execFileSync, spawn } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { announceSkips, CLI, devTest, ipFlags, ipLink, run, spawnCollecting, waitFor } from './support.ts'

announceSkips('cli-bridge.spec.ts')

const node = process.execPath

/** Preloaded into a bridge: reports which of Rx.forward and Rx.consume it called (see the fixture). */
const ENGINE_SPY = fileURLToPath(new URL('./fixtures/engine-spy.cjs', import.meta.url))

const USAGE = /Usage: pltap bridge \[options\] <ifA> <ifB>/

for (const [what, args, reason] of [
  ['an unknown option', ['--frobnicate', 'a0', 'b0'], /Unknown option '--frobnicate'/],
  ['one interface name', ['brX0'], /expected two interface names, got 1/],
  ['three interface names', ['a0', 'b0', 'c0'], /expected two interface names, got 3/],
  ['a bad --mode', ['--mode', 'tan', 'a0', 'b0'], /--mode must be tap or tun/],
  ['--queues 0', ['--queues', '0', 'a0', 'b0'], /--queues must be an integer in 1\.\.256/],
  ['--queues 1.5', ['--queues', '1.5', 'a0', 'b0'], /--queues must be an integer/],
  ['--interval 0', ['--interval', '0', 'a0', 'b0'], /--interval must be a number of seconds/],
  ['--interval without a value', ['a0', 'b0', '--interval'], /argument missing|requires an argument|--interval/],
  ['a bad --offload-mode', ['--offload-mode', 'fast', 'a0', 'b0'], /--offload-mode must be pass, split or coalesce/],
  ['a bad --wake', ['--wake', 'poll', 'a0', 'b0'], /--wake must be loop or thread/],
  ['a bad --engine', ['--engine', 'bogus', 'a0', 'b0'], /--engine must be native or js, not "bogus"/],
  ['--engine without a value', ['a0', 'b0', '--engine'], /argument missing|requires an argument|--engine/],
  ['the same fixed name twice', ['brS0', 'brS0'], /the two interface names must differ/],
  ['a name that is too long', ['a0', 'b'.repeat(16)], /is not an interface name/],
] as const) {
  test(`bridge with ${what}: usage on stderr, nothing on stdout, exit 2`, async (t) => {
    const r = await run(node, [CLI, 'bridge', ...args])
    t.is(r.code, 2, r.stderr)
    t.regex(r.stderr, reason)
    t.regex(r.stderr, USAGE)
    t.is(r.stdout, '')
    for (const a of args) if (/^\w+$/.test(a)) t.is(ipLink(a), null, `nothing was created (${a})`)
  })
}

test('bridge --help prints the options on stdout', async (t) => {
  const r = await run(node, [CLI, 'bridge', '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, USAGE)
  for (const o of ['--mode', '--queues', '--interval', '--offload', '--offload-mode', '--wake', '--engine']) t.true(r.stdout.includes(o), o)
})

/** A bridge child (`nodeArgs` go to node before the CLI); killed (SIGKILL) at teardown if it is still running. */
function spawnBridge(t: ExecutionContext, args: readonly string[], nodeArgs: readonly string[] = []) {
  const h = spawnCollecting(node, [...nodeArgs, CLI, 'bridge', ...args])
  t.teardown(async () => {
    if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL')
    await h.closed.catch(() => {})
  })
  return h
}

/** Waits for the ready line on stderr; returns the two device names. */
async function ready(h: ReturnType<typeof spawnCollecting>): Promise<[string, string]> {
  const m = await waitFor('the bridge to start', () => {
    if (h.child.exitCode !== null) throw new Error(`the bridge exited (${h.child.exitCode}): ${h.stderr()}`)
    return /forwarding between (\S+) and (\S+) /.exec(h.stderr())
  })
  return [m[1]!, m[2]!]
}

/** SIGTERM, exit 0, and the JSON on stdout (stdout holds nothing else). */
async function stopAndReport(t: ExecutionContext, h: ReturnType<typeof spawnCollecting>): Promise<Report> {
  h.child.kill('SIGTERM')
  const { code } = await h.closed
  t.is(code, 0, h.stderr())
  return JSON.parse(h.stdout()) as Report
}

interface Direction {
  frames: number
  bytes: number
  bursts: number
  dropped: number
  errors: number
}
interface Report {
  mode: string
  queues: number
  offload: string | null
  engine: string
  wake: string | null
  signal: string | null
  forwarded: number
  bytes: number
  dropped: number
  errors: number
  directions: Record<string, Direction>
  ports: Record<string, { rxPackets: number; txPackets: number } | null>
}

devTest('bridge br%d br%d: each side gets its own number from the kernel', async (t) => {
  const h = spawnBridge(t, ['brT%d', 'brT%d'])
  const [a, b] = await ready(h)
  t.regex(a, /^brT\d+$/)
  t.regex(b, /^brT\d+$/)
  t.not(a, b)
  t.true(ipFlags(a).includes('UP'))
  t.true(ipFlags(b).includes('UP'))
  const report = await stopAndReport(t, h)
  t.deepEqual(Object.keys(report.ports).sort(), [a, b].sort())
  t.deepEqual(Object.keys(report.directions), [`${a}>${b}`, `${b}>${a}`])
  t.is(report.signal, 'SIGTERM')
  t.is(ipLink(a), null)
  t.is(ipLink(b), null)
})

/**
 * A network namespace held by a child process (`unshare -n sleep`), which disappears with
 * it, and any device moved into it with it. Resolves once the child is in its own namespace.
 */
async function holdNetns(t: ExecutionContext): Promise<{ pid: number; exec: (cmd: string[]) => string }> {
  const mine = readlinkSync('/proc/self/ns/net')
  const child = spawn('unshare', ['-n', 'sleep', '600'], { stdio: 'ignore' })
  t.teardown(() => void child.kill('SIGKILL'))
  const pid = child.pid!
  await waitFor('the holder to enter its namespace', () => {
    if (child.exitCode !== null) throw new Error('unshare -n failed')
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== mine
    } catch {
      return false
    }
  })
  const exec = (cmd: string[]) => execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...cmd], { encoding: 'utf8' })
  exec(['ip', 'link', 'set', 'lo', 'up'])
  for (const k of ['all', 'default']) {
    try {
      // Devices moved in get IPv6 off: nothing unsolicited (RS, MLD, DAD) crosses the bridge.
      exec(['sysctl', '-q', '-w', `net.ipv6.conf.${k}.disable_ipv6=1`])
    } catch {
      // no IPv6: nothing to silence
    }
  }
  return { pid, exec }
}

/**
 * Moves the bridge's devices `a` and `b` into namespaces of their own with addresses
 * `${net}.1/24` and `${net}.2/24`, both up; returns a's namespace. The bridge's
 * descriptors keep working across the move; a device comes out of it down.
 */
async function joinNamespaces(t: ExecutionContext, a: string, b: string, net: string) {
  const [na, nb] = [await holdNetns(t), await holdNetns(t)]
  execFileSync('ip', ['link', 'set', a, 'netns', String(na.pid)])
  execFileSync('ip', ['link', 'set', b, 'netns', String(nb.pid)])
  na.exec(['ip', 'addr', 'add', `${net}.1/24`, 'dev', a])
  nb.exec(['ip', 'addr', 'add', `${net}.2/24`, 'dev', b])
  nb.exec(['ip', 'link', 'set', b, 'up'])
  na.exec(['ip', 'link', 'set', a, 'up'])
  return [na, nb] as const
}

for (const mode of ['tap', 'tun'] as const) {
  devTest(`bridge --mode ${mode} between two namespaces: pings answered, JSON counters at exit, --interval lines`, async (t) => {
    const h = spawnBridge(t, ['--mode', mode, '--interval', '0.1', `${mode}A%d`, `${mode}B%d`])
    const [a, b] = await ready(h)
    const [na] = await joinNamespaces(t, a, b, '198.18.97')
    const ping = await run('nsenter', [`--net=/proc/${na.pid}/ns/net`, 'ping', '-n', '-c', '5', '-i', '0.05', '-W', '5', '198.18.97.2'])
    t.is(ping.code, 0, ping.stdout + ping.stderr)
    t.regex(ping.stdout, /5 packets transmitted, 5 received/)
    // Live counters: wait for two lines, the later one counting the pings.
    await waitFor('an --interval line counting the pings', () => {
      const lines = h.stderr().match(/t=\d+\.\ds forwarded (\d+) \(\d+\/s\) dropped \d+ errors \d+ \| \S+ \d+ \| \S+ \d+/g) ?? []
      return lines.length >= 2 && Number(/forwarded (\d+)/.exec(lines.at(-1)!)![1]) >= 10
    })
    const report = await stopAndReport(t, h)
    t.is(report.mode, mode)
    t.is(report.queues, 1)
    t.is(report.offload, null)
    const ab = report.directions[`${a}>${b}`]!
    const ba = report.directions[`${b}>${a}`]!
    t.true(ab.frames >= 5, `${a}>${b}: ${JSON.stringify(ab)}`) // 5 echo requests (+ ARP in TAP mode)
    t.true(ba.frames >= 5, `${b}>${a}: ${JSON.stringify(ba)}`) // 5 echo replies
    t.true(ab.bytes >= 5 * (mode === 'tap' ? 98 : 84))
    t.is(report.forwarded, ab.frames + ba.frames)
    // IPv6 autoconf frames the kernel sent here, before the devices moved, may meet the other
    // end down mid-move: dropped (EIO), not errors.
    t.is(report.dropped, ab.dropped + ba.dropped)
    t.is(report.errors, 0)
    t.true(ab.bursts >= 1 && ab.bursts <= ab.frames + ab.dropped)
  })
}

devTest('bridge --queues 2: two workers forward, and flows spread over both queue pairs', async (t) => {
  const h = spawnBridge(t, ['--queues', '2', 'mqA%d', 'mqB%d'])
  const [a, b] = await ready(h)
  const [na] = await joinNamespaces(t, a, b, '198.18.98')
  const ping = await run('nsenter', [`--net=/proc/${na.pid}/ns/net`, 'ping', '-n', '-c', '3', '-i', '0.05', '-W', '5', '198.18.98.2'])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  // 64 UDP flows (one datagram to each of 64 ports): the kernel hashes each flow to a queue.
  const send =
    "const s = require('dgram').createSocket('udp4'); let n = 0; for (let p = 40000; p < 40064; p++) s.send('x', p, '198.18.98.2', () => { if (++n === 64) s.close() })"
  const r = await run('nsenter', [`--net=/proc/${na.pid}/ns/net`, node, '-e', send])
  t.is(r.code, 0, r.stderr)
  const report = await stopAndReport(t, h)
  t.is(report.queues, 2)
  const perQueue = (report as unknown as { perQueue: Record<string, Direction>[] }).perQueue
  t.is(perQueue.length, 2)
  const ab = perQueue.map((q) => q[`${a}>${b}`]!.frames)
  t.true(ab[0]! > 0 && ab[1]! > 0, `both queue pairs carried frames ${a}>${b}: ${ab}`)
  t.true(ab[0]! + ab[1]! >= 3 + 64)
  t.is(report.errors, 0)
})

for (const [mode, net] of [
  ['pass', '198.18.99'],
  ['split', '198.18.100'],
  ['coalesce', '198.18.101'],
] as const) {
  devTest(`bridge --offload-mode ${mode}: 4 MiB of TCP cross intact`, async (t) => {
    const h = spawnBridge(t, ['--offload-mode', mode, 'ofA%d', 'ofB%d'])
    const [a, b] = await ready(h)
    const [na, nb] = await joinNamespaces(t, a, b, net)
    const server = spawnCollecting('nsenter', [
      `--net=/proc/${nb.pid}/ns/net`,
      node,
      '-e',
      `require('net').createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => { console.log('got', n); process.exit(0) }) }).listen(5001, '${net}.2', () => console.log('listening'))`,
    ])
    t.teardown(() => void server.child.kill('SIGKILL'))
    await waitFor('the server to listen', () => server.stdout().includes('listening'))
    const client = await run('nsenter', [
      `--net=/proc/${na.pid}/ns/net`,
      node,
      '-e',
      `const s = require('net').connect(5001, '${net}.2', () => s.end(Buffer.alloc(4 << 20, 7)))`,
    ])
    t.is(client.code, 0, client.stderr)
    await server.closed
    t.regex(server.stdout(), /got 4194304/)
    const report = await stopAndReport(t, h)
    t.is(report.offload, mode)
    const ab = report.directions[`${a}>${b}`]!
    t.is(report.errors, 0)
    const average = ab.bytes / ab.frames
    if (mode === 'pass') t.true(average > 1514, `super-frames forwarded as such (average ${average.toFixed(0)} B)`)
    else t.true(average <= 1514, `split frames are at most MTU-sized (average ${average.toFixed(0)} B)`)
  })
}

for (const [k, [engine, wake, args, net]] of (
  [
    ['native', 'loop', [], '198.18.102'], // the default engine, and the default wake
    ['js', 'loop', ['--engine', 'js'], '198.18.103'],
    ['native', 'thread', ['--engine', 'native', '--wake', 'thread'], '198.18.104'],
    ['js', 'thread', ['--engine', 'js', '--wake', 'thread'], '198.18.105'],
  ] as const
).entries()) {
  devTest(
    `bridge ${args.length > 0 ? args.join(' ') : '(no --engine)'}: the ${engine} engine forwards both ways; the report names it`,
    async (t) => {
      const h = spawnBridge(t, [...args, `eng${k}A%d`, `eng${k}B%d`], ['-r', ENGINE_SPY])
      const [a, b] = await ready(h)
      t.regex(h.stderr(), new RegExp(`forwarding between ${a} and ${b} \\(tap, ${engine}, 1 queue[;,)]`))
      const [na] = await joinNamespaces(t, a, b, net)
      const ping = await run('nsenter', [`--net=/proc/${na.pid}/ns/net`, 'ping', '-n', '-c', '5', '-i', '0.05', '-W', '5', `${net}.2`])
      t.is(ping.code, 0, ping.stdout + ping.stderr)
      t.regex(ping.stdout, /5 packets transmitted, 5 received/)
      const report = await stopAndReport(t, h)
      t.is(report.engine, engine)
      t.is(report.wake, wake)
      t.is(report.queues, 1)
      const ab = report.directions[`${a}>${b}`]!
      const ba = report.directions[`${b}>${a}`]!
      t.true(ab.frames >= 6, `${a}>${b}: ${JSON.stringify(ab)}`) // 5 echo requests and an ARP request (or reply)
      t.true(ba.frames >= 6, `${b}>${a}: ${JSON.stringify(ba)}`) // 5 echo replies and an ARP reply (or request)
      t.true(ab.bytes >= 5 * 98 && ba.bytes >= 5 * 98, `${ab.bytes}, ${ba.bytes}`)
      // Frames the kernel sent before both ends were up in their namespaces (IPv6 autoconf in
      // this namespace, where the bridge brought the devices up) may have been dropped: the
      // other end was down (EIO), which counts in dropped, never in errors.
      for (const d of [ab, ba]) t.true(d.bursts >= 1 && d.bursts <= d.frames + d.dropped, JSON.stringify(d))
      t.true(report.forwarded > 0)
      t.is(report.forwarded, ab.frames + ba.frames)
      t.is(report.bytes, ab.bytes + ba.bytes)
      t.is(report.dropped, ab.dropped + ba.dropped)
      t.is(report.errors, 0)
      t.deepEqual(Object.keys(report.ports).sort(), [a, b].sort())
      // And it was that engine: one Rx.forward (native) or Rx.consume (js) per direction.
      const spy = /^engine-spy (\{.*\})$/m.exec(h.stderr())
      t.truthy(spy, h.stderr())
      t.deepEqual(JSON.parse(spy![1]!), engine === 'native' ? { forward: 2, consume: 0 } : { forward: 0, consume: 2 })
    },
  )
}

devTest('bridge --queues 2 --engine js: the workers forward with a JS consumer; the report names the engine', async (t) => {
  const h = spawnBridge(t, ['--queues', '2', '--engine', 'js', 'mqjA%d', 'mqjB%d'])
  const [a, b] = await ready(h)
  t.regex(h.stderr(), /\(tap, js, 2 queues[;,)]/)
  const [na] = await joinNamespaces(t, a, b, '198.18.106')
  const ping = await run('nsenter', [`--net=/proc/${na.pid}/ns/net`, 'ping', '-n', '-c', '3', '-i', '0.05', '-W', '5', '198.18.106.2'])
  t.is(ping.code, 0, ping.stdout + ping.stderr)
  const report = await stopAndReport(t, h)
  t.is(report.engine, 'js')
  t.is(report.queues, 2)
  const perQueue = (report as unknown as { perQueue: Record<string, Direction>[] }).perQueue
  t.is(perQueue.length, 2)
  for (const dir of [`${a}>${b}`, `${b}>${a}`]) {
    const frames = perQueue.map((q) => q[dir]!.frames)
    t.true(frames[0]! + frames[1]! >= 3, `${dir}: ${frames}`)
    t.is(frames[0]! + frames[1]!, report.directions[dir]!.frames)
  }
  t.is(report.dropped, report.directions[`${a}>${b}`]!.dropped + report.directions[`${b}>${a}`]!.dropped)
  t.is(report.errors, 0)
})
