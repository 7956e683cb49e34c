/**
 * IPv6 (RFC 8200) fixed headers.
 * @module
 */
import { formatIpv6, type IpAddress, ipBytesOf } from './address.js'
import { alloc, checkBytes, checkUint, need, payloadOf, put16, u16, u32 } from './bytes.js'

/** The length of the IPv6 fixed header. */
export const IPV6_HEADER_LENGTH = 40

/**
 * A zero-copy view of an IPv6 packet (the fixed header; extension headers are part of
 * the payload). The constructor checks the version and that the buffer holds
 * `40 + payloadLength` bytes; {@link Ipv6View.payload} stops there.
 *
 * @example
 * ```ts
 * const ip6 = new Ipv6View(new EthernetView(frame).payload)
 * console.log(`${ip6.src} > ${ip6.dst} next header ${ip6.nextHeader} hop limit ${ip6.hopLimit}`)
 * ```
 */
export class Ipv6View {
  /** The packet's bytes, from the version on (trailing padding included). */
  readonly bytes: Uint8Array

  /**
   * @throws RangeError if `bytes` is shorter than 40 bytes or than `40 + payloadLength`, or the version is not 6.
   */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('IPv6 header', bytes, IPV6_HEADER_LENGTH)
    const v = bytes[0]! >>> 4
    if (v !== 6) throw new RangeError(`not an IPv6 packet (version ${v})`)
    need('IPv6 packet (payload length)', bytes, IPV6_HEADER_LENGTH + u16(bytes, 4))
    this.bytes = bytes
  }

  /** Always 6. */
  get version(): number {
    return this.bytes[0]! >>> 4
  }

  /** The traffic class (DSCP << 2 | ECN). */
  get trafficClass(): number {
    return (u16(this.bytes, 0) >>> 4) & 0xff
  }

  /** The 20-bit flow label. */
  get flowLabel(): number {
    return u32(this.bytes, 0) & 0xfffff
  }

  /** Bytes after the fixed header. */
  get payloadLength(): number {
    return u16(this.bytes, 4)
  }

  /** The next header's protocol ({@link IpProtocol}, or an extension header). */
  get nextHeader(): number {
    return this.bytes[6]!
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.bytes[7]!
  }

  /** Source address (RFC 5952 text). */
  get src(): string {
    return formatIpv6(this.bytes, 8)
  }

  /** Destination address. */
  get dst(): string {
    return formatIpv6(this.bytes, 24)
  }

  /** Source address's 16 bytes (a view). */
  get srcBytes(): Uint8Array {
    return this.bytes.subarray(8, 24)
  }

  /** Destination address's 16 bytes (a view). */
  get dstBytes(): Uint8Array {
    return this.bytes.subarray(24, 40)
  }

  /** The payload: `payloadLength` bytes after the fixed header (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + this.payloadLength)
  }
}

/**
 * What {@link buildIpv6} builds.
 *
 * @example
 * ```ts
 * const init: Ipv6Init = { src: 'fe80::1', dst: 'ff02::1', nextHeader: IpProtocol.ICMPv6, hopLimit: 255, payload: icmp }
 * ```
 */
export interface Ipv6Init {
  /** Source address. */
  src: IpAddress
  /** Destination address. */
  dst: IpAddress
  /** The payload's protocol ({@link IpProtocol}). */
  nextHeader: number
  /** The payload (default: none). */
  payload?: Uint8Array
  /** Hop limit (default 64; neighbor discovery needs 255). */
  hopLimit?: number
  /** Traffic class (default 0). */
  trafficClass?: number
  /** Flow label (default 0). */
  flowLabel?: number
}

/**
 * Builds an IPv6 packet (fixed header plus payload).
 *
 * @throws TypeError/RangeError for a bad field or a payload over 65535 bytes.
 * @example
 * ```ts
 * const packet = buildIpv6({
 *   src: '2001:db8::1', dst: '2001:db8::2', nextHeader: IpProtocol.UDP,
 *   payload: buildUdp({ srcPort: 5000, dstPort: 53, src: '2001:db8::1', dst: '2001:db8::2', payload: query }),
 * })
 * ```
 */
export function buildIpv6(init: Ipv6Init): Buffer {
  const src = ipBytesOf('src', init.src, 16)
  const dst = ipBytesOf('dst', init.dst, 16)
  const payload = payloadOf('payload', init.payload)
  if (payload.length > 0xffff) throw new RangeError(`an IPv6 payload is at most 65535 bytes (no jumbograms), got ${payload.length}`)
  const tc = checkUint('trafficClass', init.trafficClass ?? 0, 255)
  const fl = checkUint('flowLabel', init.flowLabel ?? 0, 0xfffff)
  const p = alloc(IPV6_HEADER_LENGTH + payload.length)
  p[0] = 0x60 | (tc >>> 4)
  p[1] = ((tc & 0x0f) << 4) | (fl >>> 16)
  put16(p, 2, fl & 0xffff)
  put16(p, 4, payload.length)
  p[6] = checkUint('nextHeader', init.nextHeader, 255)
  p[7] = checkUint('hopLimit', init.hopLimit ?? 64, 255)
  p.set(src, 8)
  p.set(dst, 24)
  p.set(payload, IPV6_HEADER_LENGTH)
  return p
}
