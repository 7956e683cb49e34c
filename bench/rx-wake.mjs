// The two receive wake modes side by side, in the same run: a two-device bridge forwarded by
// a tiny JS loop (`readPacked()` -> `sendPacked()`, both directions) between two child network
// namespaces, measured with ping (RTT p50/p99), iperf3 (UDP 64-byte flood pps, TCP Gbit/s)
// and the forwarder's CPU while idle. Rounds alternate 'loop' and 'thread'. See bench/README.md.
//
// Run with `npm run bench:wake` (= node scripts/in-netns.mjs node bench/rx-wake.mjs). Environment:
//   BENCH_ROUNDS    rounds per mode, alternating (default 3)
//   BENCH_PINGS     pings per round (default 200, at 10 ms intervals)
//   BENCH_SECONDS   seconds per iperf3 case (default 3; 0 skips iperf3)
//   BENCH_PIN       a CPU number: pin the forwarder (all its threads) to it, so that both modes
//                   get one CPU whatever their thread count (children keep every CPU)
//   BENCH_TXQLEN    the taps' txqueuelen (the kernel's queue towards the forwarder; tun's default 500)
//   BENCH_NO_SAVE   set to skip writing bench/results/
//   BENCH_ALLOW_DEBUG  set to run even with an unoptimized (debug) addon
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pltap from '../dist/index.js'

const { Netdev } = pltap
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const PINGS = Number(process.env.BENCH_PINGS ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const MODES = ['loop', 'thread']
const LOAD_AT_START = os.loadavg()
const A_IP = '198.18.30.1'
const B_IP = '198.18.30.2'

if (!(ROUNDS >= 1 && ROUNDS <= 20) || !(PINGS >= 10 && PINGS <= 10_000) || !(SECONDS >= 0 && SECONDS <= 30)) {
  console.error('bench: BENCH_ROUNDS in 1..20, BENCH_PINGS in 10..10000, BENCH_SECONDS in 0..30')
  process.exit(2)
}

// ---- A release addon, in a fresh private namespace (as bench/rx-tx.mjs) ----------------------

const ADDON = path.resolve(process.env.NAPI_RS_NATIVE_LIBRARY_PATH || path.join(root, 'pltap.linux-x64-gnu.node'))
const addonDebug = (() => {
  const elf = readFileSync(ADDON)
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const [shentsize, shnum, shstrndx] = [elf.readUInt16LE(0x3a), elf.readUInt16LE(0x3c), elf.readUInt16LE(0x3e)]
  const strtab = Number(elf.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18))
  for (let i = 0; i < shnum; i++) {
    const at = strtab + elf.readUInt32LE(shoff + i * shentsize)
    const name = elf.toString('latin1', at, elf.indexOf(0, at))
    if (name === '.symtab' || name === '.debug_info') return true
  }
  return false
})()
if (addonDebug && !process.env.BENCH_ALLOW_DEBUG) {
  console.error(`bench: ${ADDON} is a debug build; run \`npm run build:native\` first (or set BENCH_ALLOW_DEBUG=1)`)
  process.exit(2)
}
const ifs = readFileSync('/proc/net/dev', 'utf8')
  .split('\n')
  .slice(2)
  .map((l) => l.split(':')[0].trim())
  .filter(Boolean)
if (ifs.length !== 1 || ifs[0] !== 'lo') {
  console.error(`bench: refusing to run: this namespace has ${ifs.join(', ')}; use \`npm run bench:wake\` (a fresh namespace)`)
  process.exit(2)
}

// ---- Two child namespaces: held by `unshare -n sleep`, entered with nsenter (no global names) --

const children = new Set()
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

async function childNetns() {
  const child = spawn('unshare', ['-n', 'sleep', '3600'], { stdio: 'ignore' })
  children.add(child)
  const mine = readlinkSync('/proc/self/ns/net')
  for (let i = 0; i < 500; i++) {
    try {
      if (readlinkSync(`/proc/${child.pid}/ns/net`) !== mine) return child.pid
    } catch {}
    await sleep(10)
  }
  throw new Error('the child namespace never appeared')
}
const PIN = process.env.BENCH_PIN
const TXQLEN = process.env.BENCH_TXQLEN
const ALL_CPUS = `0-${os.cpus().length - 1}`
if (PIN !== undefined) execFileSync('taskset', ['-a', '-p', '-c', PIN, String(process.pid)], { stdio: 'ignore' })
// Children run on every CPU even when the forwarder is pinned.
const inNs = (pid, cmd, args) => ['taskset', ['-c', ALL_CPUS, 'nsenter', '-t', String(pid), '-n', cmd, ...args]]
function sh(pid, script) {
  const [cmd, args] = inNs(pid, 'sh', ['-ec', script])
  return execFileSync(cmd, args, { encoding: 'utf8' })
}
/** Runs `cmd` in namespace `pid`; resolves with its stdout. */
function runIn(pid, cmd, args) {
  const [c, a] = inNs(pid, cmd, args)
  const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => {
      children.delete(child)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`))
    })
  })
}

const nsA = await childNetns()
const nsB = await childNetns()
const devA = await Netdev.open({ name: 'wakeA', allocator: 'direct', ifname: 'wkA%d' })
const devB = await Netdev.open({ name: 'wakeB', allocator: 'direct', ifname: 'wkB%d' })
for (const [dev, pid, ip] of [
  [devA, nsA, A_IP],
  [devB, nsB, B_IP],
]) {
  execFileSync('ip', ['link', 'set', 'dev', dev.realName, 'netns', String(pid)])
  sh(
    pid,
    `echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
     ip link set lo up; ip addr add ${ip}/24 dev ${dev.realName}; ip link set ${dev.realName} up
     ${TXQLEN ? `ip link set dev ${dev.realName} txqueuelen ${TXQLEN}` : ''}`,
  )
}

// ---- The forwarder: both directions, readPacked -> sendPacked --------------------------------

function forward(wake) {
  const rxA = devA.rxOpen({ wake })
  const rxB = devB.rxOpen({ wake })
  const counts = { frames: 0, unsent: 0, bursts: 0 }
  const pump = async (rx, to) => {
    for (;;) {
      let burst
      try {
        burst = await rx.readPacked()
      } catch {
        return // closed
      }
      const sent = to.sendPacked(burst.data, burst.lengths)
      counts.frames += sent
      counts.bursts++
      counts.unsent += burst.lengths.length - sent
    }
  }
  const done = Promise.all([pump(rxA, devB), pump(rxB, devA)])
  return {
    counts,
    stop: async () => {
      await rxA.close()
      await rxB.close()
      await done
      return rxA.dropped + rxB.dropped
    },
  }
}

/** Where flood frames are lost: the tap in A drops what the forwarder did not read in time
 * (its TX drops), B's UDP drops what iperf3 did not take in time (receive-buffer errors). */
function lossCounters() {
  const devLine = readFileSync(`/proc/${nsA}/net/dev`, 'utf8')
    .split('\n')
    .find((l) => l.trim().startsWith(`${devA.realName}:`))
  const f = devLine.split(':')[1].trim().split(/\s+/).map(Number)
  const snmp = readFileSync(`/proc/${nsB}/net/snmp`, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'))
  const names = snmp[0].split(/\s+/)
  const values = snmp[1].split(/\s+/).map(Number)
  return { tapTxDropped: f[11], udpRcvbufErrors: values[names.indexOf('RcvbufErrors')] }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function pingRtts(count, interval) {
  const out = await runIn(nsA, 'ping', ['-n', '-c', String(count), '-i', String(interval), '-W', '2', B_IP])
  const rtts = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000)
  return { rtts, lost: count - rtts.length }
}

async function iperf(args) {
  const server = runIn(nsB, 'iperf3', ['-s', '-1', '-B', B_IP, '--json'])
  await sleep(300) // the server binds (a retry below covers a slow start)
  let client
  for (let i = 0; ; i++) {
    try {
      client = JSON.parse(await runIn(nsA, 'iperf3', ['-c', B_IP, '-t', String(SECONDS), '--json', ...args]))
      break
    } catch (err) {
      if (i >= 10) throw err
      await sleep(300)
    }
  }
  await server.catch(() => {})
  return client
}

const results = []
for (let round = 0; round < ROUNDS; round++) {
  for (const wake of round % 2 === 0 ? MODES : [...MODES].reverse()) {
    const fwd = forward(wake)
    await pingRtts(5, 0.05) // ARP, caches warm
    const { rtts, lost } = await pingRtts(PINGS, 0.01)
    rtts.sort((a, b) => a - b)
    // Idle: the forwarder waits (two pending reads); its CPU over a second.
    const c0 = process.cpuUsage()
    await sleep(1000)
    const c1 = process.cpuUsage(c0)
    const idleCpu = (c1.user + c1.system) / 1e6
    const r = { round, wake, pings: rtts.length, lost, p50: percentile(rtts, 50), p99: percentile(rtts, 99), idleCpu }
    if (SECONDS > 0) {
      // The forwarder's CPU during the flood too: on a shared machine the pps alone also
      // measure how much CPU the scheduler gave each mode (the thread mode has 3 threads).
      const f0 = fwd.counts.frames
      const b0 = fwd.counts.bursts
      const u0 = process.cpuUsage()
      const l0 = lossCounters()
      const udp = await iperf(['-u', '-b', '0', '-l', '64'])
      const u1 = process.cpuUsage(u0)
      const l1 = lossCounters()
      const s = udp.end?.sum
      if (s === undefined) throw new Error(`iperf3 gave no UDP result: ${udp.error ?? JSON.stringify(udp).slice(0, 300)}`)
      r.udp64pps = Math.round((s.packets - s.lost_packets) / s.seconds)
      r.udpSentPps = Math.round(s.packets / s.seconds)
      r.udpLostAtTap = l1.tapTxDropped - l0.tapTxDropped
      r.udpLostAtReceiver = l1.udpRcvbufErrors - l0.udpRcvbufErrors
      r.udpCpu = Number(((u1.user + u1.system) / 1e6).toFixed(3))
      r.udpFramesPerCpuMs = Math.round((fwd.counts.frames - f0) / ((u1.user + u1.system) / 1e3))
      r.udpFramesPerBurst = Number(((fwd.counts.frames - f0) / Math.max(1, fwd.counts.bursts - b0)).toFixed(1))
      const tcp = await iperf([])
      r.tcpGbps = Number((tcp.end.sum_received.bits_per_second / 1e9).toFixed(3))
    }
    r.forwarded = fwd.counts.frames
    r.unsent = fwd.counts.unsent
    r.rxDropped = await fwd.stop()
    results.push(r)
    console.log(JSON.stringify(r))
  }
}

// ---- Summary: medians per mode ------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fields = [
  ['p50', 'RTT p50 µs', 0],
  ['p99', 'RTT p99 µs', 0],
  ['udp64pps', 'UDP64 pps', 0],
  ['udpFramesPerCpuMs', 'UDP64 frames per forwarder CPU ms', 0],
  ['tcpGbps', 'TCP Gbit/s', 2],
  ['idleCpu', 'idle CPU (s per s)', 4],
]
const present = fields.filter(([k]) => results.every((r) => r[k] !== undefined))
let table = `| wake | ${present.map(([, h]) => h).join(' | ')} |\n|---|${present.map(() => '---|').join('')}\n`
for (const wake of MODES) {
  const rs = results.filter((r) => r.wake === wake)
  table += `| ${wake} | ${present.map(([k, , d]) => `${median(rs.map((r) => r[k])).toFixed(d)} (${rs.map((r) => r[k].toFixed(d)).join(', ')})`).join(' | ')} |\n`
}
console.log(`\nmedian (each round) over ${ROUNDS} round(s) per mode\n${table}`)

await devA.close()
await devB.close()

if (!process.env.BENCH_NO_SAVE) {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  })()
  const dirty = (() => {
    try {
      return execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== ''
    } catch {
      return false
    }
  })()
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  const file = path.join(here, 'results', `rx-wake-${stamp}.md`)
  mkdirSync(path.dirname(file), { recursive: true })
  writeFileSync(
    file,
    `# Rx wake modes, ${stamp}

A two-device bridge between two child network namespaces (${A_IP} and ${B_IP}), forwarded by
one JS loop per direction (\`readPacked()\` -> \`sendPacked()\`); rounds alternate the modes.
RTT from ${PINGS} pings at 10 ms intervals; UDP64 = iperf3 -u -b 0 -l 64 for ${SECONDS} s
(datagrams received per second), and frames forwarded per millisecond of the forwarder
process's CPU (user + system, all its threads) during that flood; TCP = iperf3 for ${SECONDS} s;
idle CPU = the forwarder's CPU seconds over one idle second. The machine is shared: every
figure is noisy, and pps also reflect how much CPU the scheduler gave each mode.

${table}
Machine: ${os.cpus().length} × ${cpu}, Linux ${os.release()}, Node ${process.version}, load average
${LOAD_AT_START.map((l) => l.toFixed(2)).join(' ')} at the start, ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end. Commit ${commit}${dirty ? ' (with uncommitted changes)' : ''}; addon
${path.relative(root, ADDON)} (${addonDebug ? 'debug' : 'release'}, ${statSync(ADDON).size} bytes).
Command: \`${PIN !== undefined ? `BENCH_PIN=${PIN} ` : ''}${TXQLEN ? `BENCH_TXQLEN=${TXQLEN} ` : ''}BENCH_ROUNDS=${ROUNDS} BENCH_PINGS=${PINGS} BENCH_SECONDS=${SECONDS} npm run bench:wake\`.${PIN !== undefined ? ` The forwarder was pinned to CPU ${PIN}.` : ''}

Raw results:

\`\`\`json
${JSON.stringify(results, null, 1)}
\`\`\`
`,
  )
  console.log(`wrote ${path.relative(root, file)}`)
}
process.exit(0)
