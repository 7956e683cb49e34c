/**
 * `pltap capture <ifname> [-w file|-] [--count N] [--mode tap|tun]`: opens a TAP (or TUN)
 * device directly, brings it up and captures what the kernel sends to it, as pcap
 * (`-w`) or one line per frame.
 * @internal
 * @module
 */
import { createWriteStream } from 'node:fs'
import { parseArgs } from 'node:util'
import { type Capture, capture, LinkType, PcapWriter } from '../capture/pcap.js'
import { Netdev } from '../netdev.js'
import {
  ArpOp,
  ArpView,
  EthernetView,
  EtherType,
  IcmpView,
  Icmpv6View,
  IpProtocol,
  Ipv4View,
  Ipv6View,
  TcpView,
  UdpView,
} from '../packet/index.js'
import type { PackedFrames } from '../rx.js'

/** The command's help text. */
export const USAGE = `Usage: pltap capture <ifname> [-w <file>|-] [--count <n>] [--mode tap|tun]

Creates the device <ifname> (direct allocation; %d templates allowed; needs
CAP_NET_ADMIN), brings it up and captures every frame the kernel sends to it, with
its receive time, until --count frames or SIGINT/SIGTERM. Give the device an address
from another shell (ip addr add ... dev <ifname>) to see traffic.

  -w <file>       write a pcap file (nanosecond timestamps; Ethernet for tap, raw IP
                  for tun); "-w -" writes it to stdout. Without -w, one line per frame.
  -c, --count <n> stop after n frames
  --mode tap|tun  the device type (default tap)
  -h, --help      this help

Messages go to stderr. Exit status: 0 when stopped by --count or a signal, 1 on a
failure, 2 on a usage error.`

function err(line: string): void {
  process.stderr.write(`${line}\n`)
}

function usageError(message: string): number {
  err(`pltap capture: ${message}\n\n${USAGE}`)
  return 2
}

/** `HH:MM:SS.nnnnnnnnn` (UTC) of a realtime nanosecond timestamp. */
function clock(ns: bigint): string {
  const ms = Number(ns / 1_000_000n)
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0')
  return `${new Date(ms).toISOString().slice(11, 19)}.${frac}`
}

function describeIp(packet: Uint8Array): string {
  const version = packet[0]! >>> 4
  const ip = version === 4 ? new Ipv4View(packet) : version === 6 ? new Ipv6View(packet) : null
  if (ip === null) return `unknown network protocol (version ${version}), ${packet.length} bytes`
  const proto = ip instanceof Ipv4View ? ip.protocol : ip.nextHeader
  const family = ip instanceof Ipv4View ? 'IP' : 'IP6'
  switch (proto) {
    case IpProtocol.UDP: {
      const u = new UdpView(ip.payload)
      return `${family} ${ip.src}.${u.srcPort} > ${ip.dst}.${u.dstPort}: UDP, length ${u.payload.length}`
    }
    case IpProtocol.TCP: {
      const tcp = new TcpView(ip.payload)
      const flags = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'].filter((f) => tcp[f as 'syn']).join(',') || 'none'
      return `${family} ${ip.src}.${tcp.srcPort} > ${ip.dst}.${tcp.dstPort}: TCP [${flags}] seq ${tcp.sequence}, length ${tcp.payload.length}`
    }
    case IpProtocol.ICMP: {
      const m = new IcmpView(ip.payload)
      const what =
        m.type === 8
          ? `echo request, id ${m.identifier}, seq ${m.sequence}`
          : m.type === 0
            ? `echo reply, id ${m.identifier}, seq ${m.sequence}`
            : `type ${m.type} code ${m.code}`
      return `${family} ${ip.src} > ${ip.dst}: ICMP ${what}`
    }
    case IpProtocol.ICMPv6: {
      const m = new Icmpv6View(ip.payload)
      const what =
        m.type === 135
          ? `neighbor solicitation, who has ${m.targetAddress}`
          : m.type === 136
            ? `neighbor advertisement, tgt is ${m.targetAddress}`
            : m.type === 128 || m.type === 129
              ? `echo ${m.type === 128 ? 'request' : 'reply'}, id ${m.identifier}, seq ${m.sequence}`
              : `type ${m.type} code ${m.code}`
      return `${family} ${ip.src} > ${ip.dst}: ICMP6, ${what}`
    }
    default:
      return `${family} ${ip.src} > ${ip.dst}: protocol ${proto}, length ${ip.payload.length}`
  }
}

/** One tcpdump-like line about a frame (Ethernet for a TAP, raw IP for a TUN). */
export function describeFrame(frame: Uint8Array, linkType: number): string {
  try {
    if (linkType === LinkType.RAW) return describeIp(frame)
    const eth = new EthernetView(frame)
    const vlan = eth.vlan ? ` vlan ${eth.vlan.id},` : ''
    const link = `${eth.src} > ${eth.dst},${vlan}`
    if (eth.etherType === EtherType.ARP) {
      const a = new ArpView(eth.payload)
      return `${link} ARP, ${a.op === ArpOp.REQUEST ? `Request who-has ${a.targetIp} tell ${a.senderIp}` : a.op === ArpOp.REPLY ? `Reply ${a.senderIp} is-at ${a.senderMac}` : `op ${a.op}`}`
    }
    if (eth.etherType === EtherType.IPv4 || eth.etherType === EtherType.IPv6) return `${link} ${describeIp(eth.payload)}`
    return `${link} ethertype 0x${eth.etherType.toString(16).padStart(4, '0')}, length ${frame.length}`
  } catch (e) {
    if (e instanceof RangeError) return `malformed: ${e.message} (${frame.length} bytes)`
    throw e
  }
}

/** Runs `pltap capture`; resolves with the exit status. */
export async function run(argv: string[]): Promise<number> {
  let values: { w?: string; count?: string; mode?: string; help?: boolean }
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        w: { type: 'string', short: 'w' },
        count: { type: 'string', short: 'c' },
        mode: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (e) {
    return usageError(e instanceof Error ? e.message : String(e))
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1)
    return usageError(positionals.length === 0 ? 'expected an interface name' : `unexpected argument ${positionals[1]}`)
  const ifname = positionals[0]!
  const mode = values.mode ?? 'tap'
  if (mode !== 'tap' && mode !== 'tun') return usageError(`--mode must be tap or tun, got ${JSON.stringify(mode)}`)
  let count: number | undefined
  if (values.count !== undefined) {
    count = Number(values.count)
    if (!/^\d+$/.test(values.count) || !Number.isSafeInteger(count) || count < 1)
      return usageError(`--count must be a positive integer, got ${JSON.stringify(values.count)}`)
  }
  const linkType = mode === 'tun' ? LinkType.RAW : LinkType.ETHERNET
  const out = values.w

  // The output first, so that a bad path fails before a device exists.
  let sink: NodeJS.WritableStream | undefined
  if (out === '-') sink = process.stdout
  else if (out !== undefined) {
    const file = createWriteStream(out)
    try {
      await new Promise<void>((resolve, reject) => {
        file.once('open', () => resolve())
        file.once('error', reject)
      })
    } catch (e) {
      err(`pltap capture: cannot write ${out}: ${e instanceof Error ? e.message : String(e)}`)
      return 1
    }
    sink = file
  }

  let dev: Netdev
  try {
    dev = await Netdev.open({ name: `capture:${ifname}`, allocator: 'direct', ifname, mode })
  } catch (e) {
    if (sink !== undefined && sink !== process.stdout) sink.end()
    const code = (e as { code?: unknown }).code
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (creating a device needs CAP_NET_ADMIN: run as root)' : ''
    err(`pltap capture: cannot open ${ifname}: ${e instanceof Error ? e.message : String(e)}${hint}`)
    return 1
  }
  let cap: Capture | undefined
  let lines = 0
  let stopping = false
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    stop = () => {
      stopping = true
      resolve()
    }
  })
  const onSignal = (): void => stop()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let failure: unknown
  try {
    await dev.up()
    const rx = dev.rxOpen()
    let writer: PcapWriter | undefined
    if (sink !== undefined) {
      writer = new PcapWriter(sink, { linkType })
      sink.on('error', () => stop()) // e.g. EPIPE: the reader went away
      cap = capture(rx, writer, { count })
      void cap.done.then(stop)
    }
    err(
      `pltap capture: capturing on ${dev.realName} (${mode})${out === undefined ? '' : `, writing pcap to ${out === '-' ? 'stdout' : out}`}; Ctrl-C to stop`,
    )
    // Reading drives the receiver (the pcap tee observes what it delivers).
    const reading = (async () => {
      for (;;) {
        let burst: PackedFrames
        try {
          burst = await rx.readPacked()
        } catch (e) {
          if (!stopping && !rx.closed) failure = e
          return
        }
        if (writer !== undefined) continue
        let at = 0
        for (const len of burst.lengths) {
          process.stdout.write(`${clock(burst.timestamp)} ${describeFrame(burst.data.subarray(at, at + len), linkType)}\n`)
          at += len
          if (count !== undefined && ++lines >= count) {
            stop()
            return
          }
        }
      }
    })()
    await Promise.race([stopped, reading])
    await cap?.stop().catch(() => {})
    const rxDropped = rx.dropped
    await rx.close()
    await reading
    if (writer !== undefined) {
      try {
        await writer.close({ end: out !== '-' })
      } catch (e) {
        if ((e as { code?: string }).code !== 'EPIPE') failure ??= e
      }
      err(`pltap capture: ${writer.frames} frames captured, ${writer.dropped} dropped by the writer, ${rxDropped} by the receiver`)
    } else {
      err(`pltap capture: ${lines} frames`)
    }
  } catch (e) {
    failure = e
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    await dev.close()
  }
  if (failure !== undefined) {
    err(`pltap capture: ${failure instanceof Error ? failure.message : String(failure)}`)
    return 1
  }
  return 0
}
