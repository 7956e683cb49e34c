/**
 * TCP (RFC 9293) segments: flags, options and the pseudo-header checksum.
 * @module
 */
import type { IpAddress } from './address.js'
import { alloc, checkBytes, checkUint, need, payloadOf, put16, put32, u16, u32 } from './bytes.js'
import { transportChecksum } from './checksum.js'
import { IpProtocol } from './ipv4.js'

/**
 * TCP flag bits (the byte at offset 13).
 *
 * @example
 * ```ts
 * const synAck = buildTcp({ srcPort: 80, dstPort: 40000, flags: TcpFlags.SYN | TcpFlags.ACK })
 * ```
 */
export const TcpFlags = {
  /** No more data from the sender. */
  FIN: 0x01,
  /** Synchronize sequence numbers. */
  SYN: 0x02,
  /** Reset the connection. */
  RST: 0x04,
  /** Push. */
  PSH: 0x08,
  /** The acknowledgment number is significant. */
  ACK: 0x10,
  /** The urgent pointer is significant. */
  URG: 0x20,
  /** ECN-Echo. */
  ECE: 0x40,
  /** Congestion window reduced. */
  CWR: 0x80,
} as const

/**
 * A zero-copy view of a TCP segment (an IP packet's payload: pass {@link Ipv4View.payload}
 * so the segment ends where the packet does). The constructor checks that the header,
 * with its options, fits.
 *
 * @example
 * ```ts
 * const tcp = new TcpView(ip.payload)
 * if (tcp.syn && !tcp.ack) console.log(`connection attempt to port ${tcp.dstPort}, options ${tcp.options.length} bytes`)
 * ```
 */
export class TcpView {
  /** The segment's bytes. */
  readonly bytes: Uint8Array

  /** @throws RangeError if `bytes` is shorter than 20 bytes or than the header length, or the data offset is below 5. */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('TCP header', bytes, 20)
    const hl = (bytes[12]! >>> 4) * 4
    if (hl < 20) throw new RangeError(`TCP header length ${hl} is below 20`)
    need('TCP header with options', bytes, hl)
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

  /** Sequence number. */
  get sequence(): number {
    return u32(this.bytes, 4)
  }

  /** Acknowledgment number. */
  get acknowledgment(): number {
    return u32(this.bytes, 8)
  }

  /** The header length in bytes (data offset × 4): 20 plus the options. */
  get headerLength(): number {
    return (this.bytes[12]! >>> 4) * 4
  }

  /** The flag bits ({@link TcpFlags}). */
  get flags(): number {
    return this.bytes[13]!
  }

  /** FIN. */
  get fin(): boolean {
    return (this.bytes[13]! & TcpFlags.FIN) !== 0
  }

  /** SYN. */
  get syn(): boolean {
    return (this.bytes[13]! & TcpFlags.SYN) !== 0
  }

  /** RST. */
  get rst(): boolean {
    return (this.bytes[13]! & TcpFlags.RST) !== 0
  }

  /** PSH. */
  get psh(): boolean {
    return (this.bytes[13]! & TcpFlags.PSH) !== 0
  }

  /** ACK (the flag; the number is {@link TcpView.acknowledgment}). */
  get ack(): boolean {
    return (this.bytes[13]! & TcpFlags.ACK) !== 0
  }

  /** URG. */
  get urg(): boolean {
    return (this.bytes[13]! & TcpFlags.URG) !== 0
  }

  /** ECE. */
  get ece(): boolean {
    return (this.bytes[13]! & TcpFlags.ECE) !== 0
  }

  /** CWR. */
  get cwr(): boolean {
    return (this.bytes[13]! & TcpFlags.CWR) !== 0
  }

  /** Receive window. */
  get window(): number {
    return u16(this.bytes, 14)
  }

  /** The checksum as carried. */
  get checksum(): number {
    return u16(this.bytes, 16)
  }

  /**
   * Whether the checksum is right for a segment from `src` to `dst` (the whole of
   * {@link TcpView.bytes} is the segment).
   *
   * @example
   * ```ts
   * if (!tcp.checksumValid(ip.src, ip.dst)) return // drop it
   * ```
   */
  checksumValid(src: IpAddress, dst: IpAddress): boolean {
    return transportChecksum(src, dst, IpProtocol.TCP, this.bytes) === 0
  }

  /** Urgent pointer. */
  get urgentPointer(): number {
    return u16(this.bytes, 18)
  }

  /** The options (a view; empty without). */
  get options(): Uint8Array {
    return this.bytes.subarray(20, this.headerLength)
  }

  /** The data after the header (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength)
  }
}

/**
 * What {@link buildTcp} builds.
 *
 * @example
 * ```ts
 * const init: TcpInit = { srcPort: 40000, dstPort: 80, sequence: 1, flags: TcpFlags.SYN, src: '198.18.0.1', dst: '198.18.0.2' }
 * ```
 */
export interface TcpInit {
  /** Source port. */
  srcPort: number
  /** Destination port. */
  dstPort: number
  /** Sequence number (default 0). */
  sequence?: number
  /** Acknowledgment number (default 0). */
  acknowledgment?: number
  /** Flag bits, an OR of {@link TcpFlags} (default 0). */
  flags?: number
  /** Receive window (default 65535). */
  window?: number
  /** Urgent pointer (default 0). */
  urgentPointer?: number
  /** Options, padded with zeros (end of option list) to a multiple of 4 bytes; at most 40. */
  options?: Uint8Array
  /** The data (default: none). */
  payload?: Uint8Array
  /** Source IP address, for the checksum (without `src` and `dst` the checksum is left 0). */
  src?: IpAddress
  /** Destination IP address, for the checksum. */
  dst?: IpAddress
}

/**
 * Builds a TCP segment; with `src` and `dst` it carries its checksum.
 *
 * @throws TypeError/RangeError for a bad field, or options over 40 bytes.
 * @example
 * ```ts
 * const mss1460 = Buffer.from([2, 4, 0x05, 0xb4])
 * const syn = buildTcp({ srcPort: 40000, dstPort: 80, sequence: 1, flags: TcpFlags.SYN, options: mss1460, src: '198.18.0.1', dst: '198.18.0.2' })
 * ```
 */
export function buildTcp(init: TcpInit): Buffer {
  const payload = payloadOf('payload', init.payload)
  const options = payloadOf('options', init.options)
  if (options.length > 40) throw new RangeError(`TCP options must be at most 40 bytes, got ${options.length}`)
  const hl = 20 + Math.ceil(options.length / 4) * 4
  const s = alloc(hl + payload.length)
  put16(s, 0, checkUint('srcPort', init.srcPort, 0xffff))
  put16(s, 2, checkUint('dstPort', init.dstPort, 0xffff))
  put32(s, 4, checkUint('sequence', init.sequence ?? 0, 0xffffffff))
  put32(s, 8, checkUint('acknowledgment', init.acknowledgment ?? 0, 0xffffffff))
  s[12] = (hl / 4) << 4
  s[13] = checkUint('flags', init.flags ?? 0, 255)
  put16(s, 14, checkUint('window', init.window ?? 65535, 0xffff))
  put16(s, 18, checkUint('urgentPointer', init.urgentPointer ?? 0, 0xffff))
  s.set(options, 20)
  s.set(payload, hl)
  if ((init.src === undefined) !== (init.dst === undefined))
    throw new TypeError('buildTcp: give both src and dst (for the checksum) or neither')
  if (init.src !== undefined && init.dst !== undefined) put16(s, 16, transportChecksum(init.src, init.dst, IpProtocol.TCP, s))
  return s
}
