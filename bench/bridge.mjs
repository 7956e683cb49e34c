// The bridge benchmark: two network namespaces joined by a userspace forwarder between two
// devices, the kernel of each namespace as the peer; iperf3 TCP, iperf3 UDP 64-byte flood,
// ping RTT and the forwarder's idle CPU, for `pltap bridge` and a C forwarder of its own
// (bench/forwarder.c, built in the same run) in matching modes, alternating C and pltap in
// every round. See bench/README.md ("The bridge benchmark").
//
//   sudo npm run bench:bridge [-- --rounds N] [--seconds S] [--quick] [--rows id,id]
//                             [--no-save] [--soak [--frames N]]
//
// Topology (all namespaces created here with unique names and deleted on exit, failure
// and SIGINT/SIGTERM; addresses in 198.18.0.0/15 only):
//
//   netns A                 netns P (the forwarder runs here)           netns B
//   bbA 198.18.0.1/24  <--fd-- forwarder (opens bbA, bbB) --fd-->  bbB 198.18.0.2/24
//
// The forwarder creates both devices in P; the harness then moves bbA to A and bbB to B
// (a tap's descriptor keeps working across the move), so all traffic between A and B goes
// through the forwarder. TAP rows are an Ethernet segment, TUN rows a routed /24 (no ARP).
import { execFile, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { renderMarkdown, summarize } from './bridge-report.mjs'
import { bridgeChart } from './chart.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const CLI = path.join(root, 'dist', 'cli', 'main.js')

// ---- Options ---------------------------------------------------------------------------------

const USAGE = `usage: node bench/bridge.mjs [--rounds N] [--seconds S] [--quick] [--rows id,id,...] [--no-save]
       node bench/bridge.mjs --soak [--frames N] [--mode tap|tun] [--engine native|js]
  --rounds N     rounds; each runs every row, C before pltap (default 3)
  --seconds S    seconds per iperf3 test (default 5)
  --quick        CI smoke run: 1 round, 1 s per test, 50 pings, 1 s idle sample
  --rows LIST    only these rows (ids: see the table at the top of the results)
  --no-save      print the results only
  --note TEXT    a remark kept with the results (e.g. "shared machine: smoke figures")
  --soak         push --frames frames (default 10000000) of a UDP 64-byte flood through
                 pltap bridge, sampling its RSS and descriptor count
Run as root (namespaces, devices). Needs iperf3, ping, ip and cc.`

let opts
try {
  opts = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean' },
      rows: { type: 'string' },
      'no-save': { type: 'boolean' },
      soak: { type: 'boolean' },
      frames: { type: 'string' },
      mode: { type: 'string' },
      engine: { type: 'string' },
      note: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values
} catch (err) {
  console.error(`bench:bridge: ${err.message}\n${USAGE}`)
  process.exit(2)
}
if (opts.help) {
  console.log(USAGE)
  process.exit(0)
}
const QUICK = Boolean(opts.quick)
const ROUNDS = Number(opts.rounds ?? (QUICK ? 1 : 3))
const SECONDS = Number(opts.seconds ?? (QUICK ? 1 : 5))
const PINGS = QUICK ? 50 : 200
const IDLE_SECONDS = QUICK ? 1 : 3
const SOAK_FRAMES = Number(opts.frames ?? 10_000_000)
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 20) || !(SECONDS >= 1 && SECONDS <= 60) || !(SOAK_FRAMES >= 1000)) {
  console.error(`bench:bridge: --rounds must be 1..20, --seconds 1..60, --frames >= 1000\n${USAGE}`)
  process.exit(2)
}

// ---- The rows: data, so a missing feature is a row reported "n/a", never a crash -----------

/**
 * `kind: 'c'` runs bench/forwarder.c in `cmode`; `kind: 'pltap'` runs `pltap bridge` with
 * `args`. `baseline` is the C row of the same run it is compared with; `feature` names what
 * the build must have (checked before the row runs).
 */
const ROWS = [
  { id: 'c-tap', label: 'C forwarder, TAP', kind: 'c', cmode: 'tap' },
  { id: 'pltap-tap', label: 'pltap bridge, TAP', kind: 'pltap', args: ['--mode', 'tap'], baseline: 'c-tap' },
  {
    id: 'pltap-tap-js',
    label: 'pltap bridge --engine js, TAP',
    kind: 'pltap',
    args: ['--mode', 'tap', '--engine', 'js'],
    baseline: 'c-tap',
  },
  {
    id: 'pltap-tap-q2',
    label: 'pltap bridge --queues 2, TAP',
    kind: 'pltap',
    args: ['--mode', 'tap', '--queues', '2'],
    baseline: 'c-tap',
    feature: 'queues',
  },
  {
    id: 'pltap-tap-thread',
    label: 'pltap bridge --wake thread, TAP',
    kind: 'pltap',
    args: ['--mode', 'tap', '--wake', 'thread'],
    baseline: 'c-tap',
    feature: 'wake',
  },
  { id: 'c-tun', label: 'C forwarder, TUN', kind: 'c', cmode: 'tun' },
  { id: 'pltap-tun', label: 'pltap bridge, TUN', kind: 'pltap', args: ['--mode', 'tun'], baseline: 'c-tun' },
  {
    id: 'pltap-tun-js',
    label: 'pltap bridge --engine js, TUN',
    kind: 'pltap',
    args: ['--mode', 'tun', '--engine', 'js'],
    baseline: 'c-tun',
  },
  { id: 'c-vnet', label: 'C forwarder, TAP + vnet/TSO', kind: 'c', cmode: 'vnet' },
  {
    id: 'pltap-offload',
    label: 'pltap bridge --offload, pass-through',
    kind: 'pltap',
    args: ['--offload'],
    baseline: 'c-vnet',
    feature: 'offload',
  },
  {
    id: 'pltap-offload-thread',
    label: 'pltap bridge --offload --wake thread, pass-through',
    kind: 'pltap',
    args: ['--offload', '--wake', 'thread'],
    baseline: 'c-vnet',
    feature: 'offload',
  },
  {
    id: 'pltap-offload-js',
    label: 'pltap bridge --offload --engine js, pass-through',
    kind: 'pltap',
    args: ['--offload', '--engine', 'js'],
    baseline: 'c-vnet',
    feature: 'offload',
  },
  {
    id: 'pltap-split',
    label: 'pltap bridge --engine js, split (--offload-mode split)',
    kind: 'pltap',
    args: ['--offload-mode', 'split', '--engine', 'js'],
    baseline: 'c-tap',
    also: 'c-vnet',
    feature: 'offload',
  },
  {
    id: 'pltap-coalesce',
    label: 'pltap bridge --engine js, split + coalesce',
    kind: 'pltap',
    args: ['--offload-mode', 'coalesce', '--engine', 'js'],
    baseline: 'c-tap',
    also: 'c-vnet',
    feature: 'offload',
  },
]

// ---- Preconditions ---------------------------------------------------------------------------

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
if (process.getuid?.() !== 0) {
  console.error('bench:bridge: run as root (it creates network namespaces and devices)')
  process.exit(2)
}
const missing = [
  ['iperf3', 'iperf3'],
  ['ping', 'iputils-ping'],
  ['ip', 'iproute2'],
  ['cc', 'build-essential'],
].filter(([cmd]) => !have(cmd))
if (missing.length > 0) {
  console.error(
    `bench:bridge: missing ${missing.map(([c]) => c).join(', ')}; install with: apt-get install ${missing.map(([, p]) => p).join(' ')}`,
  )
  process.exit(2)
}
if (!existsSync(CLI)) {
  console.error('bench:bridge: dist/cli/main.js is missing; run `npm run build` first')
  process.exit(2)
}
const require = createRequire(import.meta.url)
const bridgeModule = require(path.join(root, 'dist', 'cli', 'bridge.js'))
const FEATURES = {
  queues: typeof bridgeModule.queuesAvailable === 'function' && bridgeModule.queuesAvailable(),
  offload: typeof bridgeModule.offloadAvailable === 'function' && bridgeModule.offloadAvailable(),
  wake: typeof bridgeModule.wakeAvailable === 'function' && bridgeModule.wakeAvailable(),
}

// ---- Cleanup: every child and every namespace this run made ----------------------------------

const tag = `pltapbb${process.pid}`
const NS = { p: `${tag}p`, a: `${tag}a`, b: `${tag}b` }
const children = new Set()
let tmp
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
  for (const ns of Object.values(NS)) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    } catch {}
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`bench:bridge: ${sig}, cleaning up`)
    cleanup()
    process.exit(130)
  })
}

// ---- Small process helpers -------------------------------------------------------------------

const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const inNs = (ns, cmd) => sh('ip', ['netns', 'exec', ns, ...cmd])

/** Runs to completion (async), killed after `timeoutMs`. */
function runAsync(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }),
    )
    children.add(child)
    child.once('exit', () => children.delete(child))
  })
}

/** A long-running child with its output collected. */
function start(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const h = { child, out: '', err: '' }
  child.stdout.setEncoding('utf8').on('data', (d) => (h.out += d))
  child.stderr.setEncoding('utf8').on('data', (d) => (h.err += d))
  h.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  h.exited.then(() => children.delete(child))
  return h
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms))

/** Polls `fn` until truthy (or throws after `ms`). */
async function waitFor(what, fn, ms = 20_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(20)
  }
}

/** utime + stime of a process (all its threads), in clock ticks. */
function cpuTicks(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}
const CLK_TCK = Number(sh('getconf', ['CLK_TCK']).trim()) || 100
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN)
const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length

// ---- Namespaces and the forwarder ------------------------------------------------------------

function makeNamespaces() {
  for (const ns of Object.values(NS)) {
    sh('ip', ['netns', 'add', ns])
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    for (const k of ['all', 'default']) {
      try {
        inNs(ns, ['sysctl', '-q', '-w', `net.ipv6.conf.${k}.disable_ipv6=1`])
      } catch {}
    }
  }
}

/** The command that runs a row's forwarder. */
function forwarderCommand(row, forwarderBin) {
  if (row.kind === 'c') return [forwarderBin, row.cmode, 'bbA', 'bbB']
  return [process.execPath, CLI, 'bridge', ...row.args, ...(row.extra ?? []), 'bbA', 'bbB']
}

/**
 * Starts a row's forwarder in P, moves its devices to A and B, gives them addresses and
 * waits until A reaches B. Returns the forwarder's handle, or { na } if the build lacks a
 * feature the row needs (the forwarder exits 2 with "needs ...").
 */
async function bringUp(row, forwarderBin) {
  const fwd = start('ip', ['netns', 'exec', NS.p, ...forwarderCommand(row, forwarderBin)])
  await waitFor(
    `${row.id} to start`,
    () => {
      if (fwd.child.exitCode !== null) return true
      return /forwarding between|forwarder: ready/.test(fwd.err)
    },
    30_000,
  )
  if (fwd.child.exitCode !== null) {
    if (fwd.child.exitCode === 2 && /needs|not available/.test(fwd.err)) return { na: fwd.err.trim().split('\n')[0] }
    throw new Error(`${row.id}: the forwarder exited (${fwd.child.exitCode}): ${fwd.err.trim()}`)
  }
  // `ip netns exec` execs the command: the pid is the forwarder's own.
  fwd.pid = fwd.child.pid
  sh('ip', ['-n', NS.p, 'link', 'set', 'bbA', 'netns', NS.a])
  sh('ip', ['-n', NS.p, 'link', 'set', 'bbB', 'netns', NS.b])
  sh('ip', ['-n', NS.a, 'addr', 'add', '198.18.0.1/24', 'dev', 'bbA'])
  sh('ip', ['-n', NS.b, 'addr', 'add', '198.18.0.2/24', 'dev', 'bbB'])
  sh('ip', ['-n', NS.a, 'link', 'set', 'bbA', 'up'])
  sh('ip', ['-n', NS.b, 'link', 'set', 'bbB', 'up'])
  await waitFor(
    `${row.id}: A to reach B`,
    async () => (await runAsync('ip', ['netns', 'exec', NS.a, 'ping', '-n', '-c', '1', '-W', '1', '198.18.0.2'], 5_000)).code === 0,
    30_000,
  )
  return fwd
}

/** SIGTERM, then the forwarder's JSON counters (null if it printed none). */
async function bringDown(fwd) {
  fwd.child.kill('SIGTERM')
  const killer = setTimeout(() => fwd.child.kill('SIGKILL'), 10_000)
  const { code, signal } = await fwd.exited
  clearTimeout(killer)
  try {
    return { code, signal, report: JSON.parse(fwd.out) }
  } catch {
    return { code, signal, report: null, stderr: fwd.err.slice(-2000) }
  }
}

// ---- The measurements ------------------------------------------------------------------------

/** An iperf3 server in B for one test; resolves once it listens. */
async function iperfServer(port) {
  const s = start('ip', ['netns', 'exec', NS.b, 'iperf3', '-s', '-1', '--forceflush', '-p', String(port)])
  await waitFor('iperf3 -s to listen', () => s.child.exitCode !== null || /Server listening/.test(s.out), 15_000)
  if (s.child.exitCode !== null) throw new Error(`iperf3 -s exited: ${s.err || s.out}`)
  return s
}

let port = 5201
async function iperf(extra) {
  const p = port++
  const server = await iperfServer(p)
  const r = await runAsync(
    'ip',
    [
      'netns',
      'exec',
      NS.a,
      'iperf3',
      '-c',
      '198.18.0.2',
      '-p',
      String(p),
      '-t',
      String(SECONDS),
      '-J',
      '--connect-timeout',
      '5000',
      ...extra,
    ],
    (SECONDS + 30) * 1000,
  )
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 5_000)
  await server.exited
  clearTimeout(killer)
  let j
  try {
    j = JSON.parse(r.stdout)
  } catch {
    throw new Error(`iperf3 ${extra.join(' ')}: no JSON (exit ${r.code}): ${r.stderr.slice(-500)}`)
  }
  if (j.error) throw new Error(`iperf3 ${extra.join(' ')}: ${j.error}`)
  return j
}

async function measureTcp() {
  const j = await iperf([])
  return {
    gbps: j.end.sum_received.bits_per_second / 1e9,
    sentGbps: j.end.sum_sent.bits_per_second / 1e9,
    retransmits: j.end.sum_sent.retransmits ?? null,
  }
}

async function measureUdp64() {
  const j = await iperf(['-u', '-l', '64', '-b', '0'])
  const rx = j.end.sum_received
  const tx = j.end.sum_sent
  return {
    pps: rx.bytes / 64 / rx.seconds,
    sentPps: tx.bytes / 64 / tx.seconds,
    lostPercent: rx.lost_percent,
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]

/**
 * Ping RTT percentiles, one ping every `interval` seconds: 0.01 (the acceptance figure) leaves
 * the forwarder idle long enough between pings for its caches to go cold; 0.001 (the
 * "dense" figure) shows the same path warm.
 */
async function measureRtt(interval = '0.01') {
  const r = await runAsync(
    'ip',
    ['netns', 'exec', NS.a, 'ping', '-n', '-c', String(PINGS), '-i', interval, '-W', '1', '198.18.0.2'],
    120_000,
  )
  const us = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) * 1000).sort((x, y) => x - y)
  if (us.length === 0) throw new Error(`ping: no replies (exit ${r.code}): ${r.stdout.slice(-300)}${r.stderr}`)
  return { p50: quantile(us, 0.5), p99: quantile(us, 0.99), min: us[0], max: us.at(-1), replies: us.length, sent: PINGS }
}

async function measureIdle(pid) {
  const t0 = process.hrtime.bigint()
  const c0 = cpuTicks(pid)
  await delay(IDLE_SECONDS * 1000)
  const c1 = cpuTicks(pid)
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return { cpuPercent: ((c1 - c0) / CLK_TCK / s) * 100, seconds: s }
}

/** One row, once: idle CPU, RTT, TCP, UDP64 through a fresh forwarder. */
async function trial(row, forwarderBin, round) {
  const t = { id: row.id, round, at: new Date().toISOString() }
  const fwd = await bringUp(row, forwarderBin)
  if (fwd.na) return { ...t, na: fwd.na }
  try {
    t.idle = await measureIdle(fwd.pid)
    t.rtt = await measureRtt()
    t.rttDense = await measureRtt('0.001')
    t.tcp = await measureTcp()
    t.udp64 = await measureUdp64()
    t.rssKb = rssKb(fwd.pid)
  } catch (err) {
    t.error = err.message
  }
  const down = await bringDown(fwd)
  t.exit = { code: down.code, signal: down.signal }
  t.forwarder = down.report
  if (!down.report && !t.error) t.error = `no counters at exit (exit ${down.code}): ${down.stderr ?? ''}`
  return t
}

// ---- Soak: millions of frames through pltap bridge, RSS and fds sampled ------------------------

async function soak(forwarderBin) {
  const mode = opts.mode ?? 'tap'
  const engine = opts.engine ?? 'native'
  const row = { id: `pltap-${mode}-soak`, kind: 'pltap', args: ['--mode', mode, '--engine', engine], extra: ['--interval', '1'] }
  const fwd = await bringUp(row, forwarderBin)
  const pid = fwd.pid
  const forwarded = () => {
    const all = [...fwd.err.matchAll(/forwarded (\d+) /g)]
    return all.length ? Number(all.at(-1)[1]) : 0
  }
  const samples = []
  const sample = () => samples.push({ t: Date.now(), forwarded: forwarded(), rssKb: rssKb(pid), fds: fdCount(pid) })
  sample()
  const started = Date.now()
  let floods = 0
  // Flood A→B in 30 s iperf3 runs until the bridge has forwarded enough frames.
  while (forwarded() < SOAK_FRAMES) {
    floods++
    const p = port++
    const server = await iperfServer(p)
    const client = start('ip', [
      'netns',
      'exec',
      NS.a,
      'iperf3',
      '-c',
      '198.18.0.2',
      '-p',
      String(p),
      '-u',
      '-l',
      '64',
      '-b',
      '0',
      '-t',
      '30',
    ])
    while (client.child.exitCode === null && forwarded() < SOAK_FRAMES) {
      await Promise.race([client.exited, delay(1000)])
      sample()
      const last = samples.at(-1)
      process.stderr.write(
        `\rsoak: ${last.forwarded} / ${SOAK_FRAMES} frames, RSS ${(last.rssKb / 1024).toFixed(1)} MB, ${last.fds} fds   `,
      )
    }
    client.child.kill('SIGKILL')
    await client.exited
    server.child.kill('SIGKILL')
    await server.exited
  }
  process.stderr.write('\n')
  sample()
  const down = await bringDown(fwd)
  // Growth is measured from the first sample after 5 % of the frames (the heap's warm-up).
  const warm = samples.find((s) => s.forwarded >= SOAK_FRAMES * 0.05) ?? samples[0]
  const last = samples.at(-1)
  return {
    mode,
    engine,
    frames: SOAK_FRAMES,
    seconds: (last.t - started) / 1000,
    floods,
    forwarded: down.report?.forwarded ?? last.forwarded,
    dropped: down.report?.dropped ?? null,
    errors: down.report?.errors ?? null,
    rss: {
      startKb: samples[0].rssKb,
      warmKb: warm.rssKb,
      endKb: last.rssKb,
      maxKb: Math.max(...samples.map((s) => s.rssKb)),
      growthAfterWarmupKb: last.rssKb - warm.rssKb,
    },
    fds: { start: samples[0].fds, end: last.fds, max: Math.max(...samples.map((s) => s.fds)), growth: last.fds - samples[0].fds },
    samples,
  }
}

// ---- Machine, main ---------------------------------------------------------------------------

function machine() {
  const git = (...a) => {
    try {
      return sh('git', ['-C', root, ...a]).trim()
    } catch {
      return null
    }
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    iperf3: sh('iperf3', ['--version']).split('\n')[0],
    cc: sh('cc', ['--version']).split('\n')[0],
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: git('status', '--porcelain', '--untracked-files=no') !== '',
    loadavg: os.loadavg(),
    features: FEATURES,
  }
}

async function main() {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pltap-bench-bridge-'))
  const forwarderBin = path.join(tmp, 'forwarder')
  sh('cc', ['-O2', '-Wall', '-o', forwarderBin, path.join(here, 'forwarder.c')])
  makeNamespaces()
  const command = `node bench/bridge.mjs ${process.argv.slice(2).join(' ')}`.trim()
  const startedAt = new Date()
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const outDir = path.join(here, 'results')

  if (opts.soak) {
    const result = {
      kind: 'bridge-soak',
      startedAt: startedAt.toISOString(),
      command,
      note: opts.note ?? null,
      machine: machine(),
      soak: await soak(forwarderBin),
    }
    const s = result.soak
    const md = [
      `# Bridge soak, ${result.startedAt}`,
      '',
      'Smoke figures unless the run was made on a quiet machine; see the machine block.',
      '',
      `\`${command}\`: ${s.forwarded} frames (UDP 64-byte flood A→B, ${s.mode}) through \`pltap bridge --engine ${s.engine ?? 'native'}\` in ${s.seconds.toFixed(0)} s.`,
      '',
      '| | start | after warm-up (5 %) | end | max | growth after warm-up |',
      '|---|---:|---:|---:|---:|---:|',
      `| RSS MB | ${(s.rss.startKb / 1024).toFixed(1)} | ${(s.rss.warmKb / 1024).toFixed(1)} | ${(s.rss.endKb / 1024).toFixed(1)} | ${(s.rss.maxKb / 1024).toFixed(1)} | ${(s.rss.growthAfterWarmupKb / 1024).toFixed(2)} |`,
      `| fds | ${s.fds.start} | | ${s.fds.end} | ${s.fds.max} | ${s.fds.growth} |`,
      '',
      `Acceptance (issue 8): RSS growth < 10 MB: **${s.rss.growthAfterWarmupKb < 10 * 1024 ? 'yes' : 'no'}**; no fd growth: **${s.fds.growth <= 0 ? 'yes' : 'no'}**. Dropped ${s.dropped}, errors ${s.errors}.`,
      '',
      '```json',
      JSON.stringify({ ...result.machine }, null, 2),
      '```',
      '',
    ].join('\n')
    console.log(md)
    if (!opts['no-save']) {
      mkdirSync(outDir, { recursive: true })
      writeFileSync(path.join(outDir, `bridge-soak-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`)
      writeFileSync(path.join(outDir, `bridge-soak-${stamp}.md`), md)
      console.error(`bench:bridge: wrote bench/results/bridge-soak-${stamp}.{md,json}`)
    }
    return
  }

  let rows = ROWS
  if (opts.rows) {
    const want = opts.rows.split(',')
    const unknown = want.filter((id) => !ROWS.some((r) => r.id === id))
    if (unknown.length) throw new Error(`unknown rows ${unknown.join(', ')} (known: ${ROWS.map((r) => r.id).join(', ')})`)
    rows = ROWS.filter((r) => want.includes(r.id))
  }
  const trials = []
  for (let round = 1; round <= ROUNDS; round++) {
    for (const row of rows) {
      if (row.feature && !FEATURES[row.feature]) {
        if (round === 1) trials.push({ id: row.id, round, na: `feature missing: ${row.feature}` })
        continue
      }
      process.stderr.write(`round ${round}/${ROUNDS} ${row.id} ... `)
      let t
      try {
        t = await trial(row, forwarderBin, round)
      } catch (err) {
        t = { id: row.id, round, error: err.message }
      }
      trials.push(t)
      process.stderr.write(
        t.na
          ? `n/a (${t.na})\n`
          : t.error
            ? `error: ${t.error}\n`
            : `TCP ${t.tcp.gbps.toFixed(2)} Gbit/s, UDP64 ${(t.udp64.pps / 1e3).toFixed(0)}k pps, RTT ${t.rtt.p50.toFixed(0)}/${t.rtt.p99.toFixed(0)} µs, idle ${t.idle.cpuPercent.toFixed(2)} %\n`,
      )
    }
  }
  const result = {
    kind: 'bridge',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command,
    note: opts.note ?? null,
    settings: { rounds: ROUNDS, seconds: SECONDS, pings: PINGS, idleSeconds: IDLE_SECONDS, quick: QUICK },
    machine: machine(),
    rows: rows.map(({ id, label, kind, baseline, also, feature, args, cmode }) => ({
      id,
      label,
      kind,
      baseline,
      also,
      feature,
      args,
      cmode,
    })),
    trials,
  }
  result.summary = summarize(result)
  const md = renderMarkdown(result, { chart: `bridge-${stamp}.svg` })
  console.log(md)
  if (!opts['no-save']) {
    mkdirSync(outDir, { recursive: true })
    writeFileSync(path.join(outDir, `bridge-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`)
    writeFileSync(path.join(outDir, `bridge-${stamp}.md`), md)
    writeFileSync(path.join(outDir, `bridge-${stamp}.svg`), bridgeChart(result))
    console.error(`bench:bridge: wrote bench/results/bridge-${stamp}.{md,json,svg}`)
  }
  if (trials.some((t) => t.error)) process.exitCode = 1
}

main().then(
  () => cleanup(),
  (err) => {
    console.error(`bench:bridge: ${err.stack ?? err}`)
    cleanup()
    process.exit(1)
  },
)
