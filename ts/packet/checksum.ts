/**
 * The Internet checksum (RFC 1071) and the pseudo-headers of UDP, TCP and ICMPv6 over
 * IPv4 (RFC 768/793) and IPv6 (RFC 8200 §8.1).
 * @module
 */
import { type IpAddress, ipBytes } from './address.js'
import { checkBytes, checkUint } from './bytes.js'

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return sum
}

/**
 * The one's complement sum of `data` as 16-bit big-endian words (an odd last byte counts
 * as its high half), added to `initial` and folded to 16 bits; not complemented. Chain it
 * over several pieces by passing the previous result as `initial` (every piece but the
 * last must have an even length).
 *
 * @example
 * ```ts
 * checksumPartial(Buffer.from('0001f203f4f5f6f7', 'hex')) // 0xddf2 (RFC 1071 §3)
 * ```
 */
export function checksumPartial(data: Uint8Array, initial = 0): number {
  checkBytes('data', data)
  let sum = initial
  const n = data.length - 1
  let i = 0
  for (; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (i === n) sum += data[n]! << 8
  return fold(sum)
}

/**
 * The Internet checksum of `data`: the complement of {@link checksumPartial}. Put it in a
 * zeroed checksum field; over data with a correct checksum in place it is 0.
 *
 * @example
 * ```ts
 * const header = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex')
 * internetChecksum(header) // 0xb861
 * ```
 */
export function internetChecksum(data: Uint8Array, initial = 0): number {
  return ~checksumPartial(data, initial) & 0xffff
}

/**
 * The partial sum ({@link checksumPartial}) of the pseudo-header that UDP, TCP (and, over
 * IPv6, ICMPv6) checksums cover: for IPv4 the addresses, a zero, the protocol and the
 * length (RFC 768); for IPv6 the addresses, the 32-bit length, zeros and the next header
 * (RFC 8200 §8.1). Both addresses must be of the same family.
 *
 * @throws TypeError/RangeError for addresses that are not both IPv4 or both IPv6, or an
 *   out-of-range protocol or length.
 * @example
 * ```ts
 * const seed = pseudoHeaderSum('198.18.0.1', '198.18.0.2', 17, udp.length)
 * const sum = internetChecksum(udp, seed) // with udp's checksum field zeroed
 * ```
 */
export function pseudoHeaderSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
  const s = ipBytes(src)
  const d = ipBytes(dst)
  if (s.length !== d.length) throw new TypeError('pseudoHeaderSum: src and dst must both be IPv4 or both IPv6')
  checkUint('protocol', protocol, 255)
  checkUint('length', length, s.length === 4 ? 0xffff : 0xffffffff)
  let sum = checksumPartial(d, checksumPartial(s))
  sum += protocol + (length >>> 16) + (length & 0xffff)
  return fold(sum)
}

/**
 * The checksum of a UDP datagram, TCP segment or ICMPv6 message (`segment`, its checksum
 * field zeroed) sent from `src` to `dst`: the Internet checksum over the pseudo-header and
 * the segment. Over a segment with its checksum in place it is 0 when that is right.
 * (UDP sends a computed 0 as 0xffff; {@link buildUdp} does that.)
 *
 * @example
 * ```ts
 * const ok = transportChecksum(ip.src, ip.dst, ip.protocol, ip.payload) === 0
 * ```
 */
export function transportChecksum(src: IpAddress, dst: IpAddress, protocol: number, segment: Uint8Array): number {
  checkBytes('segment', segment)
  return internetChecksum(segment, pseudoHeaderSum(src, dst, protocol, segment.length))
}
