/**
 * ICMPv6 (RFC 4443): echo, and neighbor discovery (RFC 4861) solicitations and
 * advertisements with their options.
 * @module
 */
import { formatIpv6, type IpAddress, ipBytesOf } from './address.js'
import { alloc, checkBytes, checkUint, need, payloadOf, put16, put32, u16, u32 } from './bytes.js'
import { transportChecksum } from './checksum.js'
import { IpProtocol } from './ipv4.js'
import { formatMac, type MacAddress, macBytesOf } from './mac.js'

/**
 * Common ICMPv6 types.
 *
 * @example
 * ```ts
 * if (icmp6.type === Icmpv6Type.NEIGHBOR_SOLICITATION) answer(icmp6.targetAddress)
 * ```
 */
export const Icmpv6Type = {
  /** Destination unreachable. */
  DEST_UNREACHABLE: 1,
  /** Packet too big. */
  PACKET_TOO_BIG: 2,
  /** Time exceeded. */
  TIME_EXCEEDED: 3,
  /** Echo request (ping). */
  ECHO_REQUEST: 128,
  /** Echo reply. */
  ECHO_REPLY: 129,
  /** Router solicitation. */
  ROUTER_SOLICITATION: 133,
  /** Router advertisement. */
  ROUTER_ADVERTISEMENT: 134,
  /** Neighbor solicitation ("who has this address?"). */
  NEIGHBOR_SOLICITATION: 135,
  /** Neighbor advertisement ("it is at this link-layer address"). */
  NEIGHBOR_ADVERTISEMENT: 136,
  /** Redirect. */
  REDIRECT: 137,
} as const

/**
 * Neighbor discovery option types (RFC 4861 §4.6).
 *
 * @example
 * ```ts
 * const sll = icmp6.options.find((o) => o.type === NdOptionType.SOURCE_LINK_LAYER_ADDRESS)
 * ```
 */
export const NdOptionType = {
  /** The sender's link-layer address. */
  SOURCE_LINK_LAYER_ADDRESS: 1,
  /** The target's link-layer address. */
  TARGET_LINK_LAYER_ADDRESS: 2,
  /** A prefix (router advertisements). */
  PREFIX_INFORMATION: 3,
  /** Redirected header. */
  REDIRECTED_HEADER: 4,
  /** MTU. */
  MTU: 5,
} as const

/**
 * One neighbor discovery option as read from a message.
 *
 * @example
 * ```ts
 * for (const o of icmp6.options) console.log(`option ${o.type}, ${o.data.length} bytes`)
 * ```
 */
export interface NdOption {
  /** The option type ({@link NdOptionType}). */
  type: number
  /** The option's bytes after its type and length bytes (a view). */
  data: Uint8Array
}

/**
 * A neighbor discovery option to build: for a link-layer address option, `data` is the
 * 6-byte MAC (the length field and padding are added).
 *
 * @example
 * ```ts
 * const o: NdOptionInit = { type: NdOptionType.SOURCE_LINK_LAYER_ADDRESS, data: parseMac('02:00:c6:12:00:01') }
 * ```
 */
export interface NdOptionInit {
  /** The option type ({@link NdOptionType}). */
  type: number
  /** The option's content after its type and length bytes; zero-padded to a multiple of 8 bytes in all. */
  data: Uint8Array
}

/** Where the options start, per message type (the types that carry them). */
const OPTIONS_AT: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 }

/**
 * A zero-copy view of an ICMPv6 message (the payload of an IPv6 packet with next header
 * 58; pass {@link Ipv6View.payload}). The constructor checks the fixed part of echo and
 * neighbor discovery messages and that their options are well formed (each a non-zero
 * number of 8-byte units, inside the message).
 *
 * @example
 * ```ts
 * const icmp6 = new Icmpv6View(ip6.payload)
 * if (icmp6.type === Icmpv6Type.NEIGHBOR_SOLICITATION) {
 *   console.log(`who has ${icmp6.targetAddress}? tell ${icmp6.sourceLinkLayerAddress}`)
 * }
 * ```
 */
export class Icmpv6View {
  /** The message's bytes. */
  readonly bytes: Uint8Array
  readonly #optionsAt: number

  /** @throws RangeError if the message is short for its type, or an option is malformed. */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('ICMPv6 header', bytes, 4)
    const type = bytes[0]!
    if (type === 128 || type === 129) need('ICMPv6 echo', bytes, 8)
    const at = OPTIONS_AT[type] ?? -1
    if (at > 0) {
      need(`ICMPv6 type ${type}`, bytes, at)
      for (let o = at; o < bytes.length; ) {
        need('neighbor discovery option header', bytes, o + 2)
        const len = bytes[o + 1]! * 8
        if (len === 0) throw new RangeError(`neighbor discovery option at offset ${o} has length 0`)
        need('neighbor discovery option', bytes, o + len)
        o += len
      }
    }
    this.bytes = bytes
    this.#optionsAt = at
  }

  /** The type ({@link Icmpv6Type}). */
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

  /**
   * Whether the checksum (pseudo-header included) is right for a message from `src` to `dst`.
   *
   * @example
   * ```ts
   * icmp6.checksumValid(ip6.src, ip6.dst)
   * ```
   */
  checksumValid(src: IpAddress, dst: IpAddress): boolean {
    return transportChecksum(ipBytesOf('src', src, 16), ipBytesOf('dst', dst, 16), IpProtocol.ICMPv6, this.bytes) === 0
  }

  /** Everything after type, code and checksum (a view). */
  get body(): Uint8Array {
    return this.bytes.subarray(4)
  }

  /** Echo identifier (bytes 4-5; meaningful for echo messages). */
  get identifier(): number {
    return u16(this.bytes, 4)
  }

  /** Echo sequence number (bytes 6-7). */
  get sequence(): number {
    return u16(this.bytes, 6)
  }

  /** Echo data: what follows the 8-byte echo header (a view). */
  get data(): Uint8Array {
    return this.bytes.subarray(8)
  }

  /** Neighbor advertisement flags word (R 0x80000000, S 0x40000000, O 0x20000000); 0 for other types. */
  get flags(): number {
    return this.type === 136 ? u32(this.bytes, 4) : 0
  }

  /** Neighbor advertisement: sent by a router. */
  get router(): boolean {
    return (this.flags & 0x80000000) !== 0
  }

  /** Neighbor advertisement: in answer to a solicitation. */
  get solicited(): boolean {
    return (this.flags & 0x40000000) !== 0
  }

  /** Neighbor advertisement: should override a cached entry. */
  get override(): boolean {
    return (this.flags & 0x20000000) !== 0
  }

  /** The target address of a neighbor solicitation or advertisement (or a redirect); `null` for other types. */
  get targetAddress(): string | null {
    const t = this.type
    return t === 135 || t === 136 || t === 137 ? formatIpv6(this.bytes, 8) : null
  }

  /** The neighbor discovery options (empty for types without them). */
  get options(): NdOption[] {
    const out: NdOption[] = []
    if (this.#optionsAt < 0) return out
    for (let o = this.#optionsAt; o < this.bytes.length; ) {
      const len = this.bytes[o + 1]! * 8
      out.push({ type: this.bytes[o]!, data: this.bytes.subarray(o + 2, o + len) })
      o += len
    }
    return out
  }

  /** The source link-layer address option's MAC, or `null`. */
  get sourceLinkLayerAddress(): string | null {
    return this.#linkLayer(NdOptionType.SOURCE_LINK_LAYER_ADDRESS)
  }

  /** The target link-layer address option's MAC, or `null`. */
  get targetLinkLayerAddress(): string | null {
    return this.#linkLayer(NdOptionType.TARGET_LINK_LAYER_ADDRESS)
  }

  #linkLayer(type: number): string | null {
    const o = this.options.find((x) => x.type === type && x.data.length >= 6)
    return o ? formatMac(o.data, 0) : null
  }
}

/**
 * What {@link buildIcmpv6} builds.
 *
 * @example
 * ```ts
 * const init: Icmpv6Init = { src: 'fe80::1', dst: 'fe80::2', type: Icmpv6Type.ECHO_REQUEST, body: Buffer.from('00010001', 'hex') }
 * ```
 */
export interface Icmpv6Init {
  /** Source IPv6 address (for the checksum). */
  src: IpAddress
  /** Destination IPv6 address (for the checksum). */
  dst: IpAddress
  /** The type ({@link Icmpv6Type}). */
  type: number
  /** The code (default 0). */
  code?: number
  /** Everything after the checksum (default: none). */
  body?: Uint8Array
}

/**
 * Builds an ICMPv6 message with its checksum (wrap it with {@link buildIpv6}, next header 58).
 *
 * @throws TypeError/RangeError for a bad field or address.
 * @example
 * ```ts
 * const msg = buildIcmpv6({ src: 'fe80::1', dst: 'fe80::2', type: Icmpv6Type.DEST_UNREACHABLE, code: 4, body: quoted })
 * ```
 */
export function buildIcmpv6(init: Icmpv6Init): Buffer {
  const src = ipBytesOf('src', init.src, 16)
  const dst = ipBytesOf('dst', init.dst, 16)
  const body = payloadOf('body', init.body)
  const m = alloc(4 + body.length)
  m[0] = checkUint('type', init.type, 255)
  m[1] = checkUint('code', init.code ?? 0, 255)
  m.set(body, 4)
  put16(m, 2, transportChecksum(src, dst, IpProtocol.ICMPv6, m))
  return m
}

/**
 * What {@link buildIcmpv6Echo} builds.
 *
 * @example
 * ```ts
 * const init: Icmpv6EchoInit = { src: 'fe80::1', dst: 'fe80::2', identifier: 1, sequence: 1 }
 * ```
 */
export interface Icmpv6EchoInit {
  /** Source IPv6 address. */
  src: IpAddress
  /** Destination IPv6 address. */
  dst: IpAddress
  /** {@link Icmpv6Type}.ECHO_REQUEST (default) or ECHO_REPLY. */
  type?: 128 | 129
  /** Identifier. */
  identifier: number
  /** Sequence number. */
  sequence: number
  /** Echo data (default: none). */
  data?: Uint8Array
}

/**
 * Builds an ICMPv6 echo request or reply with its checksum.
 *
 * @throws TypeError/RangeError for a bad field.
 * @example
 * ```ts
 * const ping = buildIcmpv6Echo({ src: '2001:db8::1', dst: '2001:db8::2', identifier: 7, sequence: 1, data: Buffer.from('hi') })
 * ```
 */
export function buildIcmpv6Echo(init: Icmpv6EchoInit): Buffer {
  const type = init.type ?? Icmpv6Type.ECHO_REQUEST
  if (type !== 128 && type !== 129) throw new RangeError(`an ICMPv6 echo's type is 128 or 129, got ${String(type)}`)
  const data = payloadOf('data', init.data)
  const body = alloc(4 + data.length)
  put16(body, 0, checkUint('identifier', init.identifier, 0xffff))
  put16(body, 2, checkUint('sequence', init.sequence, 0xffff))
  body.set(data, 4)
  return buildIcmpv6({ src: init.src, dst: init.dst, type, body })
}

function encodeOptions(options: NdOptionInit[]): Buffer {
  const parts = options.map((o, i) => {
    checkBytes(`options[${i}].data`, o.data)
    const len = Math.ceil((2 + o.data.length) / 8) * 8
    if (len / 8 > 255) throw new RangeError(`options[${i}] is too long (${o.data.length} bytes)`)
    const b = alloc(len)
    b[0] = checkUint(`options[${i}].type`, o.type, 255)
    b[1] = len / 8
    b.set(o.data, 2)
    return b
  })
  return Buffer.concat(parts)
}

/**
 * The solicited-node multicast address of an IPv6 address (RFC 4291 §2.7.1:
 * `ff02::1:ff` and its last 24 bits), where neighbor solicitations for it go.
 *
 * @throws TypeError/RangeError if `address` is not an IPv6 address.
 * @example
 * ```ts
 * solicitedNodeAddress('2001:db8::c612:1') // 'ff02::1:ff12:1'
 * ```
 */
export function solicitedNodeAddress(address: IpAddress): string {
  const a = ipBytesOf('address', address, 16)
  const b = Buffer.from('ff0200000000000000000001ff000000', 'hex')
  b[13] = a[13]!
  b[14] = a[14]!
  b[15] = a[15]!
  return formatIpv6(b)
}

/**
 * What {@link buildNeighborSolicitation} builds.
 *
 * @example
 * ```ts
 * const init: NeighborSolicitationInit = { src: 'fe80::1', target: 'fe80::2', sourceLinkLayerAddress: '02:00:c6:12:00:01' }
 * ```
 */
export interface NeighborSolicitationInit {
  /** Source IPv6 address (`::` for duplicate address detection, which then carries no link-layer option). */
  src: IpAddress
  /** Destination (default: the target's solicited-node multicast address). */
  dst?: IpAddress
  /** The address asked about. */
  target: IpAddress
  /** The sender's MAC, as a source link-layer address option. */
  sourceLinkLayerAddress?: MacAddress
  /** Further options, after the link-layer one. */
  options?: NdOptionInit[]
}

/**
 * Builds a neighbor solicitation (type 135) with its checksum. Send it in an IPv6 packet
 * with hop limit 255 to {@link solicitedNodeAddress}`(target)`, from Ethernet address to
 * {@link ipv6MulticastMac} of that.
 *
 * @throws TypeError/RangeError for a bad address or option.
 * @example
 * ```ts
 * const ns = buildNeighborSolicitation({ src: 'fe80::1', target: 'fe80::2', sourceLinkLayerAddress: mac })
 * const packet = buildIpv6({ src: 'fe80::1', dst: solicitedNodeAddress('fe80::2'), nextHeader: IpProtocol.ICMPv6, hopLimit: 255, payload: ns })
 * ```
 */
export function buildNeighborSolicitation(init: NeighborSolicitationInit): Buffer {
  const opts: NdOptionInit[] = []
  if (init.sourceLinkLayerAddress !== undefined) {
    opts.push({ type: NdOptionType.SOURCE_LINK_LAYER_ADDRESS, data: macBytesOf('sourceLinkLayerAddress', init.sourceLinkLayerAddress) })
  }
  opts.push(...(init.options ?? []))
  const o = encodeOptions(opts)
  const body = alloc(20 + o.length)
  body.set(ipBytesOf('target', init.target, 16), 4)
  body.set(o, 20)
  return buildIcmpv6({ src: init.src, dst: init.dst ?? solicitedNodeAddress(init.target), type: Icmpv6Type.NEIGHBOR_SOLICITATION, body })
}

/**
 * What {@link buildNeighborAdvertisement} builds.
 *
 * @example
 * ```ts
 * const init: NeighborAdvertisementInit = { src: 'fe80::2', dst: 'fe80::1', target: 'fe80::2', solicited: true, override: true, targetLinkLayerAddress: mac }
 * ```
 */
export interface NeighborAdvertisementInit {
  /** Source IPv6 address. */
  src: IpAddress
  /** Destination IPv6 address (the solicitor, or `ff02::1`). */
  dst: IpAddress
  /** The address advertised. */
  target: IpAddress
  /** Sent by a router (R). */
  router?: boolean
  /** In answer to a solicitation (S). */
  solicited?: boolean
  /** Override a cached entry (O). */
  override?: boolean
  /** The target's MAC, as a target link-layer address option. */
  targetLinkLayerAddress?: MacAddress
  /** Further options, after the link-layer one. */
  options?: NdOptionInit[]
}

/**
 * Builds a neighbor advertisement (type 136) with its checksum. Send it in an IPv6
 * packet with hop limit 255.
 *
 * @throws TypeError/RangeError for a bad address or option.
 * @example
 * ```ts
 * const ns = new Icmpv6View(ip6.payload)
 * const na = buildNeighborAdvertisement({
 *   src: myIp, dst: ip6.src, target: myIp, solicited: true, override: true, targetLinkLayerAddress: myMac,
 * })
 * ```
 */
export function buildNeighborAdvertisement(init: NeighborAdvertisementInit): Buffer {
  const opts: NdOptionInit[] = []
  if (init.targetLinkLayerAddress !== undefined) {
    opts.push({ type: NdOptionType.TARGET_LINK_LAYER_ADDRESS, data: macBytesOf('targetLinkLayerAddress', init.targetLinkLayerAddress) })
  }
  opts.push(...(init.options ?? []))
  const o = encodeOptions(opts)
  const body = alloc(20 + o.length)
  put32(body, 0, (init.router ? 0x80000000 : 0) + (init.solicited ? 0x40000000 : 0) + (init.override ? 0x20000000 : 0))
  body.set(ipBytesOf('target', init.target, 16), 4)
  body.set(o, 20)
  return buildIcmpv6({ src: init.src, dst: init.dst, type: Icmpv6Type.NEIGHBOR_ADVERTISEMENT, body })
}
