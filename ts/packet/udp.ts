/**
 * UDP (RFC 768) datagrams, with the pseudo-header checksum over IPv4 or IPv6.
 * @module
 */
import { type IpAddress, ipBytes } from './address.js'
import { alloc, checkBytes, checkUint, need, payloadOf, put16, u16 } from './bytes.js'
import { transportChecksum } from './checksum.js'
import { IpProtocol } from './ipv4.js'

/**
 * A zero-copy view of a UDP datagram (an IP packet's payload). The constructor checks
 * that the buffer holds the datagram's `length`; {@link UdpView.payload} stops there.
 *
 * @example
 * ```ts
 * const udp = new UdpView(ip.payload)
 * console.log(`${ip.src}:${udp.srcPort} > ${ip.dst}:${udp.dstPort} ${udp.payload.length} bytes`)
 * ```
 */
export class UdpView {
  /** The datagram's bytes. */
  readonly bytes: Uint8Array

  /** @throws RangeError if `bytes` is shorter than 8 bytes or than `length`, or `length` is below 8. */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('UDP header', bytes, 8)
    const len = u16(bytes, 4)
    if (len < 8) throw new RangeError(`UDP length ${len} is below 8`)
    need('UDP datagram (length)', bytes, len)
    this.bytes = bytes
  }

  /** Source port. */
  get srcPort(): number {
    return u16(this.bytes, 0)
  }

  /** Destination port. */
  get dstPort(): number {
    return u16(this.bytes, 2)
  }

  /** Header plus payload, in bytes. */
  get length(): number {
    return u16(this.bytes, 4)
  }

  /** The checksum as carried (0: none, allowed over IPv4 only). */
  get checksum(): number {
    return u16(this.bytes, 6)
  }

  /**
   * Whether the checksum is right for a datagram from `src` to `dst` (an absent checksum,
   * 0 over IPv4, counts as right).
   *
   * @example
   * ```ts
   * if (!udp.checksumValid(ip.src, ip.dst)) return // drop it
   * ```
   */
  checksumValid(src: IpAddress, dst: IpAddress): boolean {
    if (this.checksum === 0 && ipBytes(src).length === 4) return true
    return transportChecksum(src, dst, IpProtocol.UDP, this.bytes.subarray(0, this.length)) === 0
  }

  /** The payload (a view), up to `length`. */
  get payload(): Uint8Array {
    return this.bytes.subarray(8, this.length)
  }
}

/**
 * What {@link buildUdp} builds.
 *
 * @example
 * ```ts
 * const init: UdpInit = { srcPort: 5000, dstPort: 9, payload: Buffer.from('hi'), src: '198.18.0.1', dst: '198.18.0.2' }
 * ```
 */
export interface UdpInit {
  /** Source port. */
  srcPort: number
  /** Destination port. */
  dstPort: number
  /** The payload (default: none). */
  payload?: Uint8Array
  /** Source IP address, for the checksum (without `src` and `dst` the checksum is 0, "none", valid over IPv4 only). */
  src?: IpAddress
  /** Destination IP address, for the checksum. */
  dst?: IpAddress
}

/**
 * Builds a UDP datagram; with `src` and `dst` it carries its checksum (a computed 0 is sent as 0xffff).
 *
 * @throws TypeError/RangeError for a bad port or address, or a datagram over 65535 bytes.
 * @example
 * ```ts
 * const packet = buildIpv4({
 *   src: '198.18.0.1', dst: '198.18.0.2', protocol: IpProtocol.UDP,
 *   payload: buildUdp({ srcPort: 5000, dstPort: 9, src: '198.18.0.1', dst: '198.18.0.2', payload: Buffer.from('hi') }),
 * })
 * ```
 */
export function buildUdp(init: UdpInit): Buffer {
  const payload = payloadOf('payload', init.payload)
  const len = 8 + payload.length
  if (len > 0xffff) throw new RangeError(`a UDP datagram is at most 65535 bytes, this one would be ${len}`)
  const d = alloc(len)
  put16(d, 0, checkUint('srcPort', init.srcPort, 0xffff))
  put16(d, 2, checkUint('dstPort', init.dstPort, 0xffff))
  put16(d, 4, len)
  d.set(payload, 8)
  if ((init.src === undefined) !== (init.dst === undefined))
    throw new TypeError('buildUdp: give both src and dst (for the checksum) or neither')
  if (init.src !== undefined && init.dst !== undefined) {
    const sum = transportChecksum(init.src, init.dst, IpProtocol.UDP, d)
    put16(d, 6, sum === 0 ? 0xffff : sum)
  }
  return d
}
