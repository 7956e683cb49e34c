/**
 * Ethernet II frames, with 802.1Q (and stacked 802.1ad) VLAN tags.
 * @module
 */
import { alloc, checkBytes, checkUint, need, payloadOf, put16, u16 } from './bytes.js'
import { formatMac, type MacAddress, macBytesOf } from './mac.js'

/**
 * Common EtherTypes.
 *
 * @example
 * ```ts
 * if (new EthernetView(frame).etherType === EtherType.ARP) handleArp(frame)
 * ```
 */
export const EtherType = {
  /** Internet Protocol version 4. */
  IPv4: 0x0800,
  /** Address Resolution Protocol. */
  ARP: 0x0806,
  /** An IEEE 802.1Q VLAN tag (the TPID). */
  VLAN: 0x8100,
  /** An IEEE 802.1ad service tag (QinQ outer TPID). */
  QinQ: 0x88a8,
  /** Internet Protocol version 6. */
  IPv6: 0x86dd,
} as const

/** The length of an untagged Ethernet header: destination, source, EtherType. */
export const ETHERNET_HEADER_LENGTH = 14

/**
 * A VLAN tag as read from a frame.
 *
 * @example
 * ```ts
 * const tag: VlanTag | null = new EthernetView(frame).vlan
 * if (tag) console.log(`VLAN ${tag.id}, priority ${tag.pcp}`)
 * ```
 */
export interface VlanTag {
  /** The tag protocol identifier: 0x8100 (802.1Q) or 0x88a8 (802.1ad). */
  tpid: number
  /** Priority code point, 0 to 7. */
  pcp: number
  /** Drop eligible indicator. */
  dei: boolean
  /** VLAN identifier, 0 to 4095. */
  id: number
}

/**
 * A VLAN tag to build: a bare number is a VLAN id with TPID 0x8100, priority 0.
 *
 * @example
 * ```ts
 * const a: VlanTagInit = 10
 * const b: VlanTagInit = { id: 10, pcp: 5 }
 * ```
 */
export type VlanTagInit = number | VlanTagFields

/**
 * The fields of a VLAN tag to build ({@link VlanTagInit}).
 *
 * @example
 * ```ts
 * const tag: VlanTagFields = { id: 100, tpid: EtherType.QinQ }
 * ```
 */
export interface VlanTagFields {
  /** VLAN identifier, 0 to 4095. */
  id: number
  /** Priority code point, 0 to 7 (default 0). */
  pcp?: number
  /** Drop eligible indicator (default false). */
  dei?: boolean
  /** Tag protocol identifier (default 0x8100, 802.1Q; 0x88a8 for an 802.1ad outer tag). */
  tpid?: number
}

function isTpid(t: number): boolean {
  return t === 0x8100 || t === 0x88a8
}

/**
 * A zero-copy view of an Ethernet II frame (without FCS, as a TAP device delivers it).
 * The constructor checks that the header, and any VLAN tags, fit; the getters then read
 * the bytes in place.
 *
 * @example
 * ```ts
 * const eth = new EthernetView(frame)
 * console.log(`${eth.src} > ${eth.dst} type 0x${eth.etherType.toString(16)} vlan ${eth.vlan?.id ?? '-'}`)
 * if (eth.etherType === EtherType.IPv4) console.log(new Ipv4View(eth.payload).dst)
 * ```
 */
export class EthernetView {
  /** The frame, from the destination address on. */
  readonly bytes: Uint8Array
  /** Header bytes: 14, plus 4 per VLAN tag. */
  readonly headerLength: number

  /**
   * @throws TypeError if `bytes` is not a Uint8Array; RangeError if the header (and its tags) does not fit.
   */
  constructor(bytes: Uint8Array) {
    checkBytes('bytes', bytes)
    need('Ethernet header', bytes, ETHERNET_HEADER_LENGTH)
    let at = 12
    while (isTpid(u16(bytes, at))) {
      need('Ethernet header with VLAN tag', bytes, at + 6)
      at += 4
    }
    this.bytes = bytes
    this.headerLength = at + 2
  }

  /** The destination address, `aa:bb:cc:dd:ee:ff`. */
  get dst(): string {
    return formatMac(this.bytes, 0)
  }

  /** The source address. */
  get src(): string {
    return formatMac(this.bytes, 6)
  }

  /** The destination address's 6 bytes (a view, not a copy). */
  get dstBytes(): Uint8Array {
    return this.bytes.subarray(0, 6)
  }

  /** The source address's 6 bytes (a view). */
  get srcBytes(): Uint8Array {
    return this.bytes.subarray(6, 12)
  }

  /** The EtherType of the payload, after any VLAN tags. */
  get etherType(): number {
    return u16(this.bytes, this.headerLength - 2)
  }

  /** The outermost VLAN tag, or `null` for an untagged frame. */
  get vlan(): VlanTag | null {
    return this.headerLength > ETHERNET_HEADER_LENGTH ? this.#tag(12) : null
  }

  /** Every VLAN tag, outermost first (empty for an untagged frame). */
  get vlans(): VlanTag[] {
    const out: VlanTag[] = []
    for (let at = 12; at < this.headerLength - 2; at += 4) out.push(this.#tag(at))
    return out
  }

  #tag(at: number): VlanTag {
    const tci = u16(this.bytes, at + 2)
    return { tpid: u16(this.bytes, at), pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, id: tci & 0x0fff }
  }

  /** What follows the header (a view; padding included, as the frame has it). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength)
  }
}

/**
 * What {@link buildEthernet} builds.
 *
 * @example
 * ```ts
 * const init: EthernetInit = { dst: BROADCAST_MAC, src: '02:00:c6:12:00:01', etherType: EtherType.ARP, payload: arp }
 * ```
 */
export interface EthernetInit {
  /** Destination address. */
  dst: MacAddress
  /** Source address. */
  src: MacAddress
  /** EtherType of the payload (e.g. {@link EtherType}.IPv4). */
  etherType: number
  /** VLAN tag(s) to insert, outermost first. */
  vlan?: VlanTagInit | VlanTagInit[]
  /** The payload (default: none). */
  payload?: Uint8Array
  /** Pad with zeros up to this many bytes (60 is Ethernet's minimum without FCS; default: no padding). */
  minLength?: number
}

/**
 * Builds an Ethernet II frame (no FCS) into a new Buffer.
 *
 * @throws TypeError/RangeError for a bad address, EtherType or tag.
 * @example
 * ```ts
 * const frame = buildEthernet({
 *   dst: 'ff:ff:ff:ff:ff:ff',
 *   src: '02:00:c6:12:00:01',
 *   etherType: EtherType.ARP,
 *   vlan: 10,
 *   payload: buildArp({ op: ArpOp.REQUEST, senderMac: '02:00:c6:12:00:01', senderIp: '198.18.0.1', targetIp: '198.18.0.2' }),
 * })
 * ```
 */
export function buildEthernet(init: EthernetInit): Buffer {
  const dst = macBytesOf('dst', init.dst)
  const src = macBytesOf('src', init.src)
  checkUint('etherType', init.etherType, 0xffff)
  const tags = init.vlan === undefined ? [] : Array.isArray(init.vlan) ? init.vlan : [init.vlan]
  const payload = payloadOf('payload', init.payload)
  const header = ETHERNET_HEADER_LENGTH + 4 * tags.length
  const minLength = init.minLength === undefined ? 0 : checkUint('minLength', init.minLength, 65535)
  const f = alloc(Math.max(header + payload.length, minLength))
  f.set(dst, 0)
  f.set(src, 6)
  let at = 12
  for (const t of tags) {
    const tag = typeof t === 'number' ? { id: t } : t
    const tpid = tag.tpid === undefined ? EtherType.VLAN : checkUint('vlan.tpid', tag.tpid, 0xffff)
    const tci = (checkUint('vlan.pcp', tag.pcp ?? 0, 7) << 13) | (tag.dei ? 0x1000 : 0) | checkUint('vlan.id', tag.id, 4095)
    put16(f, at, tpid)
    put16(f, at + 2, tci)
    at += 4
  }
  put16(f, at, init.etherType)
  f.set(payload, header)
  return f
}
