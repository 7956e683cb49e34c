/**
 * Just enough ARP and ICMP to answer a ping from TypeScript (used by `pltap demo`).
 * @internal
 * @module
 */

const ETH_P_ARP = 0x0806
const ETH_P_IP = 0x0800

/** Dotted quad → 4 bytes. */
export function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number))
}

/** `aa:bb:...` → 6 bytes. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

/** The Internet checksum (RFC 1071) of `data`. */
export function inetChecksum(data: Uint8Array): number {
  let sum = 0
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/**
 * If `frame` is an ARP request for `ip`, the ARP reply that says `ip` is at `mac`;
 * otherwise `null`.
 */
export function arpReply(frame: Buffer, ip: string, mac: string): Buffer | null {
  if (frame.length < 42 || frame.readUInt16BE(12) !== ETH_P_ARP) return null
  const arp = frame.subarray(14)
  // Ethernet/IPv4, opcode 1 (request), target protocol address = ip
  if (arp.readUInt16BE(0) !== 1 || arp.readUInt16BE(2) !== ETH_P_IP || arp.readUInt16BE(6) !== 1) return null
  if (!arp.subarray(24, 28).equals(ipBytes(ip))) return null
  const me = macBytes(mac)
  const reply = Buffer.alloc(42)
  frame.copy(reply, 0, 6, 12) // dst = requester
  me.copy(reply, 6)
  reply.writeUInt16BE(ETH_P_ARP, 12)
  const r = reply.subarray(14)
  r.writeUInt16BE(1, 0) // Ethernet
  r.writeUInt16BE(ETH_P_IP, 2)
  r[4] = 6
  r[5] = 4
  r.writeUInt16BE(2, 6) // reply
  me.copy(r, 8)
  ipBytes(ip).copy(r, 14)
  arp.copy(r, 18, 8, 18) // target = sender hardware + protocol address
  return reply
}

/**
 * If `frame` is an ICMP echo request to `ip`, the echo reply from `ip` (MACs and
 * addresses swapped, checksums recomputed); otherwise `null`.
 */
export function icmpEchoReply(frame: Buffer, ip: string): Buffer | null {
  if (frame.length < 14 + 20 + 8 || frame.readUInt16BE(12) !== ETH_P_IP) return null
  const ihl = (frame[14]! & 0x0f) * 4
  if (frame[14]! >> 4 !== 4 || ihl < 20 || frame[14 + 9] !== 1) return null
  if (!frame.subarray(14 + 16, 14 + 20).equals(ipBytes(ip))) return null
  const totalLen = frame.readUInt16BE(14 + 2)
  if (14 + totalLen > frame.length || totalLen < ihl + 8) return null
  const icmpAt = 14 + ihl
  if (frame[icmpAt] !== 8) return null // echo request
  const reply = Buffer.from(frame.subarray(0, 14 + totalLen))
  frame.copy(reply, 0, 6, 12)
  frame.copy(reply, 6, 0, 6)
  frame.copy(reply, 14 + 12, 14 + 16, 14 + 20) // src = old dst
  frame.copy(reply, 14 + 16, 14 + 12, 14 + 16) // dst = old src
  reply[14 + 8] = 64 // TTL
  reply.writeUInt16BE(0, 14 + 10)
  reply.writeUInt16BE(inetChecksum(reply.subarray(14, 14 + ihl)), 14 + 10)
  reply[icmpAt] = 0 // echo reply
  reply.writeUInt16BE(0, icmpAt + 2)
  reply.writeUInt16BE(inetChecksum(reply.subarray(icmpAt, 14 + totalLen)), icmpAt + 2)
  return reply
}
