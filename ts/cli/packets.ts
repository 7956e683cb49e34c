/**
 * The ARP and ICMP answers `pltap demo` gives (and the device tests build frames with),
 * written with pltap/packet (ts/packet). `__test__/packets.spec.ts` pins
 * each function to golden bytes written out by hand.
 * @internal
 * @module
 */
import {
  ArpOp,
  ArpView,
  buildArp,
  buildEthernet,
  buildIcmpEcho,
  buildIpv4,
  EthernetView,
  EtherType,
  formatMac,
  IcmpType,
  IcmpView,
  IpProtocol,
  Ipv4View,
  internetChecksum,
  parseIpv4,
  parseMac,
} from '../packet/index.js'

/** Dotted quad → 4 bytes. */
export function ipBytes(ip: string): Buffer {
  return parseIpv4(ip)
}

/** `aa:bb:...` → 6 bytes. */
export function macBytes(mac: string): Buffer {
  return parseMac(mac)
}

/** 6 bytes → `aa:bb:...` (lower case). */
export function macString(bytes: Uint8Array): string {
  return formatMac(bytes)
}

/** The Internet checksum (RFC 1071) of `data`. */
export function inetChecksum(data: Uint8Array): number {
  return internetChecksum(data)
}

/** An Ethernet frame (to `ethDst`, from `senderMac`) holding an Ethernet/IPv4 ARP packet: 42 bytes, no padding. */
export function arpFrame(op: 1 | 2, ethDst: string, senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  return buildEthernet({
    dst: ethDst,
    src: senderMac,
    etherType: EtherType.ARP,
    payload: buildArp({ op, senderMac, senderIp, targetMac, targetIp }),
  })
}

/** The fields of an Ethernet/IPv4 ARP packet. */
export interface Arp {
  /** 1 for a request, 2 for a reply. */
  op: number
  senderMac: string
  senderIp: string
  targetMac: string
  targetIp: string
}

/** The ARP packet in `frame`, if it holds one for Ethernet/IPv4; otherwise `null`. */
export function parseArp(frame: Uint8Array): Arp | null {
  try {
    const eth = new EthernetView(frame)
    if (eth.etherType !== EtherType.ARP || eth.vlan !== null) return null
    const { op, senderMac, senderIp, targetMac, targetIp } = new ArpView(eth.payload)
    return { op, senderMac, senderIp, targetMac, targetIp }
  } catch (err) {
    if (err instanceof RangeError) return null // short, or not Ethernet/IPv4 ARP
    throw err
  }
}

/**
 * If `frame` is an ARP request for `ip`, the ARP reply that says `ip` is at `mac`;
 * otherwise `null`.
 */
export function arpReply(frame: Uint8Array, ip: string, mac: string): Buffer | null {
  const req = parseArp(frame)
  if (req === null || req.op !== ArpOp.REQUEST || req.targetIp !== ip) return null
  return arpFrame(ArpOp.REPLY, formatMac(frame, 6), mac, ip, req.senderMac, req.senderIp)
}

/**
 * If `frame` is an ICMP echo request to `ip`, the echo reply from `ip` (MACs and
 * addresses swapped, TTL 64, the rest of the IP header kept, checksums recomputed);
 * otherwise `null`.
 */
export function icmpEchoReply(frame: Uint8Array, ip: string): Buffer | null {
  let eth: EthernetView
  let req: Ipv4View
  let echo: IcmpView
  try {
    eth = new EthernetView(frame)
    if (eth.etherType !== EtherType.IPv4 || eth.vlan !== null) return null
    req = new Ipv4View(eth.payload)
    if (req.protocol !== IpProtocol.ICMP || req.dst !== ip || req.fragmentOffset !== 0 || req.moreFragments) return null
    echo = new IcmpView(req.payload)
  } catch (err) {
    if (err instanceof RangeError) return null // short, or not IPv4
    throw err
  }
  if (echo.type !== IcmpType.ECHO_REQUEST) return null
  return buildEthernet({
    dst: eth.srcBytes,
    src: eth.dstBytes,
    etherType: EtherType.IPv4,
    payload: buildIpv4({
      src: req.dstBytes,
      dst: req.srcBytes,
      protocol: IpProtocol.ICMP,
      tos: req.tos,
      identification: req.identification,
      dontFragment: req.dontFragment,
      options: req.options,
      payload: buildIcmpEcho({ type: IcmpType.ECHO_REPLY, identifier: echo.identifier, sequence: echo.sequence, data: echo.data }),
    }),
  })
}
