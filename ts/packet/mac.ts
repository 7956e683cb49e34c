/**
 * Ethernet (EUI-48) MAC addresses: parse, format, validate, classify, and make random
 * locally administered ones.
 * @module
 */
import { randomFillSync } from 'node:crypto'
import { ipBytesOf } from './address.js'
import { checkBytes } from './bytes.js'

/**
 * A MAC address as the builders accept it: text (`'02:00:c6:12:00:01'`) or its 6 bytes.
 *
 * @example
 * ```ts
 * const a: MacAddress = '02:00:c6:12:00:01'
 * const b: MacAddress = Buffer.from('0200c6120001', 'hex')
 * ```
 */
export type MacAddress = string | Uint8Array

/**
 * The broadcast address, `ff:ff:ff:ff:ff:ff`.
 *
 * @example
 * ```ts
 * buildEthernet({ dst: BROADCAST_MAC, src: mac, etherType: EtherType.ARP, payload })
 * ```
 */
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff'

const MAC_RE = /^([0-9a-fA-F]{2})([:-])([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})\2([0-9a-fA-F]{2})$/

/**
 * Whether `text` is a MAC address: six pairs of hex digits separated by `:` or `-` (the
 * same separator throughout), in either case.
 *
 * @example
 * ```ts
 * isValidMac('02:00:C6:12:00:01') // true
 * isValidMac('02-00-c6-12-00-01') // true
 * isValidMac('2:0:c6:12:0:1') // false
 * ```
 */
export function isValidMac(text: unknown): boolean {
  return typeof text === 'string' && MAC_RE.test(text)
}

/**
 * Parses a MAC address (as {@link isValidMac} accepts) into 6 bytes.
 *
 * @throws TypeError if `text` is not a MAC address.
 * @example
 * ```ts
 * parseMac('02:00:c6:12:00:01') // <Buffer 02 00 c6 12 00 01>
 * ```
 */
export function parseMac(text: string): Buffer {
  const m = typeof text === 'string' ? MAC_RE.exec(text) : null
  if (m === null) throw new TypeError(`not a MAC address: ${JSON.stringify(text)}`)
  return Buffer.from([m[1]!, m[3]!, m[4]!, m[5]!, m[6]!, m[7]!].map((h) => parseInt(h, 16)))
}

/**
 * Formats the 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff` (lower case).
 *
 * @throws RangeError if fewer than 6 bytes are there.
 * @example
 * ```ts
 * formatMac(Buffer.from('0200c6120001', 'hex')) // '02:00:c6:12:00:01'
 * ```
 */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  checkBytes('bytes', bytes)
  if (offset < 0 || bytes.length < offset + 6)
    throw new RangeError(`a MAC address needs 6 bytes at offset ${offset}, the buffer has ${bytes.length}`)
  let s = HEX[bytes[offset]!]!
  for (let i = 1; i < 6; i++) s += `:${HEX[bytes[offset + i]!]!}`
  return s
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A MAC as 6 bytes (text parsed, bytes checked). @internal */
export function macBytesOf(name: string, mac: MacAddress): Uint8Array {
  if (typeof mac === 'string') {
    if (!MAC_RE.test(mac)) throw new TypeError(`${name} is not a MAC address: ${JSON.stringify(mac)}`)
    return parseMac(mac)
  }
  checkBytes(name, mac)
  if (mac.length !== 6) throw new RangeError(`${name} must have 6 bytes, got ${mac.length}`)
  return mac
}

function firstOctet(mac: MacAddress): number {
  return macBytesOf('mac', mac)[0]!
}

/**
 * Whether `mac` is a group (multicast) address: the I/G bit, the lowest bit of the first
 * octet, is set. The broadcast address is one too.
 *
 * @throws TypeError/RangeError if `mac` is not a MAC address.
 * @example
 * ```ts
 * isMulticastMac('33:33:00:00:00:01') // true (IPv6 all-nodes)
 * isMulticastMac('02:00:c6:12:00:01') // false
 * ```
 */
export function isMulticastMac(mac: MacAddress): boolean {
  return (firstOctet(mac) & 0x01) !== 0
}

/**
 * Whether `mac` is `ff:ff:ff:ff:ff:ff`.
 *
 * @throws TypeError/RangeError if `mac` is not a MAC address.
 * @example
 * ```ts
 * isBroadcastMac('FF:FF:FF:FF:FF:FF') // true
 * ```
 */
export function isBroadcastMac(mac: MacAddress): boolean {
  const b = macBytesOf('mac', mac)
  return b[0] === 0xff && b[1] === 0xff && b[2] === 0xff && b[3] === 0xff && b[4] === 0xff && b[5] === 0xff
}

/**
 * Whether `mac` is an individual (unicast) address: the I/G bit is clear.
 *
 * @throws TypeError/RangeError if `mac` is not a MAC address.
 * @example
 * ```ts
 * isUnicastMac('02:00:c6:12:00:01') // true
 * ```
 */
export function isUnicastMac(mac: MacAddress): boolean {
  return !isMulticastMac(mac)
}

/**
 * Whether `mac` is locally administered: the U/L bit, the second lowest of the first
 * octet, is set (as in every address {@link randomMac} makes).
 *
 * @throws TypeError/RangeError if `mac` is not a MAC address.
 * @example
 * ```ts
 * isLocalMac('02:00:c6:12:00:01') // true
 * isLocalMac('00:1b:21:00:00:01') // false (a vendor's, universally administered)
 * ```
 */
export function isLocalMac(mac: MacAddress): boolean {
  return (firstOctet(mac) & 0x02) !== 0
}

/**
 * A random locally administered unicast MAC address (U/L bit set, I/G bit clear), from
 * the CSPRNG, as Linux picks one for a new TAP device.
 *
 * @example
 * ```ts
 * const mac = randomMac() // e.g. '5a:3e:91:0c:d2:7f'
 * isLocalMac(mac) && isUnicastMac(mac) // true
 * ```
 */
export function randomMac(): string {
  const b = randomFillSync(Buffer.alloc(6))
  b[0] = (b[0]! & 0xfe) | 0x02
  return formatMac(b)
}

/**
 * The multicast MAC address an IPv6 multicast address maps to (RFC 2464 §7:
 * `33:33` and its last 32 bits).
 *
 * @throws TypeError/RangeError if `ipv6` is not an IPv6 address.
 * @example
 * ```ts
 * ipv6MulticastMac('ff02::1:ff12:1') // '33:33:ff:12:00:01'
 * ```
 */
export function ipv6MulticastMac(ipv6: string | Uint8Array): string {
  const b = ipBytesOf('ipv6', ipv6, 16)
  return formatMac(Buffer.from([0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!]))
}

/**
 * The multicast MAC address an IPv4 multicast address maps to (RFC 1112 §6.4: `01:00:5e`
 * and its low 23 bits).
 *
 * @throws TypeError/RangeError if `ipv4` is not an IPv4 address.
 * @example
 * ```ts
 * ipv4MulticastMac('224.0.0.251') // '01:00:5e:00:00:fb'
 * ```
 */
export function ipv4MulticastMac(ipv4: string | Uint8Array): string {
  const b = ipBytesOf('ipv4', ipv4, 4)
  return formatMac(Buffer.from([0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!]))
}
