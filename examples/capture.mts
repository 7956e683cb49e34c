// Print every frame a TAP device receives for a few seconds, tcpdump-style, decoded with
// pltap/packet. From this repository (inside a private network namespace, as root):
//   npm run example -- examples/capture.mts 5
import { Netdev } from 'pltap'
import { ArpView, EthernetView, EtherType, IpProtocol, Ipv4View, Ipv6View, TcpView, UdpView } from 'pltap/packet'

/** One line about a frame: its addresses and, for IP, the protocol and ports. */
function describe(frame: Buffer): string {
  try {
    const eth = new EthernetView(frame)
    const vlan = eth.vlan ? ` vlan ${eth.vlan.id}` : ''
    const link = `${eth.src} > ${eth.dst}${vlan}`
    if (eth.etherType === EtherType.ARP) {
      const arp = new ArpView(eth.payload)
      return `${link} ARP ${arp.op === 1 ? `who has ${arp.targetIp}? tell ${arp.senderIp}` : `${arp.senderIp} is at ${arp.senderMac}`}`
    }
    const ip =
      eth.etherType === EtherType.IPv4 ? new Ipv4View(eth.payload) : eth.etherType === EtherType.IPv6 ? new Ipv6View(eth.payload) : null
    if (ip === null) return `${link} type 0x${eth.etherType.toString(16).padStart(4, '0')} length ${frame.length}`
    const proto = ip instanceof Ipv4View ? ip.protocol : ip.nextHeader
    if (proto === IpProtocol.UDP || proto === IpProtocol.TCP) {
      const l4 = proto === IpProtocol.UDP ? new UdpView(ip.payload) : new TcpView(ip.payload)
      return `${link} ${ip.src}.${l4.srcPort} > ${ip.dst}.${l4.dstPort} ${proto === IpProtocol.UDP ? 'UDP' : 'TCP'} length ${frame.length}`
    }
    return `${link} ${ip.src} > ${ip.dst} protocol ${proto} length ${frame.length}`
  } catch (err) {
    if (err instanceof RangeError) return `truncated or malformed (${err.message}), length ${frame.length}`
    throw err
  }
}

const seconds = Number(process.argv[2] ?? 5)
await using dev = await Netdev.open({ name: 'capture', allocator: 'direct', ifname: 'cap%d' })
await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
console.log(`capturing on ${dev.realName} (${dev.etheraddr}) for ${seconds} s`)

await using rx = dev.rxOpen()
const signal = AbortSignal.timeout(seconds * 1000)
try {
  for (;;) {
    const frames = await rx.readBatch({ signal, max: 64 })
    for (const f of frames) console.log(describe(f))
  }
} catch (err) {
  if (!signal.aborted) throw err
}
const { port } = dev.stats()
console.log(`${port.rxPackets} frames, ${port.rxBytes} bytes, ${rx.dropped} dropped`)
