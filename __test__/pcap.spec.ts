// Tier (a), pure: the pcap writer (ts/capture/pcap.ts) against a file header and records
// written out by hand from the pcap format (tcpdump.org's pcap-savefile(5), nanosecond
// magic a1b23c4d, little-endian as libpcap writes on x86), its backpressure bound and the
// capture() tee over a fake source. The kernel-fed version, read back by tshark, is
// capture.spec.ts.
import { Writable } from 'node:stream'
import test from 'ava'
import { capture, LinkType, PcapWriter } from '../ts/packet/index.ts'
import type { PackedFrames } from '../ts/rx.ts'
import { readPcap } from './pcap-read.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
// The kernel's ARP request of packet.spec.ts (42 bytes).
const ARP = hex('ffffffffffff 0200c6120001 0806 0001 0800 06 04 0001 0200c6120001 c6120001 000000000000 c6120002')
// 2025-12-02T00:00:00.123456789Z
const T = 1764633600123456789n

/** A writable that keeps what it is given; `stalled` holds the callbacks back (backpressure). */
class Collect extends Writable {
  chunks: Buffer[] = []
  held: Array<() => void> = []
  stalled = false
  constructor(highWaterMark = 16384) {
    super({ highWaterMark })
  }
  override _write(chunk: Buffer, _enc: string, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk)
    if (this.stalled) this.held.push(() => cb())
    else cb()
  }
  release(): void {
    this.stalled = false
    for (const cb of this.held.splice(0)) cb()
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks)
  }
}

test('the file header and a record, byte for byte', async (t) => {
  const out = new Collect()
  const w = new PcapWriter(out)
  t.true(w.writeFrame(ARP, T))
  await w.close()
  t.deepEqual(
    out.bytes,
    Buffer.concat([
      // magic, version 2.4, thiszone 0, sigfigs 0, snaplen 262144, LINKTYPE_ETHERNET
      hex('4d3cb2a1 0200 0400 00000000 00000000 00000400 01000000'),
      // ts_sec 0x692e2c00, ts_nsec 123456789 (0x075bcd15), incl_len 42, orig_len 42
      hex('002c2e69 15cd5b07 2a000000 2a000000'),
      ARP,
    ]),
  )
  t.is(w.frames, 1)
  t.is(w.dropped, 0)
  t.is(w.bytesWritten, 24 + 16 + 42)
  t.true(out.writableFinished, 'close() ends the sink')
})

test('a burst: one write, every frame with the burst timestamp; snapLength cuts, orig_len keeps', async (t) => {
  const out = new Collect()
  const w = new PcapWriter(out, { linkType: LinkType.RAW, snapLength: 20 })
  const ip = ARP.subarray(14) // 28 bytes, stands in for an IP packet
  const burst: PackedFrames = { data: Buffer.concat([ip, ip.subarray(0, 10)]), lengths: Uint32Array.of(28, 10), timestamp: T }
  t.is(w.writeBurst(burst), 2)
  await w.close()
  t.is(out.chunks.length, 2, 'the header, then one chunk for the burst')
  const f = readPcap(out.bytes)
  t.is(f.linkType, 101)
  t.is(f.snapLength, 20)
  t.is(f.version, '2.4')
  t.deepEqual(
    f.records.map((r) => [r.timestamp, r.orig, r.data.length]),
    [
      [T, 28, 20],
      [T, 10, 10],
    ],
  )
  t.deepEqual(f.records[0]?.data, ip.subarray(0, 20))
  t.deepEqual(f.records[1]?.data, ip.subarray(0, 10))
  t.deepEqual(out.bytes.subarray(24, 40), hex('002c2e69 15cd5b07 14000000 1c000000'), 'incl 20, orig 28')
})

test('a slow sink never blocks the writer: it holds at most maxBufferedBytes, drops the rest, then catches up', async (t) => {
  const out = new Collect(1024)
  out.stalled = true
  const w = new PcapWriter(out, { maxBufferedBytes: 65536 })
  const frame = Buffer.alloc(1000, 7)
  const burst: PackedFrames = {
    data: Buffer.concat(Array.from({ length: 10 }, () => frame)),
    lengths: new Uint32Array(10).fill(1000),
    timestamp: T,
  }
  let written = 0
  for (let i = 0; i < 1000; i++) written += w.writeBurst(burst) // 10,000 frames, ~10 MB, synchronously
  t.true(w.bufferedBytes <= 65536, `held ${w.bufferedBytes}`)
  t.is(w.frames, written)
  t.is(w.frames + w.dropped, 10_000)
  t.true(w.dropped > 9000, `dropped ${w.dropped}`)
  t.true(w.frames >= 60, `wrote ${w.frames}`)
  let flushed = false
  const flushing = w.flush().then(() => {
    flushed = true
  })
  await new Promise((r) => setImmediate(r))
  t.false(flushed, 'flush waits for the sink')
  out.release()
  await flushing
  t.is(w.bufferedBytes, 0)
  // Once drained, frames go through again.
  t.true(w.writeFrame(frame, T + 1n))
  await w.close()
  const f = readPcap(out.bytes)
  t.is(f.records.length, w.frames, 'every counted frame is in the file, whole')
  t.is(f.records.at(-1)?.timestamp, T + 1n)
})

test('a failing sink: the error is kept, flush rejects, later frames count as dropped', async (t) => {
  const out = new Writable({
    write(_c, _e, cb) {
      cb(new Error('disk full'))
    },
  })
  const w = new PcapWriter(out)
  w.writeFrame(ARP, T)
  await new Promise((r) => setImmediate(r))
  t.is(w.error?.message, 'disk full')
  await t.throwsAsync(w.flush(), { message: 'disk full' })
  t.false(w.writeFrame(ARP, T))
  t.is(w.dropped, 1)
})

test('arguments are checked before anything is written', (t) => {
  const out = new Collect()
  t.throws(() => new PcapWriter({} as unknown as Writable), { instanceOf: TypeError })
  t.throws(() => new PcapWriter(out, { snapLength: 0 }), { instanceOf: RangeError })
  t.throws(() => new PcapWriter(out, { maxBufferedBytes: 10 }), { instanceOf: RangeError })
  t.throws(() => new PcapWriter(out, { linkType: 1.5 }), { instanceOf: TypeError })
  const w = new PcapWriter(out)
  t.throws(() => w.writeFrame(ARP, 5 as unknown as bigint), { instanceOf: TypeError })
  t.throws(() => w.writeFrame(ARP, -1n), { instanceOf: RangeError })
  t.throws(() => w.writeFrame('x' as unknown as Buffer, T), { instanceOf: TypeError })
  t.throws(() => w.writeBurst({ data: ARP, lengths: Uint32Array.of(43), timestamp: T }), { instanceOf: RangeError })
  t.throws(() => capture({} as never, out), { instanceOf: TypeError })
  t.throws(() => capture({ observe: () => () => {} }, out, { count: 0 }), { instanceOf: RangeError })
})

test('capture(): tees every observed burst, stops at count mid-burst, unsubscribes', async (t) => {
  let observer: ((b: PackedFrames) => void) | undefined
  let unsubscribed = 0
  const source = {
    observe(fn: (b: PackedFrames) => void) {
      observer = fn
      return () => {
        unsubscribed++
        observer = undefined
      }
    },
  }
  const out = new Collect()
  const cap = capture(source, out, { count: 3 })
  const two: PackedFrames = { data: Buffer.concat([ARP, ARP.subarray(0, 30)]), lengths: Uint32Array.of(42, 30), timestamp: T }
  observer?.(two)
  observer?.({ ...two, timestamp: T + 5n })
  await cap.done
  t.is(unsubscribed, 1)
  t.is(observer, undefined)
  await cap.stop()
  await cap.writer.close()
  const f = readPcap(out.bytes)
  t.deepEqual(
    f.records.map((r) => [r.timestamp, r.data.length]),
    [
      [T, 42],
      [T, 30],
      [T + 5n, 42],
    ],
  )
  t.is(cap.writer.frames, 3)
})
