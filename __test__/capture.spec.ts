// Capture against the kernel: `pltap capture` on a real TAP device (in a named network
// namespace of its own, IPv6 off, so that the only frames are the ones the test makes the
// kernel send), and capture() as a tee on an Rx that another reader drains; each file is
// then decoded by tshark. Without tshark the tshark checks skip and say why, unless
// PLTAP_REQUIRE_TSHARK=1 (as .ci/run sets), where its absence fails.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { runtimeForOthers } from '../ts/cli/slice.ts'
import { capture, EthernetView, EtherType, IcmpType, IcmpView, IpProtocol, Ipv4View } from '../ts/packet/index.ts'
import { readPcap } from './pcap-read.ts'
import { announceSkips, CLI, devSerial, hasNetAdmin, noNetAdminReason, ROOT, run, spawnCollecting, upDevice, waitFor } from './support.ts'

announceSkips('capture.spec.ts')
const tshark = spawnSync('tshark', ['--version'], { encoding: 'utf8' })
const hasTshark = tshark.status === 0
const requireTshark = process.env.PLTAP_REQUIRE_TSHARK === '1'
const skipWhy = !hasNetAdmin ? noNetAdminReason : !hasTshark && !requireTshark ? 'tshark is not installed (apt-get install tshark)' : ''
if (skipWhy && hasNetAdmin) console.log(`[capture.spec.ts] skipping capture tests: ${skipWhy}`)
const capTest = skipWhy ? test.skip : test.serial

/** tshark's decoding of a pcap file: one array of fields per frame. */
function decode(t: ExecutionContext, file: string, fields: string[]): string[][] {
  if (!hasTshark) t.fail('tshark is required here (PLTAP_REQUIRE_TSHARK=1) but is not installed')
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])]
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'))
}

let nsSeq = 0
/** A named network namespace with IPv6 off, deleted when `t` ends. */
function netns(t: ExecutionContext): string {
  const name = `pltap-cap-${process.pid}-${++nsSeq}`
  execFileSync('ip', ['netns', 'add', name])
  t.teardown(() => {
    spawnSync('ip', ['netns', 'del', name])
  })
  const inNs = (...cmd: string[]): void => void execFileSync('ip', ['netns', 'exec', name, ...cmd], { stdio: 'ignore' })
  inNs('ip', 'link', 'set', 'lo', 'up')
  inNs('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1')
  return name
}

function tmp(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'pltap-capture-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Date.now() in nanoseconds. */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n
}

/** What a timestamp may differ from Date.now() by: its millisecond resolution, and as much again for a loaded machine. */
const SLACK = 2_000_000n

/** Waits for `pltap capture` to say it captures (the device exists and is up). */
async function started(stderr: () => string, child: ChildProcess): Promise<void> {
  await waitFor('pltap capture to start', () => {
    if (child.exitCode !== null) throw new Error(`pltap capture exited ${child.exitCode}: ${stderr()}`)
    return stderr().includes('capturing on')
  })
}

/** One ARP probe per resolution; an address on the device; a permanent neighbour at .3 so that pings to it go out at once. */
function configure(ns: string, dev: string, net: number): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.neigh.${dev}.mcast_solicit=1`])
  execFileSync('ip', ['-n', ns, 'addr', 'add', `198.18.${net}.1/24`, 'dev', dev])
  execFileSync('ip', ['-n', ns, 'neigh', 'add', `198.18.${net}.3`, 'lladdr', '02:00:c6:12:00:03', 'dev', dev, 'nud', 'permanent'])
}

const ping = (ns: string, ...args: string[]) => run('ip', ['netns', 'exec', ns, 'ping', '-n', '-W', '1', ...args])

capTest('pltap capture -w file --count 4: tshark reads the ARP and pings, addresses and timestamps in order', async (t) => {
  const ns = netns(t)
  const file = join(tmp(t), 'out.pcap')
  const before = nowNs()
  const p = spawnCollecting('ip', ['netns', 'exec', ns, process.execPath, CLI, 'capture', 'pcap0', '-w', file, '--count', '4'])
  t.teardown(() => p.child.kill('SIGKILL'))
  await started(p.stderr, p.child)
  configure(ns, 'pcap0', 110)
  await ping(ns, '-c', '1', '198.18.110.2') // unresolved: one ARP request, no answer
  await ping(ns, '-c', '3', '-i', '0.2', '198.18.110.3') // three echo requests
  const { code } = await p.closed
  const after = nowNs()
  t.is(code, 0, p.stderr())
  t.regex(p.stderr(), /4 frames captured, 0 dropped by the writer, 0 by the receiver/)
  t.is(p.stdout(), '', 'nothing on stdout with -w file')
  const f = readPcap(readFileSync(file))
  t.is(f.linkType, 1)
  t.is(f.records.length, 4)
  const rows = decode(t, file, [
    'frame.protocols',
    'eth.type',
    'arp.opcode',
    'arp.src.proto_ipv4',
    'arp.dst.proto_ipv4',
    'ip.src',
    'ip.dst',
    'icmp.type',
    'icmp.seq',
    'frame.time_epoch',
  ])
  t.is(rows.length, 4)
  t.deepEqual(rows[0]?.slice(0, 5), ['eth:ethertype:arp', '0x0806', '1', '198.18.110.1', '198.18.110.2'])
  for (let i = 1; i <= 3; i++) {
    t.deepEqual(rows[i]?.slice(5, 9), ['198.18.110.1', '198.18.110.3', '8', String(i)], `frame ${i + 1}`)
    t.regex(rows[i]?.[0] ?? '', /^eth:ethertype:ip:icmp/)
  }
  // Nanosecond timestamps, in order, inside the test's own window; the same as the file's.
  const times = rows.map((r) => BigInt((r[9] ?? '').replace('.', '')))
  t.deepEqual(
    times,
    f.records.map((r) => r.timestamp),
  )
  for (let i = 1; i < times.length; i++) t.true(times[i]! >= times[i - 1]!, `frame ${i + 1} after frame ${i}`)
  t.true(times[0]! >= before - SLACK && times.at(-1)! <= after + SLACK, `${times[0]} .. ${times.at(-1)} within ${before} .. ${after}`)
  t.true(times[3]! - times[1]! > 300_000_000n, 'the pings were 0.2 s apart, and the stamps say so')
})

capTest('pltap capture -w - writes pcap to a pipe (messages on stderr) and flushes on SIGINT', async (t) => {
  const ns = netns(t)
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, 'capture', 'pipe0', '-w', '-'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => child.kill('SIGKILL'))
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => chunks.push(c))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  await started(() => stderr, child)
  configure(ns, 'pipe0', 111)
  await ping(ns, '-c', '3', '-i', '0.2', '198.18.111.3')
  await waitFor('three frames on the pipe', () => {
    try {
      return readPcap(Buffer.concat(chunks)).records.length >= 3
    } catch {
      return false // a record still on its way
    }
  })
  // `ip netns exec` passes the signal on to the capture it runs.
  child.kill('SIGINT')
  t.is(await closed, 0, stderr)
  t.regex(stderr, /writing pcap to stdout/)
  t.regex(stderr, /3 frames captured, 0 dropped/)
  const bytes = Buffer.concat(chunks)
  t.is(bytes.readUInt32LE(0), 0xa1b23c4d, 'stdout starts with the pcap header: no human line before it')
  const file = join(tmp(t), 'pipe.pcap')
  writeFileSync(file, bytes)
  const rows = decode(t, file, ['ip.src', 'ip.dst', 'icmp.type', 'icmp.seq'])
  t.deepEqual(rows, [
    ['198.18.111.1', '198.18.111.3', '8', '1'],
    ['198.18.111.1', '198.18.111.3', '8', '2'],
    ['198.18.111.1', '198.18.111.3', '8', '3'],
  ])
})

capTest('pltap capture --mode tun writes raw IP (LINKTYPE_RAW) that tshark decodes', async (t) => {
  const ns = netns(t)
  const file = join(tmp(t), 'tun.pcap')
  const p = spawnCollecting('ip', [
    'netns',
    'exec',
    ns,
    process.execPath,
    CLI,
    'capture',
    'ptun0',
    '--mode',
    'tun',
    '-w',
    file,
    '--count',
    '2',
  ])
  t.teardown(() => p.child.kill('SIGKILL'))
  await started(p.stderr, p.child)
  execFileSync('ip', ['-n', ns, 'addr', 'add', '198.18.114.1/24', 'dev', 'ptun0'])
  await ping(ns, '-c', '2', '-i', '0.2', '198.18.114.5') // a TUN needs no neighbour: straight out as IP
  t.is((await p.closed).code, 0, p.stderr())
  t.is(readPcap(readFileSync(file)).linkType, 101)
  t.deepEqual(decode(t, file, ['frame.protocols', 'ip.src', 'ip.dst', 'icmp.seq']), [
    ['raw:ip:icmp:data', '198.18.114.1', '198.18.114.5', '1'],
    ['raw:ip:icmp:data', '198.18.114.1', '198.18.114.5', '2'],
  ])
})

devSerial('pltap capture without -w prints a line per frame', async (t) => {
  const ns = netns(t)
  const p = spawnCollecting('ip', ['netns', 'exec', ns, process.execPath, CLI, 'capture', 'text0', '-c', '1'])
  t.teardown(() => p.child.kill('SIGKILL'))
  await started(p.stderr, p.child)
  configure(ns, 'text0', 112)
  await ping(ns, '-c', '1', '198.18.112.2')
  t.is((await p.closed).code, 0, p.stderr())
  t.regex(
    p.stdout(),
    /^\d\d:\d\d:\d\d\.\d{9} [0-9a-f:]{17} > ff:ff:ff:ff:ff:ff, ARP, Request who-has 198\.18\.112\.2 tell 198\.18\.112\.1\n$/,
  )
})

capTest('capture() as a tee: another reader of the same Rx still receives every frame, and tshark reads the file', async (t) => {
  const dev = await upDevice(t, 113, { name: 'tee', ifname: 'ptee%d' })
  execFileSync('ip', ['neigh', 'add', '198.18.113.3', 'lladdr', '02:00:c6:12:00:03', 'dev', dev.realName, 'nud', 'permanent'])
  const rx = dev.rxOpen()
  const file = join(tmp(t), 'tee.pcap')
  const cap = capture(rx, createWriteStream(file))
  const received: Buffer[] = []
  const reader = (async () => {
    for await (const frame of rx) received.push(Buffer.from(frame))
  })()
  const isEcho = (f: Buffer): boolean => {
    const eth = new EthernetView(f)
    if (eth.etherType !== EtherType.IPv4) return false
    const ip = new Ipv4View(eth.payload)
    return ip.protocol === IpProtocol.ICMP && ip.dst === '198.18.113.3' && new IcmpView(ip.payload).type === IcmpType.ECHO_REQUEST
  }
  const before = nowNs()
  await run('ping', ['-n', '-c', '5', '-i', '0.2', '-W', '1', '198.18.113.3'])
  await waitFor('the reader to get five echo requests', () => received.filter(isEcho).length >= 5)
  await cap.stop()
  await cap.writer.close()
  const records = readPcap(readFileSync(file)).records
  await waitFor('the reader to catch up with the capture', () => received.length >= records.length)
  await rx.close()
  await reader
  t.is(rx.dropped, 0)
  t.is(cap.writer.dropped, 0)
  t.true(records.length >= 5)
  t.deepEqual(
    records.map((r) => r.data),
    received.slice(0, records.length),
    'the file holds exactly the frames the reader got, in order',
  )
  const rows = decode(t, file, ['ip.dst', 'icmp.type', 'icmp.seq', 'frame.time_epoch']).filter((r) => r[0] === '198.18.113.3')
  t.deepEqual(
    rows.map((r) => r.slice(1, 3)),
    [1, 2, 3, 4, 5].map((s) => ['8', String(s)]),
  )
  const times = rows.map((r) => BigInt((r[3] ?? '').replace('.', '')))
  for (let i = 1; i < times.length; i++) t.true(times[i]! > times[i - 1]!)
  const after = nowNs()
  t.true(times[0]! >= before - SLACK && times.at(-1)! <= after + SLACK, `${times[0]} .. ${times.at(-1)} within ${before} .. ${after}`)
})

test('pltap capture: usage errors exit 2 before anything is opened; --help exits 0', async (t) => {
  for (const args of [
    [],
    ['--foo', 'x0'],
    ['a0', 'b0'],
    ['x0', '--mode', 'tan'],
    ['x0', '--count', '0'],
    ['x0', '-c', '1.5'],
    ['x0', '-w'],
  ]) {
    const r = await run(process.execPath, [CLI, 'capture', ...args])
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    t.regex(r.stderr, /^pltap capture: .+\n\nUsage: pltap capture <ifname>/, args.join(' '))
    t.is(r.stdout, '')
  }
  const help = await run(process.execPath, [CLI, 'capture', '--help'])
  t.is(help.code, 0)
  t.regex(help.stdout, /^Usage: pltap capture <ifname> \[-w <file>\|-\]/)
})

devSerial('pltap capture without CAP_NET_ADMIN says what it needs and exits 1', async (t) => {
  const runtime = runtimeForOthers(ROOT) // a copy uid 1000 can read, if the checkout is private
  t.teardown(() => runtime.dispose())
  const cli = join(runtime.root, 'dist', 'cli', 'main.js')
  const r = await run('setpriv', [
    '--reuid',
    '1000',
    '--regid',
    '1000',
    '--clear-groups',
    '--inh-caps=-all',
    process.execPath,
    cli,
    'capture',
    'nocap0',
  ])
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /pltap capture: cannot open nocap0: .*needs CAP_NET_ADMIN/)
})
