/**
 * IPv4 (RFC 791) headers, with options and the header checksum.
 * @module
 */
import { formatIpv4, type IpAddress, ipBytesOf } from './address.js'
import { alloc, checkBytes, checkUint, need, payloadOf, put16, u16 } from './bytes.js'
import { internetChecksum } from './checksum.js'

/**
 * Common IP protocol numbers (IPv4 `protocol`, IPv6 `nextHeader`).
 *
 * @example
 * ```ts
 * if (ip.protocol === IpProtocol.UDP) handleUdp(new UdpView(ip.payload))
 * ```
 */
export const IpProtocol = {
  /** ICMP for IPv4. */
  ICMP: 1,
  /** TCP. */
  TCP: 6,
  /** UDP. */
  UDP: 17,
  /** ICMP for IPv6. */
  ICMPv6: 58,
} as const

/**
 * A zero-copy view of an IPv4 packet. The constructor checks the version, that the header
 * (with its options) fits and that the buffer holds the whole packet as `totalLength`
 * says; {@link Ipv4View.payload} stops there (Ethernet padding excluded).
 *
 * @example
 * ```ts
 * const ip = new Ipv4View(new EthernetView(frame).payload)
 * console.log(`${ip.src} > ${ip.dst} proto ${ip.protocol} ttl ${ip.ttl} ${ip.checksumValid ? 'ok' : 'BAD'}`)
 * ```
 */
export class Ipv4View {
  /** The packet's bytes, from the version on (trailing padding included). */
  readonly bytes: Uint8Array

  /**
   * @throws RangeError if `bytes` is short (of 20 bytes, of the header length, or of
   *   `totalLength`), the version is not 4 or the header length field is below 5.
   */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('IPv4 header', bytes, 20)
    const v = bytes[0]! >>> 4
    if (v !== 4) throw new RangeError(`not an IPv4 packet (version ${v})`)
    const hl = (bytes[0]! & 0x0f) * 4
    if (hl < 20) throw new RangeError(`IPv4 header length ${hl} is below 20`)
    need('IPv4 header with options', bytes, hl)
    const total = u16(bytes, 2)
    if (total < hl) throw new RangeError(`IPv4 total length ${total} is below the header length ${hl}`)
    need('IPv4 packet (total length)', bytes, total)
    this.bytes = bytes
  }

  /** Always 4. */
  get version(): number {
    return this.bytes[0]! >>> 4
  }

  /** The header length in bytes (IHL × 4): 20 plus the options. */
  get headerLength(): number {
    return (this.bytes[0]! & 0x0f) * 4
  }

  /** The type-of-service byte (DSCP and ECN). */
  get tos(): number {
    return this.bytes[1]!
  }

  /** Differentiated services code point (the top six bits of {@link Ipv4View.tos}). */
  get dscp(): number {
    return this.bytes[1]! >>> 2
  }

  /** Explicit congestion notification (the low two bits of {@link Ipv4View.tos}). */
  get ecn(): number {
    return this.bytes[1]! & 3
  }

  /** Header plus payload, in bytes. */
  get totalLength(): number {
    return u16(this.bytes, 2)
  }

  /** The identification field. */
  get identification(): number {
    return u16(this.bytes, 4)
  }

  /** Don't fragment. */
  get dontFragment(): boolean {
    return (this.bytes[6]! & 0x40) !== 0
  }

  /** More fragments. */
  get moreFragments(): boolean {
    return (this.bytes[6]! & 0x20) !== 0
  }

  /** Fragment offset, in 8-byte units. */
  get fragmentOffset(): number {
    return u16(this.bytes, 6) & 0x1fff
  }

  /** Time to live. */
  get ttl(): number {
    return this.bytes[8]!
  }

  /** The payload's protocol ({@link IpProtocol}). */
  get protocol(): number {
    return this.bytes[9]!
  }

  /** The header checksum as carried. */
  get checksum(): number {
    return u16(this.bytes, 10)
  }

  /** Whether the header checksum is right. */
  get checksumValid(): boolean {
    return internetChecksum(this.bytes.subarray(0, this.headerLength)) === 0
  }

  /** Source address. */
  get src(): string {
    return formatIpv4(this.bytes, 12)
  }

  /** Destination address. */
  get dst(): string {
    return formatIpv4(this.bytes, 16)
  }

  /** Source address's 4 bytes (a view). */
  get srcBytes(): Uint8Array {
    return this.bytes.subarray(12, 16)
  }

  /** Destination address's 4 bytes (a view). */
  get dstBytes(): Uint8Array {
    return this.bytes.subarray(16, 20)
  }

  /** The options (a view; empty without). */
  get options(): Uint8Array {
    return this.bytes.subarray(20, this.headerLength)
  }

  /** The payload: from the end of the header to `totalLength` (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength)
  }
}

/**
 * What {@link buildIpv4} builds.
 *
 * @example
 * ```ts
 * const init: Ipv4Init = { src: '198.18.0.1', dst: '198.18.0.2', protocol: IpProtocol.UDP, payload: udp, ttl: 64 }
 * ```
 */
export interface Ipv4Init {
  /** Source address. */
  src: IpAddress
  /** Destination address. */
  dst: IpAddress
  /** The payload's protocol ({@link IpProtocol}). */
  protocol: number
  /** The payload (default: none). */
  payload?: Uint8Array
  /** Time to live (default 64). */
  ttl?: number
  /** Type of service (DSCP << 2 | ECN; default 0). */
  tos?: number
  /** Identification (default 0). */
  identification?: number
  /** Don't fragment (default false). */
  dontFragment?: boolean
  /** More fragments (default false). */
  moreFragments?: boolean
  /** Fragment offset in 8-byte units (default 0). */
  fragmentOffset?: number
  /** Options, padded with zeros (end of options) to a multiple of 4 bytes; at most 40. */
  options?: Uint8Array
}

/**
 * Builds an IPv4 packet with its header checksum.
 *
 * @throws TypeError/RangeError for a bad field, options over 40 bytes or a packet over 65535.
 * @example
 * ```ts
 * const packet = buildIpv4({
 *   src: '198.18.0.1', dst: '198.18.0.2', protocol: IpProtocol.ICMP, dontFragment: true,
 *   payload: buildIcmpEcho({ type: IcmpType.ECHO_REQUEST, identifier: 1, sequence: 1 }),
 * })
 * ```
 */
export function buildIpv4(init: Ipv4Init): Buffer {
  const src = ipBytesOf('src', init.src, 4)
  const dst = ipBytesOf('dst', init.dst, 4)
  const payload = payloadOf('payload', init.payload)
  const options = payloadOf('options', init.options)
  if (options.length > 40) throw new RangeError(`IPv4 options must be at most 40 bytes, got ${options.length}`)
  const hl = 20 + Math.ceil(options.length / 4) * 4
  const total = hl + payload.length
  if (total > 0xffff) throw new RangeError(`an IPv4 packet is at most 65535 bytes, this one would be ${total}`)
  const p = alloc(total)
  p[0] = 0x40 | (hl / 4)
  p[1] = checkUint('tos', init.tos ?? 0, 255)
  put16(p, 2, total)
  put16(p, 4, checkUint('identification', init.identification ?? 0, 0xffff))
  put16(
    p,
    6,
    (init.dontFragment ? 0x4000 : 0) | (init.moreFragments ? 0x2000 : 0) | checkUint('fragmentOffset', init.fragmentOffset ?? 0, 0x1fff),
  )
  p[8] = checkUint('ttl', init.ttl ?? 64, 255)
  p[9] = checkUint('protocol', init.protocol, 255)
  p.set(src, 12)
  p.set(dst, 16)
  p.set(options, 20)
  put16(p, 10, internetChecksum(p.subarray(0, hl)))
  p.set(payload, hl)
  return p
}
