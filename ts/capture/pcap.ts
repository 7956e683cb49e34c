/**
 * Capture to pcap: a classic pcap writer with nanosecond timestamps, and {@link capture},
 * which tees an {@link Rx}'s bursts into one without taking frames from its readers.
 * @module
 */
import type { PackedFrames, Rx } from '../rx.js'

/**
 * pcap link-layer header types (tcpdump.org's LINKTYPE_ values) for the file header.
 *
 * @example
 * ```ts
 * const writer = new PcapWriter(file, { linkType: dev.mode === 'tun' ? LinkType.RAW : LinkType.ETHERNET })
 * ```
 */
export const LinkType = {
  /** Ethernet frames: what a TAP device carries. */
  ETHERNET: 1,
  /** Raw IPv4 or IPv6 packets, no link-layer header: what a TUN device (without packet info) carries. */
  RAW: 101,
} as const

/** The classic pcap magic for nanosecond-resolution timestamps. */
export const PCAP_NANOSECOND_MAGIC = 0xa1b23c4d

/**
 * Where a {@link PcapWriter} writes: a Node writable stream (a file stream, a socket,
 * `process.stdout`), used through `write`, the `'drain'` and `'error'` events and `end`.
 *
 * @example
 * ```ts
 * const sink: PcapSink = createWriteStream('out.pcap')
 * ```
 */
export type PcapSink = NodeJS.WritableStream

/**
 * Options of {@link PcapWriter} (and {@link capture}).
 *
 * @example
 * ```ts
 * const options: PcapWriterOptions = { linkType: LinkType.RAW, snapLength: 128, maxBufferedBytes: 1 << 20 }
 * ```
 */
export interface PcapWriterOptions {
  /** The file's link type (default {@link LinkType}.ETHERNET). */
  linkType?: number
  /** Frames longer than this are cut to it in the file, their original length recorded (default 262144, 1 to 2^31). */
  snapLength?: number
  /**
   * Bytes the writer holds while the sink is not ready (its `write` returned `false` and it
   * has not yet emitted `'drain'`): past this, frames are dropped and counted in
   * {@link PcapWriter.dropped} instead of buffered, so a slow sink never blocks or grows
   * the receiver (default 8 MiB, 65536 to 1 GiB).
   */
  maxBufferedBytes?: number
}

const GLOBAL_HEADER_LENGTH = 24
const RECORD_HEADER_LENGTH = 16
const NS_PER_S = 1_000_000_000n

function checkRange(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${String(v)}`)
  if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`)
  return v
}

/**
 * Writes a classic pcap file (magic 0xa1b23c4d: nanosecond timestamps, host byte order as
 * libpcap writes it) to a stream, frame by frame or a burst at a time, without ever
 * blocking its caller: while the stream applies backpressure the writer buffers up to
 * {@link PcapWriterOptions.maxBufferedBytes} and then drops (and counts) frames.
 * Readable by tcpdump, tshark and Wireshark.
 *
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs'
 * import { LinkType, PcapWriter } from 'pltap/packet'
 *
 * const writer = new PcapWriter(createWriteStream('out.pcap'), { linkType: LinkType.ETHERNET })
 * writer.writeFrame(frame, process.hrtime.bigint()) // any nanosecond timestamp since the epoch
 * await writer.close()
 * console.log(`${writer.frames} frames, ${writer.dropped} dropped`)
 * ```
 */
export class PcapWriter {
  readonly #sink: PcapSink
  readonly #snapLength: number
  readonly #maxBuffered: number
  /** Chunks held while the sink is not ready. */
  #pending: Buffer[] = []
  #pendingBytes = 0
  #waitingForDrain = false
  #frames = 0
  #dropped = 0
  #bytes = 0
  #error: Error | undefined
  #ended = false
  #closing: Promise<void> | undefined
  /** Who waits for the pending chunks to leave. */
  #flushWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  /** The link type written in the file header. */
  readonly linkType: number

  /**
   * Writes the file header at once (it is held like any chunk if the sink is not ready).
   *
   * @throws TypeError if `sink` has no `write` method; TypeError/RangeError for a bad option.
   */
  constructor(sink: PcapSink, options: PcapWriterOptions = {}) {
    if (sink === null || typeof sink !== 'object' || typeof (sink as { write?: unknown }).write !== 'function') {
      throw new TypeError('PcapWriter: sink must be a writable stream')
    }
    if (options === null || typeof options !== 'object') throw new TypeError('PcapWriter: options must be an object')
    this.linkType = checkRange('options.linkType', options.linkType ?? LinkType.ETHERNET, 0, 0xffff)
    this.#snapLength = checkRange('options.snapLength', options.snapLength ?? 262144, 1, 0x7fffffff)
    this.#maxBuffered = checkRange('options.maxBufferedBytes', options.maxBufferedBytes ?? 8 * 1024 * 1024, 65536, 1 << 30)
    this.#sink = sink
    sink.on('error', this.#onError)
    const h = Buffer.alloc(GLOBAL_HEADER_LENGTH)
    h.writeUInt32LE(PCAP_NANOSECOND_MAGIC, 0)
    h.writeUInt16LE(2, 4)
    h.writeUInt16LE(4, 6)
    // thiszone 0, sigfigs 0
    h.writeUInt32LE(this.#snapLength, 16)
    h.writeUInt32LE(this.linkType, 20)
    this.#emit(h)
  }

  /** Frames written (handed to the sink or held for it). */
  get frames(): number {
    return this.#frames
  }

  /** Frames dropped: the sink was too slow (the buffer was full), had failed, or the writer was closed. */
  get dropped(): number {
    return this.#dropped
  }

  /** Bytes held while waiting for the sink (at most {@link PcapWriterOptions.maxBufferedBytes}). */
  get bufferedBytes(): number {
    return this.#pendingBytes
  }

  /** Bytes of the file so far (header included; dropped frames not). */
  get bytesWritten(): number {
    return this.#bytes
  }

  /** The sink's error, once it emitted one (later frames are dropped). */
  get error(): Error | undefined {
    return this.#error
  }

  /**
   * Appends one frame received at `timestamp` (CLOCK_REALTIME nanoseconds since the epoch,
   * as {@link PackedFrames.timestamp}). Returns `false` if it was dropped.
   *
   * @throws TypeError for a frame that is not a Uint8Array or a timestamp that is not a bigint;
   *   RangeError for a negative timestamp.
   * @example
   * ```ts
   * writer.writeFrame(frame, BigInt(Date.now()) * 1_000_000n)
   * ```
   */
  writeFrame(frame: Uint8Array, timestamp: bigint): boolean {
    if (!(frame instanceof Uint8Array)) throw new TypeError('writeFrame: frame must be a Buffer or Uint8Array')
    checkTimestamp(timestamp)
    const lengths = Uint32Array.of(frame.length)
    return this.#write(frame, lengths, timestamp) === 1
  }

  /**
   * Appends every frame of a burst (frames back to back in `data`, as {@link Rx.readPacked}
   * returns them), all stamped with the burst's `timestamp`, in one write to the sink.
   * Returns how many were written; the rest were dropped.
   *
   * @throws TypeError/RangeError for a malformed burst (lengths past the end of `data`, a bad timestamp).
   * @example
   * ```ts
   * const burst = await rx.readPacked()
   * writer.writeBurst(burst)
   * ```
   */
  writeBurst(burst: PackedFrames): number {
    if (burst === null || typeof burst !== 'object') throw new TypeError('writeBurst: burst must be an object')
    const { data, lengths, timestamp } = burst
    if (!(data instanceof Uint8Array) || !(lengths instanceof Uint32Array)) {
      throw new TypeError('writeBurst: burst.data must be a Uint8Array and burst.lengths a Uint32Array')
    }
    checkTimestamp(timestamp)
    let total = 0
    for (const len of lengths) total += len
    if (total > data.length) throw new RangeError(`writeBurst: the lengths add up to ${total} bytes, data has ${data.length}`)
    return this.#write(data, lengths, timestamp)
  }

  #write(data: Uint8Array, lengths: Uint32Array, timestamp: bigint): number {
    const n = lengths.length
    if (this.#ended || this.#error !== undefined) {
      this.#dropped += n
      return 0
    }
    // Room for what fits: all of it while the sink is ready, else what the buffer has left.
    let room = this.#waitingForDrain ? this.#maxBuffered - this.#pendingBytes : Number.POSITIVE_INFINITY
    let size = 0
    let take = 0
    for (; take < n; take++) {
      const rec = RECORD_HEADER_LENGTH + Math.min(lengths[take]!, this.#snapLength)
      if (rec > room) break
      room -= rec
      size += rec
    }
    this.#dropped += n - take
    if (take === 0) return 0
    const sec = Number(timestamp / NS_PER_S)
    const nsec = Number(timestamp % NS_PER_S)
    const chunk = Buffer.allocUnsafe(size)
    let at = 0
    let from = 0
    for (let i = 0; i < take; i++) {
      const len = lengths[i]!
      const incl = Math.min(len, this.#snapLength)
      chunk.writeUInt32LE(sec >>> 0, at)
      chunk.writeUInt32LE(nsec, at + 4)
      chunk.writeUInt32LE(incl, at + 8)
      chunk.writeUInt32LE(len, at + 12)
      chunk.set(data.subarray(from, from + incl), at + RECORD_HEADER_LENGTH)
      at += RECORD_HEADER_LENGTH + incl
      from += len
    }
    this.#frames += take
    this.#emit(chunk)
    return take
  }

  /** Hands `chunk` to the sink, or holds it while the sink is not ready. */
  #emit(chunk: Buffer): void {
    this.#bytes += chunk.length
    if (this.#waitingForDrain) {
      this.#pending.push(chunk)
      this.#pendingBytes += chunk.length
    } else {
      this.#send(chunk)
    }
  }

  #send(chunk: Buffer): void {
    if (!this.#sink.write(chunk)) {
      this.#waitingForDrain = true
      this.#sink.once('drain', this.#onDrain)
    }
  }

  #onDrain = (): void => {
    this.#waitingForDrain = false
    if (this.#error !== undefined) return
    if (this.#pending.length > 0) {
      const chunk = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending)
      this.#pending = []
      this.#pendingBytes = 0
      this.#send(chunk)
    }
    if (!this.#waitingForDrain) for (const w of this.#flushWaiters.splice(0)) w.resolve()
  }

  #onError = (err: Error): void => {
    this.#error ??= err
    this.#pending = []
    this.#pendingBytes = 0
    for (const w of this.#flushWaiters.splice(0)) w.reject(err)
  }

  /**
   * Resolves once everything written so far has been handed to the sink (nothing is held
   * for it); rejects with the sink's error if it failed. Does not end the sink.
   *
   * @example
   * ```ts
   * await writer.flush()
   * ```
   */
  flush(): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error)
    if (!this.#waitingForDrain) return Promise.resolve()
    return new Promise((resolve, reject) => this.#flushWaiters.push({ resolve, reject }))
  }

  /**
   * Flushes, then ends the sink and waits until it has finished (for a file: written and
   * closed). Frames written after this are dropped. Idempotent. Pass `{ end: false }` to
   * leave the sink open (e.g. `process.stdout`).
   *
   * @example
   * ```ts
   * await writer.close()
   * ```
   */
  close(options: { end?: boolean } = {}): Promise<void> {
    this.#closing ??= this.#close(options.end !== false)
    return this.#closing
  }

  async #close(end: boolean): Promise<void> {
    this.#ended = true
    await this.flush()
    if (!end) return
    const sink = this.#sink as NodeJS.WritableStream & { writableFinished?: boolean }
    await new Promise<void>((resolve, reject) => {
      if (this.#error !== undefined) return reject(this.#error)
      const onError = (e: Error): void => reject(e)
      sink.once('error', onError)
      sink.end(() => {
        sink.removeListener('error', onError)
        resolve()
      })
    })
  }
}

function checkTimestamp(timestamp: unknown): asserts timestamp is bigint {
  if (typeof timestamp !== 'bigint') throw new TypeError(`timestamp must be a bigint (nanoseconds), got ${typeof timestamp}`)
  if (timestamp < 0n || timestamp >= 0x100000000n * NS_PER_S) throw new RangeError(`timestamp ${timestamp} is outside pcap's range`)
}

/**
 * Something to tee from: an {@link Rx} (only its {@link Rx.observe} is used).
 *
 * @example
 * ```ts
 * const source: CaptureSource = dev.rxOpen()
 * ```
 */
export interface CaptureSource {
  /** Calls `fn` with every burst; returns an unsubscribe. */
  observe(fn: (burst: PackedFrames) => void): () => void
}

/**
 * Options of {@link capture}.
 *
 * @example
 * ```ts
 * const options: CaptureOptions = { count: 100, linkType: LinkType.ETHERNET }
 * ```
 */
export interface CaptureOptions extends PcapWriterOptions {
  /** Stop after this many frames (the rest of the burst that reaches it is not written). */
  count?: number
}

/**
 * A running {@link capture}.
 *
 * @example
 * ```ts
 * const cap: Capture = capture(rx, createWriteStream('out.pcap'))
 * await cap.stop()
 * ```
 */
export interface Capture {
  /** The writer the frames go to. */
  readonly writer: PcapWriter
  /** Resolves when the capture stops: `count` frames were written, or {@link Capture.stop} was called. */
  readonly done: Promise<void>
  /** Stops observing (idempotent) and resolves once the writer has flushed; does not end the sink (see {@link PcapWriter.close}). */
  stop(): Promise<void>
}

/**
 * Tees every burst an {@link Rx} receives into a pcap file, stamped with the burst's
 * receive time ({@link PackedFrames.timestamp}), through {@link Rx.observe}: the `Rx`'s
 * readers still get every frame, and a slow sink costs drops counted in
 * `writer.dropped`, never a stalled receiver. The observer runs only while someone reads
 * the `Rx`; to capture and nothing else, drain it (`for (;;) await rx.readPacked()`).
 *
 * @throws TypeError if `rx` has no `observe` method; what {@link PcapWriter}'s constructor throws.
 * @example
 * ```ts
 * import { createWriteStream } from 'node:fs'
 * import { Netdev } from 'pltap'
 * import { capture } from 'pltap/packet'
 *
 * const dev = await Netdev.open({ name: 'port0', allocator: 'direct', ifname: 'cap%d' })
 * await dev.up()
 * const rx = dev.rxOpen()
 * const cap = capture(rx, createWriteStream('port0.pcap'), { count: 10 })
 * for await (const frame of rx) {
 *   // ... the service's own work on every frame, undisturbed
 *   if (cap.writer.frames >= 10) break
 * }
 * await cap.stop()
 * await cap.writer.close()
 * await dev.close()
 * ```
 */
export function capture(rx: CaptureSource, sink: PcapSink | PcapWriter, options: CaptureOptions = {}): Capture {
  if (rx === null || typeof rx !== 'object' || typeof (rx as { observe?: unknown }).observe !== 'function') {
    throw new TypeError('capture: rx must be an Rx (something with observe())')
  }
  const count =
    options.count === undefined ? Number.POSITIVE_INFINITY : checkRange('options.count', options.count, 1, Number.MAX_SAFE_INTEGER)
  const writer = sink instanceof PcapWriter ? sink : new PcapWriter(sink, options)
  let stopped = false
  let finish: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    finish = resolve
  })
  let seen = 0
  const unsubscribe = rx.observe((burst) => {
    if (stopped) return
    const left = count - seen
    if (burst.lengths.length > left) {
      let bytes = 0
      for (let i = 0; i < left; i++) bytes += burst.lengths[i]!
      burst = { data: burst.data.subarray(0, bytes), lengths: burst.lengths.subarray(0, left), timestamp: burst.timestamp }
    }
    seen += burst.lengths.length
    writer.writeBurst(burst)
    if (seen >= count) stop()
  })
  const stop = (): void => {
    if (stopped) return
    stopped = true
    unsubscribe()
    finish()
  }
  return {
    writer,
    done,
    stop: async () => {
      stop()
      await writer.flush()
    },
  }
}
