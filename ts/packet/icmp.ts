/**
 * ICMP for IPv4 (RFC 792), with echo request and reply.
 * @module
 */
import { alloc, checkBytes, checkUint, need, payloadOf, put16, put32, u16, u32 } from './bytes.js'
import { internetChecksum } from './checksum.js'

/**
 * Common ICMP types.
 *
 * @example
 * ```ts
 * if (icmp.type === IcmpType.ECHO_REQUEST) reply(icmp)
 * ```
 */
export const IcmpType = {
  /** Echo reply (ping's answer). */
  ECHO_REPLY: 0,
  /** Destination unreachable. */
  DEST_UNREACHABLE: 3,
  /** Echo request (ping). */
  ECHO_REQUEST: 8,
  /** Time exceeded. */
  TIME_EXCEEDED: 11,
} as const

/**
 * A zero-copy view of an ICMP message (the payload of an IPv4 packet with protocol 1;
 * use {@link Ipv4View.payload}, which excludes Ethernet padding).
 *
 * @example
 * ```ts
 * const icmp = new IcmpView(ip.payload)
 * if (icmp.type === IcmpType.ECHO_REQUEST) console.log(`ping id ${icmp.identifier} seq ${icmp.sequence}`)
 * ```
 */
export class IcmpView {
  /** The message's bytes. */
  readonly bytes: Uint8Array

  /** @throws RangeError if `bytes` is shorter than the 8-byte ICMP header. */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('ICMP header', bytes, 8)
    this.bytes = bytes
  }

  /** The type ({@link IcmpType}). */
  get type(): number {
    return this.bytes[0]!
  }

  /** The code. */
  get code(): number {
    return this.bytes[1]!
  }

  /** The checksum as carried. */
  get checksum(): number {
    return u16(this.bytes, 2)
  }

  /** Whether the checksum (over the whole message) is right. */
  get checksumValid(): boolean {
    return internetChecksum(this.bytes) === 0
  }

  /** The 32-bit "rest of header" field (for echo: identifier and sequence). */
  get rest(): number {
    return u32(this.bytes, 4)
  }

  /** Echo identifier (bytes 4-5). */
  get identifier(): number {
    return u16(this.bytes, 4)
  }

  /** Echo sequence number (bytes 6-7). */
  get sequence(): number {
    return u16(this.bytes, 6)
  }

  /** What follows the 8-byte header (a view): echo data, or the quoted datagram of an error. */
  get data(): Uint8Array {
    return this.bytes.subarray(8)
  }
}

/**
 * What {@link buildIcmp} builds.
 *
 * @example
 * ```ts
 * const init: IcmpInit = { type: IcmpType.DEST_UNREACHABLE, code: 3, data: quoted }
 * ```
 */
export interface IcmpInit {
  /** The type ({@link IcmpType}). */
  type: number
  /** The code (default 0). */
  code?: number
  /** The 32-bit rest-of-header field (default 0). */
  rest?: number
  /** The data after the header (default: none). */
  data?: Uint8Array
}

/**
 * Builds an ICMP message with its checksum.
 *
 * @throws TypeError/RangeError for a bad field.
 * @example
 * ```ts
 * const unreachable = buildIcmp({ type: IcmpType.DEST_UNREACHABLE, code: 3, data: ip.bytes.subarray(0, ip.headerLength + 8) })
 * ```
 */
export function buildIcmp(init: IcmpInit): Buffer {
  const data = payloadOf('data', init.data)
  const m = alloc(8 + data.length)
  m[0] = checkUint('type', init.type, 255)
  m[1] = checkUint('code', init.code ?? 0, 255)
  put32(m, 4, checkUint('rest', init.rest ?? 0, 0xffffffff))
  m.set(data, 8)
  put16(m, 2, internetChecksum(m))
  return m
}

/**
 * What {@link buildIcmpEcho} builds.
 *
 * @example
 * ```ts
 * const init: IcmpEchoInit = { type: IcmpType.ECHO_REPLY, identifier: req.identifier, sequence: req.sequence, data: req.data }
 * ```
 */
export interface IcmpEchoInit {
  /** {@link IcmpType}.ECHO_REQUEST (default) or ECHO_REPLY. */
  type?: 0 | 8
  /** Identifier. */
  identifier: number
  /** Sequence number. */
  sequence: number
  /** Echo data (default: none). */
  data?: Uint8Array
}

/**
 * Builds an ICMP echo request or reply with its checksum.
 *
 * @throws TypeError/RangeError for a bad field.
 * @example
 * ```ts
 * const req = new IcmpView(ip.payload)
 * const reply = buildIcmpEcho({ type: IcmpType.ECHO_REPLY, identifier: req.identifier, sequence: req.sequence, data: req.data })
 * ```
 */
export function buildIcmpEcho(init: IcmpEchoInit): Buffer {
  const type = init.type ?? IcmpType.ECHO_REQUEST
  if (type !== 0 && type !== 8) throw new RangeError(`an echo's type is 8 (request) or 0 (reply), got ${String(type)}`)
  const rest = checkUint('identifier', init.identifier, 0xffff) * 0x10000 + checkUint('sequence', init.sequence, 0xffff)
  return buildIcmp({ type, rest, data: init.data })
}
