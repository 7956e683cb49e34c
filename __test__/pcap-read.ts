// A minimal reader of classic pcap files (nanosecond magic, little-endian), written for
// the tests apart from the writer under test.
export interface PcapRecord {
  /** Nanoseconds since the epoch. */
  timestamp: bigint
  orig: number
  data: Buffer
}

export interface PcapFile {
  magic: number
  version: string
  snapLength: number
  linkType: number
  records: PcapRecord[]
}

export function readPcap(file: Buffer): PcapFile {
  if (file.length < 24) throw new Error(`pcap: ${file.length} bytes, no header`)
  const magic = file.readUInt32LE(0)
  if (magic !== 0xa1b23c4d) throw new Error(`pcap: magic 0x${magic.toString(16)}`)
  const records: PcapRecord[] = []
  let at = 24
  while (at < file.length) {
    if (at + 16 > file.length) throw new Error(`pcap: record header cut at ${at}`)
    const sec = BigInt(file.readUInt32LE(at))
    const nsec = BigInt(file.readUInt32LE(at + 4))
    const incl = file.readUInt32LE(at + 8)
    const orig = file.readUInt32LE(at + 12)
    if (at + 16 + incl > file.length) throw new Error(`pcap: record cut at ${at}`)
    records.push({ timestamp: sec * 1_000_000_000n + nsec, orig, data: file.subarray(at + 16, at + 16 + incl) })
    at += 16 + incl
  }
  return {
    magic,
    version: `${file.readUInt16LE(4)}.${file.readUInt16LE(6)}`,
    snapLength: file.readUInt32LE(16),
    linkType: file.readUInt32LE(20),
    records,
  }
}
