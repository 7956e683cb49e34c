/**
 * ARP (RFC 826) for Ethernet and IPv4.
 * @module
 */
import { formatIpv4, type IpAddress, ipBytesOf } from './address.js'
import { alloc, checkBytes, checkUint, need, put16, u16 } from './bytes.js'
import { EtherType } from './ethernet.js'
import { formatMac, type MacAddress, macBytesOf } from './mac.js'

/**
 * ARP operation codes.
 *
 * @example
 * ```ts
 * if (arp.op === ArpOp.REQUEST && arp.targetIp === myIp) reply()
 * ```
 */
export const ArpOp = {
  /** "Who has targetIp? Tell senderIp." */
  REQUEST: 1,
  /** "senderIp is at senderMac." */
  REPLY: 2,
} as const

/** The length of an Ethernet/IPv4 ARP packet. */
export const ARP_LENGTH = 28

/**
 * A zero-copy view of an Ethernet/IPv4 ARP packet (the payload of an Ethernet frame with
 * EtherType 0x0806).
 *
 * @example
 * ```ts
 * const arp = new ArpView(new EthernetView(frame).payload)
 * if (arp.op === ArpOp.REQUEST) console.log(`who has ${arp.targetIp}? tell ${arp.senderIp}`)
 * ```
 */
export class ArpView {
  /** The packet's bytes (trailing padding included). */
  readonly bytes: Uint8Array

  /**
   * @throws RangeError if `bytes` is shorter than 28 bytes or is not Ethernet/IPv4 ARP
   *   (hardware type 1, protocol 0x0800, address lengths 6 and 4).
   */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('ARP packet', bytes, ARP_LENGTH)
    if (u16(bytes, 0) !== 1 || u16(bytes, 2) !== EtherType.IPv4 || bytes[4] !== 6 || bytes[5] !== 4) {
      throw new RangeError(
        `not an Ethernet/IPv4 ARP packet (htype ${u16(bytes, 0)}, ptype 0x${u16(bytes, 2).toString(16)}, hlen ${bytes[4]}, plen ${bytes[5]})`,
      )
    }
    this.bytes = bytes
  }

  /** The hardware type (1, Ethernet). */
  get hardwareType(): number {
    return u16(this.bytes, 0)
  }

  /** The protocol type (0x0800, IPv4). */
  get protocolType(): number {
    return u16(this.bytes, 2)
  }

  /** The operation: {@link ArpOp}.REQUEST or REPLY. */
  get op(): number {
    return u16(this.bytes, 6)
  }

  /** The sender's MAC address. */
  get senderMac(): string {
    return formatMac(this.bytes, 8)
  }

  /** The sender's IPv4 address. */
  get senderIp(): string {
    return formatIpv4(this.bytes, 14)
  }

  /** The target's MAC address (zeros in a request). */
  get targetMac(): string {
    return formatMac(this.bytes, 18)
  }

  /** The target's IPv4 address. */
  get targetIp(): string {
    return formatIpv4(this.bytes, 24)
  }
}

/**
 * What {@link buildArp} builds.
 *
 * @example
 * ```ts
 * const init: ArpInit = { op: ArpOp.REPLY, senderMac: mac, senderIp: '198.18.0.2', targetMac: asker, targetIp: '198.18.0.1' }
 * ```
 */
export interface ArpInit {
  /** {@link ArpOp}.REQUEST or REPLY (or another code). */
  op: number
  /** The sender's MAC address. */
  senderMac: MacAddress
  /** The sender's IPv4 address. */
  senderIp: IpAddress
  /** The target's MAC address (default zeros, as in a request). */
  targetMac?: MacAddress
  /** The target's IPv4 address. */
  targetIp: IpAddress
}

/**
 * Builds a 28-byte Ethernet/IPv4 ARP packet (wrap it with {@link buildEthernet}, EtherType 0x0806).
 *
 * @throws TypeError/RangeError for a bad address or op.
 * @example
 * ```ts
 * const request = buildEthernet({
 *   dst: BROADCAST_MAC, src: mac, etherType: EtherType.ARP,
 *   payload: buildArp({ op: ArpOp.REQUEST, senderMac: mac, senderIp: '198.18.0.1', targetIp: '198.18.0.2' }),
 * })
 * ```
 */
export function buildArp(init: ArpInit): Buffer {
  const p = alloc(ARP_LENGTH)
  put16(p, 0, 1)
  put16(p, 2, EtherType.IPv4)
  p[4] = 6
  p[5] = 4
  put16(p, 6, checkUint('op', init.op, 0xffff))
  p.set(macBytesOf('senderMac', init.senderMac), 8)
  p.set(ipBytesOf('senderIp', init.senderIp, 4), 14)
  if (init.targetMac !== undefined) p.set(macBytesOf('targetMac', init.targetMac), 18)
  p.set(ipBytesOf('targetIp', init.targetIp, 4), 24)
  return p
}
