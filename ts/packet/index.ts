/**
 * # pltap/packet
 *
 * Zero-copy views and builders for the packets a TAP or TUN device carries: Ethernet
 * (with VLAN tags), ARP, IPv4, IPv6, ICMP, ICMPv6 (echo and neighbor discovery), UDP and
 * TCP, with the Internet checksum and MAC address utilities. Pure TypeScript, no native
 * code; usable on any Buffer or Uint8Array.
 *
 * - A **view** (`new EthernetView(bytes)`, `new Ipv4View(...)`, ...) checks once, in its
 *   constructor, that the buffer holds what its getters read, throwing a `RangeError` if it
 *   is short; the getters then read the bytes in place (no copy, no DataView). `payload`
 *   getters return sub-views of the same memory.
 * - A **builder** (`buildEthernet`, `buildIpv4`, ...) returns a new Buffer with lengths and
 *   checksums filled in; nest them to build a frame.
 *
 * @example
 * ```ts
 * import { ArpOp, ArpView, buildArp, buildEthernet, EtherType, EthernetView } from 'pltap/packet'
 *
 * // Answer "who has 198.18.0.2?" with "198.18.0.2 is at 02:00:c6:12:00:02".
 * function arpReply(frame: Buffer): Buffer | null {
 *   const eth = new EthernetView(frame)
 *   if (eth.etherType !== EtherType.ARP) return null
 *   const arp = new ArpView(eth.payload)
 *   if (arp.op !== ArpOp.REQUEST || arp.targetIp !== '198.18.0.2') return null
 *   return buildEthernet({
 *     dst: eth.src, src: '02:00:c6:12:00:02', etherType: EtherType.ARP,
 *     payload: buildArp({ op: ArpOp.REPLY, senderMac: '02:00:c6:12:00:02', senderIp: '198.18.0.2', targetMac: arp.senderMac, targetIp: arp.senderIp }),
 *   })
 * }
 * ```
 *
 * @module
 */

export type { Capture, CaptureOptions, CaptureSource, PcapSink, PcapWriterOptions } from '../capture/pcap.js'
export { capture, LinkType, PCAP_NANOSECOND_MAGIC, PcapWriter } from '../capture/pcap.js'
export type { IpAddress } from './address.js'
export { formatIpv4, formatIpv6, ipBytes, ipVersion, parseIpv4, parseIpv6 } from './address.js'
export type { ArpInit } from './arp.js'
export { ARP_LENGTH, ArpOp, ArpView, buildArp } from './arp.js'
export { checksumPartial, internetChecksum, pseudoHeaderSum, transportChecksum } from './checksum.js'
export type { EthernetInit, VlanTag, VlanTagFields, VlanTagInit } from './ethernet.js'
export { buildEthernet, ETHERNET_HEADER_LENGTH, EthernetView, EtherType } from './ethernet.js'
export type { IcmpEchoInit, IcmpInit } from './icmp.js'
export { buildIcmp, buildIcmpEcho, IcmpType, IcmpView } from './icmp.js'
export type { Icmpv6EchoInit, Icmpv6Init, NdOption, NdOptionInit, NeighborAdvertisementInit, NeighborSolicitationInit } from './icmpv6.js'
export {
  buildIcmpv6,
  buildIcmpv6Echo,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  Icmpv6Type,
  Icmpv6View,
  NdOptionType,
  solicitedNodeAddress,
} from './icmpv6.js'
export type { Ipv4Init } from './ipv4.js'
export { buildIpv4, IpProtocol, Ipv4View } from './ipv4.js'
export type { Ipv6Init } from './ipv6.js'
export { buildIpv6, IPV6_HEADER_LENGTH, Ipv6View } from './ipv6.js'
export type { MacAddress } from './mac.js'
export {
  BROADCAST_MAC,
  formatMac,
  ipv4MulticastMac,
  ipv6MulticastMac,
  isBroadcastMac,
  isLocalMac,
  isMulticastMac,
  isUnicastMac,
  isValidMac,
  parseMac,
  randomMac,
} from './mac.js'
export type { TcpInit } from './tcp.js'
export { buildTcp, TcpFlags, TcpView } from './tcp.js'
export type { UdpInit } from './udp.js'
export { buildUdp, UdpView } from './udp.js'
