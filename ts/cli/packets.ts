/**
 * Just enough Ethernet, ARP and ICMP to answer a ping from TypeScript: used by `pltap demo`,
 * and by the test suite to build and read frames. `__test__/packets.spec.ts` pins every
 * function to golden bytes written out by hand.
 * @internal
 * @module
 */

const ETH_P_ARP = 0x0806
const ETH_P_IP = 0x0800
/** An Ethernet header and an ARP packet for Ethernet/IPv4, without padding. */
const ARP_FRAME_LEN = 14 + 28

/** Dotted quad → 4 bytes. */
export function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number))
}

/** `aa:bb:...` → 6 bytes. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)))
}

/** 6 bytes → `aa:bb:...` (lower case). */
export function macString(bytes: Uint8Array): string {
  return [...bytes].map((x) => x.toString(16).padStart(2, '0')).join(':')
}

/** The Internet checksum (RFC 1071) of `data`. */
export function inetChecksum(data: Uint8Array): number {
  let sum = 0
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** An Ethernet frame (to `ethDst`, from `senderMac`) holding an Ethernet/IPv4 ARP packet: 42 bytes, no padding. */
export function arpFrame(op: 1 | 2, ethDst: string, senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const f = Buffer.alloc(ARP_FRAME_LEN)
  macBytes(ethDst).copy(f, 0)
  macBytes(senderMac).copy(f, 6)
  f.writeUInt16BE(ETH_P_ARP, 12)
  f.writeUInt16BE(1, 14) // htype Ethernet
  f.writeUInt16BE(ETH_P_IP, 16) // ptype IPv4
  f[18] = 6
  f[19] = 4
  f.writeUInt16BE(op, 20)
  macBytes(senderMac).copy(f, 22)
  ipBytes(senderIp).copy(f, 28)
  macBytes(targetMac).copy(f, 32)
  ipBytes(targetIp).copy(f, 38)
  return f
}

/** The fields of an Ethernet/IPv4 ARP packet. */
export interface Arp {
  /** 1 for a request, 2 for a reply. */
  op: number
  senderMac: string
  senderIp: string
  targetMac: string
  targetIp: string
}

/** The ARP packet in `frame`, if it holds one for Ethernet/IPv4; otherwise `null`. */
export function parseArp(frame: Buffer): Arp | null {
  if (frame.length < ARP_FRAME_LEN || frame.readUInt16BE(12) !== ETH_P_ARP) return null
  if (frame.readUInt16BE(14) !== 1 || frame.readUInt16BE(16) !== ETH_P_IP || frame[18] !== 6 || frame[19] !== 4) return null
  return {
    op: frame.readUInt16BE(20),
    senderMac: macString(frame.subarray(22, 28)),
    senderIp: [...frame.subarray(28, 32)].join('.'),
    targetMac: macString(frame.subarray(32, 38)),
    targetIp: [...frame.subarray(38, 42)].join('.'),
  }
}

/**
 * If `frame` is an ARP request for `ip`, the ARP reply that says `ip` is at `mac`;
 * otherwise `null`.
 */
export function arpReply(frame: Buffer, ip: string, mac: string): Buffer | null {
  const req = parseArp(frame)
  if (req === null || req.op !== 1 || req.targetIp !== ip) return null
  return arpFrame(2, macString(frame.subarray(6, 12)), mac, ip, req.senderMac, req.senderIp)
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
