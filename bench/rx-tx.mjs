// pltap vs a C baseline, in the same run: TX (sendBatch vs a write() loop) and RX
// (readBatch vs a poll + read() loop, both fed by the same AF_PACKET sendmmsg flood),
// at 64- and 1514-byte frames. See bench/README.md.
//
// Run with `npm run bench` (inside a private network namespace). Environment:
//   BENCH_SECONDS   seconds per case (default 3)
//   BENCH_SIZES     frame sizes, comma-separated (default 64,1514)
//   BENCH_NO_SAVE   set to skip writing bench/results/
//   BENCH_ALLOW_DEBUG  set to run even with an unoptimized (debug) addon
//   NAPI_RS_NATIVE_LIBRARY_PATH  load this addon instead of ./pltap.linux-x64-gnu.node (binding.js)
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pltap from '../dist/index.js'

const { Netdev } = pltap
const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '..')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const SIZES = (process.env.BENCH_SIZES ?? '64,1514').split(',').map(Number)
const TX_BATCH = 64
const DST = [0x02, 0, 0, 0, 0, 0x99] // locally administered, never a device's address
const SRC = [0x02, 0, 0, 0, 0, 0x01]

if (!(SECONDS > 0 && SECONDS <= 30) || SIZES.some((s) => !Number.isInteger(s) || s < 14 || s > 1514)) {
  console.error('bench: BENCH_SECONDS must be in (0, 30] and BENCH_SIZES integers in 14..1514')
  process.exit(2)
}

// ---- Which addon: a debug build (npm run build:native:debug) is 3-7x slower per call ----------

const ADDON = path.resolve(process.env.NAPI_RS_NATIVE_LIBRARY_PATH || path.join(root, 'pltap.linux-x64-gnu.node'))
function addonInfo() {
  const st = statSync(ADDON, { throwIfNoEntry: false })
  if (!st) return { path: ADDON, profile: 'missing' }
  // The release profile strips symbols (Cargo.toml: strip = "symbols"); a debug build keeps
  // its symbol table and DWARF sections.
  const elf = readFileSync(ADDON)
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const [shentsize, shnum, shstrndx] = [elf.readUInt16LE(0x3a), elf.readUInt16LE(0x3c), elf.readUInt16LE(0x3e)]
  const strtab = Number(elf.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18))
  const sections = []
  for (let i = 0; i < shnum; i++) {
    const at = strtab + elf.readUInt32LE(shoff + i * shentsize)
    sections.push(elf.toString('latin1', at, elf.indexOf(0, at)))
  }
  const debug = sections.includes('.symtab') || sections.includes('.debug_info')
  return { path: ADDON, bytes: st.size, mtime: st.mtime.toISOString(), profile: debug ? 'unstripped (debug build?)' : 'release (stripped)' }
}
const ADDON_INFO = addonInfo()
if (ADDON_INFO.profile !== 'release (stripped)' && !process.env.BENCH_ALLOW_DEBUG) {
  console.error(`bench: ${ADDON} is ${ADDON_INFO.profile}; run \`npm run build:native\` first (or set BENCH_ALLOW_DEBUG=1)`)
  process.exit(2)
}

// ---- Safety: only inside a fresh, private network namespace --------------------------------

function netnsInterfaces() {
  // /proc/net/dev belongs to this process's network namespace (/sys/class/net may not).
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0].trim())
    .filter(Boolean)
}
{
  const ifs = netnsInterfaces()
  if (ifs.length !== 1 || ifs[0] !== 'lo') {
    console.error(
      `bench: refusing to run: this network namespace has interfaces ${ifs.join(', ')}; use \`npm run bench\`, which runs in a fresh namespace`,
    )
    process.exit(2)
  }
}
// No IPv6 on the benchmark taps (no router solicitations or DAD frames in the counts). The
// sysctl is per network namespace, so this changes nothing outside it.
for (const k of ['default', 'all']) {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${k}/disable_ipv6`, '1')
  } catch {}
}

// ---- Children and cleanup --------------------------------------------------------------------

const children = new Set()
const devices = new Set()
let tmp
function cleanup() {
  for (const c of children) c.kill('SIGKILL')
  if (tmp) rmSync(tmp, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup()
    process.exit(130)
  })
}

/** Spawns `cmd`; resolves with its JSON result line. `onLine` sees every stdout line. */
function run(cmd, args, onLine) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  let out = ''
  let result
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (d) => {
    out += d
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl)
      out = out.slice(nl + 1)
      if (line.startsWith('{')) result = JSON.parse(line)
      onLine?.(line)
    }
  })
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      children.delete(child)
      if (result !== undefined) resolve(result)
      else reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: exited with ${code ?? signal} and no result`))
    })
  })
  return { child, done }
}

// ---- Measurement helpers ---------------------------------------------------------------------

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** CPU seconds of each thread of this process, by thread id, with its name. */
function threadCpu() {
  const out = new Map()
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const f = stat.slice(close + 2).split(' ') // f[0] is field 3 (state); utime is field 14
      out.set(Number(tid), { comm, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK })
    } catch {} // the thread ended meanwhile
  }
  return out
}

/** CPU seconds per thread group between two threadCpu() snapshots: the JS thread, pltap's reader threads, the rest. */
function threadDelta(before, after) {
  const d = { js: 0, reader: 0, other: 0 }
  for (const [tid, { comm, cpu }] of after) {
    const delta = cpu - (before.get(tid)?.cpu ?? 0)
    if (tid === process.pid) d.js += delta
    else if (comm.startsWith('pltap-rx')) d.reader += delta
    else d.other += delta
  }
  return d
}

function cpuSeconds(u) {
  return (u.user + u.system) / 1e6
}

function makeFrame(size) {
  const f = Buffer.alloc(size)
  f.set(DST, 0)
  f.set(SRC, 6)
  f.writeUInt16BE(0x88b5, 12)
  for (let i = 14; i < size; i++) f[i] = i & 0xff
  return f
}

let seq = 0
async function openTap(prefix) {
  const ifname = `${prefix}${seq++}`
  const dev = await Netdev.open({ name: ifname, allocator: 'direct', ifname })
  devices.add(dev)
  await dev.up()
  return dev
}
async function closeTap(dev) {
  await dev.close()
  devices.delete(dev)
}

// ---- Cases -----------------------------------------------------------------------------------

/** TX, pltap: sendBatch(64 frames) in a loop for SECONDS on the JS thread. */
async function txPltap(size) {
  const dev = await openTap('bjtx')
  const batch = Array.from({ length: TX_BATCH }, () => makeFrame(size))
  const spin = (seconds) => {
    let frames = 0
    let short = 0
    const t0 = performance.now()
    const end = t0 + seconds * 1000
    let t1 = t0
    for (;;) {
      const n = dev.sendBatch(batch)
      frames += n
      if (n < TX_BATCH) short++
      t1 = performance.now()
      if (t1 >= end) break
    }
    return { frames, short, seconds: (t1 - t0) / 1000 }
  }
  spin(0.3) // warm up the JIT
  const c0 = process.cpuUsage()
  const r = spin(SECONDS)
  const cpu = cpuSeconds(process.cpuUsage(c0))
  const stats = dev.stats()
  await closeTap(dev)
  return {
    ...r,
    mpps: r.frames / r.seconds / 1e6,
    cpuPerFrameNs: (cpu / r.frames) * 1e9,
    cpuSeconds: cpu,
    shortBatches: r.short,
    portTxPackets: stats.port.txPackets,
  }
}

/** TX, C: write() per frame in a loop for SECONDS, on its own tap. */
async function txC(bin, size) {
  const r = await run(bin, ['tx', `bctx${seq++}`, String(size), String(SECONDS)]).done
  const cpu = r.cpuUser + r.cpuSys
  return {
    frames: r.frames,
    seconds: r.seconds,
    mpps: r.frames / r.seconds / 1e6,
    cpuPerFrameNs: (cpu / r.frames) * 1e9,
    cpuSeconds: cpu,
    full: r.full,
    errors: r.errors,
  }
}

/** Waits until no frame has arrived for `quietMs` (at most `maxMs`). */
async function settle(lastRx, quietMs = 250, maxMs = 3000) {
  const start = performance.now()
  while (performance.now() - lastRx() < quietMs && performance.now() - start < maxMs) await sleep(50)
}

/** RX, pltap: the generator floods the tap; JS reads with readBatch({ max: 256 }) or readPacked(). */
async function rxPltap(bin, size, rxOptions, packed) {
  const dev = await openTap('bjrx')
  const rx = dev.rxOpen(rxOptions)
  const ac = new AbortController()
  let frames = 0
  let bytes = 0
  let batches = 0
  let lastRx = 0
  const loop = (async () => {
    try {
      for (;;) {
        if (packed) {
          const burst = await rx.readPacked({ signal: ac.signal })
          frames += burst.lengths.length
          bytes += burst.data.length
        } else {
          const got = await rx.readBatch({ max: 256, signal: ac.signal })
          frames += got.length
          for (const f of got) bytes += f.length
        }
        batches++
        lastRx = performance.now()
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err
    }
  })()
  await sleep(200) // the reader thread is up; anything stray has been read
  frames = bytes = batches = 0
  const s0 = dev.stats()
  const c0 = process.cpuUsage()
  const t0 = threadCpu()
  const gen = await run(bin, ['gen', dev.realName ?? dev.name, String(size), String(SECONDS)]).done
  await settle(() => lastRx)
  const cpu = cpuSeconds(process.cpuUsage(c0))
  const threads = threadDelta(t0, threadCpu())
  const s1 = dev.stats()
  const rxDropped = rx.dropped
  ac.abort()
  await loop
  await rx.close()
  await closeTap(dev)
  const kernelDropped = s1.kernel ? s1.kernel.rxDropped - s0.kernel.rxDropped : null
  return rxResult(gen, frames, bytes, kernelDropped, {
    cpuSeconds: cpu,
    cpuPerFrameNs: (cpu / frames) * 1e9,
    jsThreadPerFrameNs: (threads.js / frames) * 1e9,
    readerThreadPerFrameNs: (threads.reader / frames) * 1e9,
    otherThreadsPerFrameNs: (threads.other / frames) * 1e9,
    framesPerBatch: frames / batches,
    rxDropped,
    portRxPackets: s1.port.rxPackets - s0.port.rxPackets,
    portRxDropped: s1.port.rxDropped - s0.port.rxDropped,
  })
}

/** RX, C: the same generator against `baseline rx` (poll + nonblocking read) on its own tap. */
async function rxC(bin, size) {
  const ifname = `bcrx${seq++}`
  let ready
  const isReady = new Promise((r) => (ready = r))
  const reader = run(bin, ['rx', ifname], (line) => line === 'ready' && ready())
  await Promise.race([isReady, reader.done])
  await sleep(200)
  const gen = await run(bin, ['gen', ifname, String(size), String(SECONDS)]).done
  await sleep(300)
  reader.child.kill('SIGTERM')
  const r = await reader.done
  const cpu = r.cpuUser + r.cpuSys
  // The reader's counters include the drops of the whole run, and it read nothing before the generator.
  return rxResult(gen, r.frames, r.bytes, r.kernelTxDropped >= 0 ? r.kernelTxDropped : null, {
    cpuSeconds: cpu,
    cpuPerFrameNs: (cpu / r.frames) * 1e9,
    framesPerPoll: r.frames / r.polls,
  })
}

function rxResult(gen, frames, bytes, kernelDropped, extra) {
  const offered = gen.sent + (kernelDropped ?? gen.refused)
  return {
    genSent: gen.sent,
    genRefused: gen.refused,
    genSeconds: gen.seconds,
    genMpps: gen.sent / gen.seconds / 1e6,
    genCpuPerFrameNs: ((gen.cpuUser + gen.cpuSys) / (gen.sent + gen.refused)) * 1e9,
    frames,
    bytes,
    mpps: frames / gen.seconds / 1e6,
    gbps: (bytes * 8) / gen.seconds / 1e9,
    kernelDropped,
    notDelivered: gen.sent - frames,
    lossPct: (100 * (offered - frames)) / offered,
    ...extra,
  }
}

// ---- Main ------------------------------------------------------------------------------------

function fmt(x, digits = 3) {
  return x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits)
}

function machine() {
  const sh = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return null
    }
  }
  const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model
  return {
    nproc: Number(sh('nproc', [])),
    kernel: sh('uname', ['-r']),
    node: process.version,
    cpu: cpuModel,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    cc: sh('cc', ['--version'])?.split('\n')[0] ?? null,
    git: sh('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: sh('git', ['status', '--porcelain', '--', 'crates', 'ts']) ? 'crates/ or ts/ have uncommitted changes' : 'clean',
    addon: ADDON_INFO,
  }
}

async function main() {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pltap-bench-'))
  const bin = path.join(tmp, 'baseline')
  execFileSync('cc', ['-O2', '-Wall', '-o', bin, path.join(here, 'baseline.c')], { stdio: 'inherit' })

  const started = new Date()
  const env = ['NAPI_RS_NATIVE_LIBRARY_PATH', 'BENCH_SECONDS', 'BENCH_SIZES', 'BENCH_ALLOW_DEBUG']
    .filter((k) => process.env[k])
    .map((k) => `${k}=${process.env[k]} `)
    .join('')
  const command = env + (process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node scripts/in-netns.mjs node bench/rx-tx.mjs')
  const info = machine()
  const log = (s) => writeSync(1, `${s}\n`)
  log(
    `pltap bench: ${SECONDS} s per case, sizes ${SIZES.join(', ')} B; ${info.nproc} CPUs (${info.cpu}), Linux ${info.kernel}, Node ${info.node}`,
  )

  const tx = []
  const rx = []
  for (const size of SIZES) {
    log(`TX ${size} B ...`)
    const p = await txPltap(size)
    const c = await txC(bin, size)
    tx.push({ size, pltap: p, c, ratio: p.mpps / c.mpps })
  }
  const rxVariants = [
    { label: 'readBatch({ max: 256 })', options: {}, packed: false },
    { label: 'readPacked()', options: {}, packed: true },
  ]
  for (const size of SIZES) {
    log(`RX ${size} B ...`)
    const c = await rxC(bin, size)
    for (const v of rxVariants) {
      const p = await rxPltap(bin, size, v.options, v.packed)
      rx.push({ size, variant: v.label, pltap: p, c, ratio: p.mpps / c.mpps, cpuRatio: p.cpuPerFrameNs / c.cpuPerFrameNs })
    }
  }

  const md = []
  md.push('### TX: JS `dev.sendBatch` (64 frames per call) vs C `write()` loop, into an UP tap')
  md.push('')
  md.push('| Frame | pltap Mpps | C Mpps | ratio pltap/C | pltap CPU/frame (JS process) | C CPU/frame | pltap Gbit/s |')
  md.push('|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of tx) {
    md.push(
      `| ${r.size} B | ${fmt(r.pltap.mpps)} | ${fmt(r.c.mpps)} | **${fmt(r.ratio, 2)}** | ${fmt(r.pltap.cpuPerFrameNs, 0)} ns | ${fmt(r.c.cpuPerFrameNs, 0)} ns | ${fmt((r.pltap.mpps * r.size * 8) / 1e3, 2)} |`,
    )
  }
  md.push('')
  md.push(
    '### RX: AF_PACKET `sendmmsg` flood into the tap → JS `rx.readBatch({ max: 256 })` or `rx.readPacked()` (default `rxOpen()`) vs C `poll` + `read()` loop',
  )
  md.push('')
  md.push(
    '| Frame | pltap reader | pltap Mpps | C Mpps | ratio pltap/C | pltap CPU/frame: process (JS thread + reader thread) | C CPU/frame | CPU ratio | loss pltap | loss C | frames/batch |',
  )
  md.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const r of rx) {
    const p = r.pltap
    const loss = (x) => `${fmt(x.lossPct, 2)} % (${x.kernelDropped ?? 'n/a'} dropped, ${x.notDelivered} undelivered)`
    md.push(
      `| ${r.size} B | ${r.variant} | ${fmt(p.mpps)} | ${fmt(r.c.mpps)} | **${fmt(r.ratio, 2)}** | ${fmt(p.cpuPerFrameNs, 0)} ns (${fmt(p.jsThreadPerFrameNs, 0)} + ${fmt(p.readerThreadPerFrameNs, 0)}) | ${fmt(r.c.cpuPerFrameNs, 0)} ns | ${fmt(r.cpuRatio, 2)} | ${loss(p)} | ${loss(r.c)} | ${fmt(p.framesPerBatch, 1)} |`,
    )
  }
  md.push('')
  md.push('Generator (the same C `sendmmsg` flood in both columns; it shares the CPUs with the reader):')
  md.push('')
  md.push('| Frame | reader | generator Mpps (accepted) | generator CPU/frame | pltap `rx.dropped` | pltap port rxDropped |')
  md.push('|---:|---|---:|---:|---:|---:|')
  for (const r of rx) {
    md.push(
      `| ${r.size} B | pltap, ${r.variant} | ${fmt(r.pltap.genMpps)} | ${fmt(r.pltap.genCpuPerFrameNs, 0)} ns | ${r.pltap.rxDropped} | ${r.pltap.portRxDropped} |`,
    )
  }
  for (const size of SIZES) {
    const c = rx.find((r) => r.size === size).c
    md.push(`| ${size} B | C | ${fmt(c.genMpps)} | ${fmt(c.genCpuPerFrameNs, 0)} ns | — | — |`)
  }
  const table = md.join('\n')
  log('')
  log(table)

  const result = { started: started.toISOString(), command, seconds: SECONDS, sizes: SIZES, machine: info, tx, rx }
  if (!process.env.BENCH_NO_SAVE) {
    const dir = path.join(here, 'results')
    mkdirSync(dir, { recursive: true })
    const stamp = started
      .toISOString()
      .replace(/:/g, '')
      .replace(/\.\d+Z$/, 'Z')
    const file = path.join(dir, `rx-tx-${stamp}.md`)
    const doc = [
      `# pltap vs C baseline: ${started.toISOString()}`,
      '',
      `Command: \`${command}\` (\`npm run bench\` = \`node scripts/in-netns.mjs node bench/rx-tx.mjs\`: a fresh private network namespace)`,
      '',
      `Machine: \`nproc\` = ${info.nproc} (${info.cpu}, ${info.memGiB} GiB), kernel \`${info.kernel}\`, Node ${info.node}, ${info.cc}.`,
      `pltap: commit ${info.git} (crates/ and ts/: ${info.gitDirty}); addon \`${ADDON_INFO.path.startsWith(root + path.sep) ? path.relative(root, ADDON_INFO.path) : ADDON_INFO.path}\`, ${ADDON_INFO.profile}, built ${ADDON_INFO.mtime}. ${SECONDS} s per case.`,
      '',
      'How to read this: bench/README.md. CPU/frame = (user + system) CPU time of the reading or writing process',
      'divided by frames; for pltap RX it is split into the JS thread and the native reader thread.',
      '',
      table,
      '',
      '## Raw results',
      '',
      '```json',
      JSON.stringify(result, null, 2),
      '```',
      '',
    ].join('\n')
    writeFileSync(file, doc)
    log(`\nwrote ${path.relative(root, file)}`)
  }
}

try {
  await main()
} finally {
  for (const dev of devices) await dev.close()
  cleanup()
}
