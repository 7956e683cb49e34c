/**
 * IPv4 and IPv6 addresses as strings and bytes.
 * @module
 */
import { checkBytes } from './bytes.js'

/**
 * An IP address as the builders accept it: text (`'198.18.0.1'`, `'2001:db8::1'`) or its
 * 4 or 16 bytes in network order.
 *
 * @example
 * ```ts
 * const a: IpAddress = '198.18.0.1'
 * const b: IpAddress = Buffer.from([198, 18, 0, 1])
 * ```
 */
export type IpAddress = string | Uint8Array

/**
 * Parses a dotted-quad IPv4 address into 4 bytes.
 *
 * @throws TypeError if `text` is not a dotted quad of decimal octets (0 to 255, no leading zeros).
 * @example
 * ```ts
 * parseIpv4('198.18.0.1') // <Buffer c6 12 00 01>
 * ```
 */
export function parseIpv4(text: string): Buffer {
  const out = Buffer.alloc(4)
  if (!parseIpv4Into(text, out, 0)) throw new TypeError(`not an IPv4 address: ${JSON.stringify(text)}`)
  return out
}

function parseIpv4Into(text: unknown, out: Uint8Array, at: number): boolean {
  if (typeof text !== 'string') return false
  const parts = text.split('.')
  if (parts.length !== 4) return false
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return false
    const n = Number(p)
    if (n > 255) return false
    out[at + i] = n
  }
  return true
}

/**
 * Parses an IPv6 address (RFC 4291 text: `::` compression and a trailing dotted quad allowed,
 * no zone index) into 16 bytes.
 *
 * @throws TypeError if `text` is not an IPv6 address.
 * @example
 * ```ts
 * parseIpv6('2001:db8::1') // 16 bytes: 20 01 0d b8 00 .. 00 01
 * ```
 */
export function parseIpv6(text: string): Buffer {
  const out = Buffer.alloc(16)
  if (!parseIpv6Into(text, out)) throw new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`)
  return out
}

function parseGroups(s: string, out: number[]): boolean {
  if (s === '') return true
  for (const g of s.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false
    out.push(parseInt(g, 16))
  }
  return true
}

function parseIpv6Into(text: unknown, out: Uint8Array): boolean {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return false
  let s = text
  const lastColon = s.lastIndexOf(':')
  if (s.indexOf('.', lastColon) >= 0) {
    // A trailing dotted quad stands for the last two groups.
    const quad = new Uint8Array(4)
    if (lastColon < 0 || !parseIpv4Into(s.slice(lastColon + 1), quad, 0)) return false
    s = `${s.slice(0, lastColon + 1)}${((quad[0]! << 8) | quad[1]!).toString(16)}:${((quad[2]! << 8) | quad[3]!).toString(16)}`
  }
  const double = s.indexOf('::')
  const head: number[] = []
  const rest: number[] = []
  if (double >= 0) {
    if (s.indexOf('::', double + 1) >= 0) return false
    if (!parseGroups(s.slice(0, double), head) || !parseGroups(s.slice(double + 2), rest)) return false
  } else if (!parseGroups(s, head)) return false
  const missing = 8 - head.length - rest.length
  if (double >= 0 ? missing < 1 : missing !== 0) return false
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest]
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >>> 8
    out[2 * i + 1] = groups[i]! & 0xff
  }
  return true
}

/**
 * Formats 4 bytes (at `offset`) as a dotted quad.
 *
 * @throws RangeError if fewer than 4 bytes are there.
 * @example
 * ```ts
 * formatIpv4(Buffer.from([198, 18, 0, 1])) // '198.18.0.1'
 * ```
 */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  checkBytes('bytes', bytes)
  if (offset < 0 || bytes.length < offset + 4)
    throw new RangeError(`an IPv4 address needs 4 bytes at offset ${offset}, the buffer has ${bytes.length}`)
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`
}

/**
 * Formats 16 bytes (at `offset`) as an IPv6 address in RFC 5952's canonical form: lower
 * case, the longest run of two or more zero groups as `::`, IPv4-mapped addresses as
 * `::ffff:a.b.c.d`.
 *
 * @throws RangeError if fewer than 16 bytes are there.
 * @example
 * ```ts
 * formatIpv6(parseIpv6('2001:0DB8:0:0:0:0:0:1')) // '2001:db8::1'
 * ```
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  checkBytes('bytes', bytes)
  if (offset < 0 || bytes.length < offset + 16)
    throw new RangeError(`an IPv6 address needs 16 bytes at offset ${offset}, the buffer has ${bytes.length}`)
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!)
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`
  }
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestAt = i
      bestLen = j - i
    }
    i = j
  }
  const hex = g.map((x) => x.toString(16))
  if (bestAt < 0) return hex.join(':')
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`
}

/**
 * An address as bytes: 4 for IPv4, 16 for IPv6 (text is parsed; bytes are checked and
 * returned as they are).
 *
 * @throws TypeError for text that is neither; RangeError for bytes that are not 4 or 16 long.
 * @example
 * ```ts
 * ipBytes('198.18.0.1').length // 4
 * ipBytes('2001:db8::1').length // 16
 * ```
 */
export function ipBytes(address: IpAddress): Uint8Array {
  if (typeof address === 'string') return address.includes(':') ? parseIpv6(address) : parseIpv4(address)
  checkBytes('address', address)
  if (address.length !== 4 && address.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, got ${address.length}`)
  return address
}

/** An address that must have `len` bytes (4 or 16). @internal */
export function ipBytesOf(name: string, address: IpAddress, len: 4 | 16): Uint8Array {
  if (typeof address === 'string') {
    const out = new Uint8Array(len)
    if (!(len === 4 ? parseIpv4Into(address, out, 0) : parseIpv6Into(address, out))) {
      throw new TypeError(`${name} is not an IPv${len === 4 ? 4 : 6} address: ${JSON.stringify(address)}`)
    }
    return out
  }
  checkBytes(name, address)
  if (address.length !== len) throw new RangeError(`${name} must have ${len} bytes, got ${address.length}`)
  return address
}

/**
 * Whether `text` is an IPv4 (dotted quad) or IPv6 address: `4`, `6` or `0` (neither), as
 * `node:net`'s `isIP`.
 *
 * @example
 * ```ts
 * ipVersion('198.18.0.1') // 4
 * ipVersion('fe80::1') // 6
 * ipVersion('nope') // 0
 * ```
 */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (parseIpv4Into(text, new Uint8Array(4), 0)) return 4
  if (parseIpv6Into(text, new Uint8Array(16))) return 6
  return 0
}
