import { type NativeNetdev, NativeRx } from '../binding.js'
import { closedError, fromNative, native, PltapError } from './errors.js'
import { keepAlive } from './keep-alive.js'
import { framePortOf } from './netdev/ports.js'
import type { NetdevQueue } from './netdev/queue.js'
import type { Netdev } from './netdev.js'
import { Ring } from './ring.js'
import { checkFunction, checkInt, checkObject, checkSignal } from './validate.js'

/**
 * Options of {@link Rx.read} and {@link Rx.readBatch}.
 *
 * @example
 * ```ts
 * const frame = await rx.read({ signal: AbortSignal.timeout(1000) })
 * ```
 */
export interface ReadOptions {
  /** Aborts the wait: the promise rejects with `signal.reason` (an `AbortError` by default). */
  signal?: AbortSignal
}

/**
 * Options of {@link Rx.readBatch}.
 *
 * @example
 * ```ts
 * const frames = await rx.readBatch({ max: 128 })
 * ```
 */
export interface ReadBatchOptions extends ReadOptions {
  /** At most this many frames (default 64, 1 to 4096). */
  max?: number
}

/**
 * How the receive path learns that frames are waiting (see {@link RxOptions.wake}):
 * - `'loop'`: the device is watched by a libuv poll handle on the event loop of the
 *   thread that opened the `Rx` (a worker's own loop in a worker thread), and each burst
 *   is read and delivered in that handle's callback: one wake-up per burst, no thread
 *   hop. The lowest latency; reading runs on the JS thread.
 * - `'thread'`: a native reader thread per `Rx` waits and reads, and hands each burst to
 *   the JS thread (two wake-ups per burst). The reads run off the JS thread, which can
 *   help a JS thread that is busy with other work under sustained load.
 *
 * @example
 * ```ts
 * const rx = dev.rxOpen({ wake: 'thread' })
 * console.log(rx.wake) // 'thread'
 * ```
 */
export type RxWake = 'loop' | 'thread'

/**
 * The wake mode used when {@link RxOptions.wake} is not given: `'loop'`, which measured
 * the lower ping RTT and as many frames per CPU millisecond (`npm run bench:wake`,
 * `bench/results/rx-wake-*.md`). A runtime without libuv's poll handle uses `'thread'`.
 *
 * @example
 * ```ts
 * import { DEFAULT_WAKE } from 'pltap'
 * const rx = dev.rxOpen()
 * console.assert(rx.wake === DEFAULT_WAKE)
 * ```
 */
export const DEFAULT_WAKE: RxWake = 'loop'

/**
 * Tuning of the receive queue, passed to {@link Netdev.rxOpen}. The reader pauses
 * when either bound is reached, so that frames wait in the kernel's queue instead (which
 * drops them, counting them in the kernel's counters, when it is full).
 *
 * @example
 * ```ts
 * const rx = dev.rxOpen({ batch: 128, highWaterMark: 4096, highWaterMarkBytes: 16 * 1024 * 1024 })
 * const threaded = dev.rxOpen({ wake: 'thread' })
 * ```
 */
export interface RxOptions {
  /**
   * How frames are waited for and read: `'loop'` (the default, see {@link DEFAULT_WAKE})
   * or `'thread'`; see {@link RxWake}. Every other option works the same in both. In a
   * runtime without libuv's poll handle (not Node), `'loop'` falls back to `'thread'`
   * ({@link Rx.wake} tells which runs).
   */
  wake?: RxWake
  /** Frames the reader drains per burst, i.e. per crossing into JS (default 256, 1 to 1024). */
  batch?: number
  /**
   * Frames buffered in JS before the reader pauses (default 2048, 16 to 1,000,000). It resumes
   * once a quarter of that is left.
   */
  highWaterMark?: number
  /**
   * Bytes the queue may hold (default 4 MiB, 65536 to 1 GiB): frames the reader has
   * read but JS has not yet taken, counting the bursts still on their way to the JS thread.
   * The reader never reads past it (a burst holds only as many frames of the device's MTU
   * as fit); it reads again as soon as a burst leaves the queue. With large frames (a 64 KiB
   * MTU) this, not `highWaterMark`, is what bounds the memory a slow consumer costs.
   */
  highWaterMarkBytes?: number
}

/**
 * A burst of frames packed back to back, as {@link Rx.readPacked} returns it (and
 * {@link Rx.observe} sees it): frame `i` is the `lengths[i]` bytes after frames `0..i-1`
 * in `data`.
 *
 * @example
 * ```ts
 * const { data, lengths, timestamp } = await rx.readPacked()
 * let offset = 0
 * for (const len of lengths) {
 *   inspect(data.subarray(offset, offset + len), timestamp)
 *   offset += len
 * }
 * ```
 */
export interface PackedFrames {
  /** The frames, back to back. */
  data: Buffer
  /** The length of each frame, in order. */
  lengths: Uint32Array
  /**
   * When the burst was received: `CLOCK_REALTIME` in nanoseconds since the Unix epoch,
   * taken right after the burst's first frame was read from the device (the same for
   * every frame of the burst). `new Date(Number(timestamp / 1_000_000n))` is a `Date`.
   */
  timestamp: bigint
  /**
   * On an offload device opened with `deliver: 'super'`: each frame's virtio-net header,
   * 10 bytes per frame (little-endian; decode one with `vnetAt`), with `hdrLen` set to the
   * exact parsed header length. Frames may be super-frames (up to 65600 bytes). Pass it to
   * `sendPacked(data, lengths, vnet)` of another offload device to forward untouched.
   */
  vnet?: Buffer
}

/** A burst from the reader, partly consumed from its `next` frame on. */
interface Burst {
  data: Buffer
  lengths: Uint32Array
  timestamp: bigint
  vnet: Buffer | null
  next: number
  offset: number
}

/**
 * Options of {@link Rx.consume}.
 *
 * @example
 * ```ts
 * rx.consume((burst) => other.sendPacked(burst.data, burst.lengths), {
 *   onEnd: (err) => console.log(err === undefined ? 'closed' : `failed: ${err}`),
 * })
 * ```
 */
export interface ConsumeOptions {
  /**
   * Called once when consuming ends because the `Rx` (or its `Netdev`) closed, with
   * `undefined`, or because its reader failed (e.g. the device was deleted), with the
   * error. Not called after the consumer is removed with the function `consume` returned.
   * Without it, a failure is rethrown as an uncaught exception (as an `'error'` event with
   * no listener is), since nothing else would report it. An exception `onEnd` throws is
   * rethrown the same way; the close goes on.
   */
  onEnd?: (err: unknown) => void
}

/** A consumer (a JS function, or a native forwarding target) and what ends it. */
interface Consumer {
  /** The JS consumer ({@link Rx.consume}); `undefined` for a forward. */
  fn: ((burst: PackedFrames) => void) | undefined
  /** The forwarding target's descriptor ({@link Rx.forward}); `undefined` for a JS consumer. */
  target: NativeNetdev | undefined
  onEnd: ((err: unknown) => void) | undefined
  endKeepAlive: () => void
}

/**
 * What {@link Rx.forward} wrote to its target and what the target refused, since the `Rx`
 * opened (cumulative over every forward).
 *
 * @example
 * ```ts
 * const { frames, dropped } = rx.forwarded
 * ```
 */
export interface ForwardCounters {
  /** Frames written to the target. */
  frames: number
  /** Their bytes. */
  bytes: number
  /** Bursts forwarded (each one native call). */
  bursts: number
  /** Frames not written: the target was down (`EIO`), its queue full, or it refused them. */
  dropped: number
  /** Bursts refused for another reason than the link being down or the queue full. */
  errors: number
}

const NO_FORWARDS: ForwardCounters = Object.freeze({ frames: 0, bytes: 0, bursts: 0, dropped: 0, errors: 0 })

let loopAvailable: boolean | undefined
/** Whether this runtime can watch a descriptor on its event loop (Node can). @internal */
export function canUseLoop(): boolean {
  loopAvailable ??= NativeRx.loopAvailable()
  return loopAvailable
}

/**
 * The native reader's callback (`NativeNetdev.rxStart` / `rxStartLoop`): an encoded error,
 * or a burst packed as {@link unpackBurst} reads it, its receive time (seconds and
 * nanoseconds since the epoch), whether virtio-net headers follow, and whether it was also
 * forwarded natively ({@link Rx.forward}). @internal
 */
export type BurstCallback = (
  err: string | null,
  packed: Uint8Array | null,
  dataLength: number,
  count: number,
  sec: number,
  nsec: number,
  vnet: boolean,
  forwarded?: boolean,
) => void

/** Someone waiting for frames: `take` consumes what it needs from the queue (which is not empty). */
type Waiter = { take: () => void; reject: (err: unknown) => void }

/** @internal The owner's hooks. */
export interface RxOwner {
  native: NativeNetdev
  realName: string
  onClose(rx: Rx): void
}

/**
 * A receive queue on a {@link Netdev}: pull frames one at a time, in batches, or with
 * `for await`.
 *
 * Frames are read in bursts (up to `batch` frames per crossing into JS, never one Promise
 * per frame) into a bounded queue, either on the event loop of the thread that opened
 * the `Rx` or by a native reader thread (see {@link RxWake}). When the queue reaches its
 * high-water mark the reader pauses and frames wait in the kernel. The reader starts at
 * the first asynchronous read (or {@link Rx.observe}); until then {@link Rx.recv} reads
 * the device directly. An open `Rx` does not keep the process alive; a pending read does.
 *
 * @example
 * ```ts
 * await using rx = netdev.rxOpen()
 * for await (const frame of rx) {
 *   console.log(`${frame.length} bytes, EtherType 0x${frame.readUInt16BE(12).toString(16)}`)
 * }
 * ```
 */
export class Rx implements AsyncIterable<Buffer> {
  #owner: RxOwner
  #reader: NativeRx | undefined
  #bursts = new Ring<Burst>(16)
  #queued = 0
  /** Bytes of the queued frames (what {@link Rx.queuedBytes} reports). */
  #queuedBytes = 0
  /** Bytes of the bursts in the queue, whole: what the reader thread gets back when they leave it. */
  #heldBytes = 0
  #waiters: Waiter[] = []
  #closed = false
  /** The close done: every `close()` returns it. */
  #closing: Promise<void> | undefined
  #failure: unknown
  /** Frames dropped past the hard limit, plus (once the reader is gone) the reader's truncated ones. */
  #dropped = 0
  #paused = false
  /** Ends the keep-alive held while reads wait (see {@link keepAlive}). */
  #endKeepAlive: (() => void) | undefined
  #observers: ((burst: PackedFrames) => void)[] = []
  /** The consumer bursts go to instead of the queue (see {@link Rx.consume}, {@link Rx.forward}), if any. */
  #consumer: Consumer | undefined
  /** {@link Rx.forwarded} once the reader is gone. */
  #lastForwarded: ForwardCounters = NO_FORWARDS
  #lastTimestamp: bigint | null = null
  readonly #wake: RxWake
  readonly #batch: number
  readonly #highWaterMark: number
  readonly #highWaterMarkBytes: number

  /** @internal Use {@link Netdev.rxOpen}. */
  constructor(owner: RxOwner, options: RxOptions = {}) {
    this.#owner = owner
    // 'loop' needs libuv's poll handle; a runtime without it gets the thread (rx.wake says so).
    const wanted = options.wake ?? DEFAULT_WAKE
    this.#wake = wanted === 'loop' && !canUseLoop() ? 'thread' : wanted
    this.#batch = options.batch ?? 256
    this.#highWaterMark = options.highWaterMark ?? 2048
    this.#highWaterMarkBytes = options.highWaterMarkBytes ?? 4 * 1024 * 1024
  }

  /** Whether {@link Rx.close} was called (or the owning {@link Netdev} closed). */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * The wake mode in use (see {@link RxOptions.wake}).
   *
   * @example
   * ```ts
   * dev.rxOpen({ wake: 'thread' }).wake // 'thread'
   * ```
   */
  get wake(): RxWake {
    return this.#wake
  }

  /**
   * The receive timestamp of the last burst that reached this `Rx` (see
   * {@link PackedFrames.timestamp}), or `null` before the first.
   *
   * @example
   * ```ts
   * const frame = await rx.read()
   * console.log(`received at ${rx.lastTimestamp} ns`)
   * ```
   */
  get lastTimestamp(): bigint | null {
    return this.#lastTimestamp
  }

  /**
   * Calls `fn` synchronously for every burst as it arrives, before it is queued (so it
   * sees every frame this `Rx` receives, including frames then dropped past the queue's
   * hard limit), with the burst's data, lengths and timestamp. `data` is the buffer reads
   * hand out too (never reused): keep it as long as you like, but do not modify it.
   * Starts the reader if it is not running. Returns a function that removes
   * `fn` (idempotent). An exception thrown by `fn` does not disturb the queue: it is
   * rethrown asynchronously, as an uncaught exception.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` after close; `TypeError` if `fn` is not a function.
   * @example
   * ```ts
   * let frames = 0
   * const stop = rx.observe((burst) => { frames += burst.lengths.length })
   * // ... later
   * stop()
   * ```
   */
  observe(fn: (burst: PackedFrames) => void): () => void {
    checkFunction('fn', fn)
    this.#throwIfClosed()
    const entry = (burst: PackedFrames): void => fn(burst)
    this.#observers.push(entry)
    this.#start()
    if (this.#consumer?.target !== undefined) this.#route() // forwarded bursts now come to JS too
    return () => {
      const i = this.#observers.indexOf(entry)
      if (i >= 0) this.#observers.splice(i, 1)
      if (this.#consumer?.target !== undefined) this.#route()
    }
  }

  /**
   * Hands every burst to `fn` synchronously as it arrives, instead of queueing it: the
   * lowest-latency way to receive, with no promise and no queue, for forwarders and
   * switches that handle a burst at once (`sendPacked` it, count it, drop it). Bursts
   * already queued go to `fn` first, from a microtask. While a consumer is set, reads
   * wait (they get frames again once it is removed) and the queue's bounds do not apply:
   * `fn` runs before the next burst is read. The consumer keeps the process alive, as a
   * socket with a `'data'` listener does, until it is removed (the returned function,
   * idempotent) or the `Rx` closes. `data` is never reused: keep it as long as you like.
   * An exception thrown by `fn` is rethrown asynchronously, as an uncaught exception, and
   * the next burst still goes to `fn`. Observers ({@link Rx.observe}) see every burst first.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` after close; `ERR_PLTAP_BUSY` if the `Rx`
   *   already has a consumer; `TypeError` if `fn` or `options.onEnd` is not a function.
   * @example
   * ```ts
   * // A one-way bridge: every burst from a to b with one native call, no await.
   * const stop = rxA.consume((burst) => devB.sendPacked(burst.data, burst.lengths))
   * // ... later
   * stop()
   * ```
   */
  consume(fn: (burst: PackedFrames) => void, options: ConsumeOptions = {}): () => void {
    checkFunction('fn', fn)
    const onEnd = this.#checkAttach(options)
    this.#start() // a reader that cannot start fails the Rx, and the consumer ends at once
    const consumer: Consumer = { fn, target: undefined, onEnd, endKeepAlive: keepAlive() }
    return this.#attach(consumer, (burst) => this.#hand(consumer, burst))
  }

  /** What {@link Rx.consume} and {@link Rx.forward} check before anything changes; returns `options.onEnd`. */
  #checkAttach(options: ConsumeOptions): ConsumeOptions['onEnd'] {
    checkObject('options', options)
    if (options.onEnd !== undefined) checkFunction('options.onEnd', options.onEnd)
    this.#throwIfClosed()
    if (this.#consumer !== undefined) throw new PltapError('ERR_PLTAP_BUSY', `Rx on ${this.#owner.realName} already has a consumer`)
    return options.onEnd as ConsumeOptions['onEnd']
  }

  /**
   * Installs `consumer` (a JS consumer or a forward): what is queued goes to `take` first,
   * from a microtask, then the consumer ends if the reader already failed. Returns the
   * function that removes it (idempotent); reads that waited meanwhile then get frames again.
   */
  #attach(consumer: Consumer, take: (burst: PackedFrames) => void): () => void {
    this.#consumer = consumer
    if (consumer.target !== undefined && this.#failure === undefined) this.#route()
    if (this.#queued > 0 || this.#failure !== undefined) {
      queueMicrotask(() => {
        while (this.#consumer === consumer && this.#queued > 0) take(this.#takeBurst())
        if (this.#consumer === consumer && this.#failure !== undefined) this.#endConsumer(this.#failure)
      })
    }
    return () => {
      if (this.#consumer !== consumer) return
      this.#consumer = undefined
      consumer.endKeepAlive()
      if (consumer.target !== undefined) this.#route()
      while (this.#queued > 0 && this.#waiters.length > 0) this.#waiters.shift()!.take()
      this.#updateKeepAlive()
    }
  }

  /**
   * Forwards every burst read from now on to `target` (another device, or a queue of one)
   * natively, in the receive callback, before any JavaScript runs: a patch cable between
   * two ports, with no per-burst cost in JS. The reader writes each burst as
   * {@link Netdev.sendPacked} would (with its virtio-net headers between `deliver: 'super'`
   * offload devices) and counts what the target took and refused in {@link Rx.forwarded}: a
   * target that is down or full drops frames (counted), as a switch does, and forwarding goes
   * on. Observers ({@link Rx.observe}) still see every burst, after it was sent. Bursts
   * already queued are forwarded first (from a microtask), and while the forward is set
   * reads wait, as behind a consumer. If the target's frame I/O ends (it is closed, or its
   * queue is transferred to another thread), the forward stops writing through it and
   * counts every later burst as dropped and an error. Like a consumer, a forward keeps the
   * process alive until it is removed (the returned function, idempotent) or the `Rx`
   * closes, and `options.onEnd` hears of the close or of the reader's failure. To forward
   * both ways, forward each device's `Rx` to the other.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` after close or if `target` is closed;
   *   `ERR_PLTAP_BUSY` if the `Rx` already has a consumer or a forward; `TypeError` if `target`
   *   is not a `Netdev` or `NetdevQueue`, or `options.onEnd` not a function.
   * @example
   * ```ts
   * // A two-port bridge with no JavaScript per burst.
   * const rxA = a.rxOpen()
   * const rxB = b.rxOpen()
   * const stops = [rxA.forward(b), rxB.forward(a)]
   * // ... later
   * console.log(rxA.forwarded) // { frames, bytes, bursts, dropped, errors }
   * for (const stop of stops) stop()
   * ```
   */
  forward(target: Netdev | NetdevQueue, options: ConsumeOptions = {}): () => void {
    framePortOf('target', target, () => {}).release() // checks it before anything changes
    const onEnd = this.#checkAttach(options)
    this.#start()
    // The target's frame I/O may end first (closed, or its descriptor handed to another
    // thread): the reader then stops writing through it and counts errors.
    const port = framePortOf('target', target, () => {
      if (this.#consumer === consumer) native(() => this.#reader?.revokeForward())
    })
    const consumer: Consumer = { fn: undefined, target: port.native, onEnd, endKeepAlive: chain(keepAlive(), port.release) }
    // What was queued before goes the same way, through the same counters.
    return this.#attach(consumer, (b) => native(() => this.#reader?.forwardPacked(b.data, b.lengths, b.vnet ?? null)))
  }

  /**
   * What {@link Rx.forward} wrote and dropped so far (all zero if it never forwarded); the
   * values stay after close.
   *
   * @example
   * ```ts
   * rxA.forward(devB)
   * // ... later
   * console.log(`${rxA.forwarded.frames} frames forwarded, ${rxA.forwarded.dropped} dropped`)
   * ```
   */
  get forwarded(): ForwardCounters {
    return this.#reader?.forwarded ?? this.#lastForwarded
  }

  /** Tells the native reader where bursts go: to the forward target if any, and to JS too while observers watch. */
  #route(): void {
    const reader = this.#reader
    if (reader === undefined) return
    const target = this.#consumer?.target
    native(() => reader.setForward(target ?? null, target !== undefined && this.#observers.length > 0))
  }

  /** Gives `burst` to the consumer; an exception it throws is rethrown later. */
  #hand(consumer: Consumer, burst: PackedFrames): void {
    try {
      consumer.fn?.(burst)
    } catch (err) {
      rethrowLater(err)
    }
  }

  /** Ends the consumer, if any: the Rx closed (`undefined`) or failed (the error). */
  #endConsumer(err: unknown): void {
    const consumer = this.#consumer
    if (consumer === undefined) return
    this.#consumer = undefined
    consumer.endKeepAlive()
    if (consumer.onEnd === undefined) {
      if (err !== undefined) rethrowLater(err)
      return
    }
    try {
      consumer.onEnd(err)
    } catch (thrown) {
      rethrowLater(thrown) // the close (or the failure's bookkeeping) goes on
    }
  }

  /** Frames received but discarded: cut short by a too-small buffer, or beyond the queue's hard limit. */
  get dropped(): number {
    return this.#dropped + (this.#reader?.truncated ?? 0)
  }

  /** Frames waiting in the JS queue. */
  get queued(): number {
    return this.#queued
  }

  /**
   * Bytes of the frames waiting in the JS queue. Together with the bursts on their way
   * to the JS thread, never more than {@link RxOptions.highWaterMarkBytes}.
   *
   * @example
   * ```ts
   * console.log(`${rx.queued} frames (${rx.queuedBytes} bytes) waiting`)
   * ```
   */
  get queuedBytes(): number {
    return this.#queuedBytes
  }

  #throwIfClosed(): void {
    if (this.#closed) throw closedError(`Rx on ${this.#owner.realName}`)
  }

  /**
   * Returns the next frame, or `null` if none is queued (always `null` while a consumer
   * takes the frames, see {@link Rx.consume}). Synchronous and never waits.
   * Before the reader thread runs this reads the device directly (one nonblocking `read`).
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` after close; an OS error (e.g. `EBADFD`) if the device is gone.
   * @example
   * ```ts
   * let frame
   * while ((frame = rx.recv()) !== null) handle(frame)
   * ```
   */
  recv(): Buffer | null {
    this.#throwIfClosed()
    if (this.#consumer !== undefined) return null // the consumer (or forward) takes every frame
    if (this.#queued > 0) return this.#shift()
    if (this.#failure !== undefined) throw this.#failure
    if (this.#reader !== undefined) return null
    return native(() => this.#owner.native.recv())
  }

  /**
   * Waits for the next frame.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` if the `Rx` is closed before a frame comes;
   *   `signal.reason` when aborted.
   * @example
   * ```ts
   * const frame = await rx.read({ signal: AbortSignal.timeout(1000) })
   * ```
   */
  read(options: ReadOptions = {}): Promise<Buffer> {
    checkObject('options', options)
    checkSignal('options.signal', options.signal)
    return this.#wait(options.signal, () => this.#shift())
  }

  /**
   * Waits for frames, then returns the rest of the oldest burst the reader thread
   * delivered, as one buffer plus lengths: no object per frame, for consumers that
   * handle frames in bulk (forwarders, captures). Pass it straight to
   * {@link Netdev.sendPacked} to forward a burst with one call.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` if the `Rx` is closed first; `signal.reason` when aborted.
   * @example
   * ```ts
   * for (;;) {
   *   const burst = await rxA.readPacked()
   *   devB.sendPacked(burst.data, burst.lengths) // a two-line bridge
   * }
   * ```
   */
  readPacked(options: ReadOptions = {}): Promise<PackedFrames> {
    checkObject('options', options)
    checkSignal('options.signal', options.signal)
    return this.#wait(options.signal, () => this.#takeBurst())
  }

  /** Resolves with `take()` once frames are queued; rejects on close, failure or abort. */
  #wait<T>(signal: AbortSignal | undefined, take: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError(`Rx on ${this.#owner.realName}`))
    const consuming = this.#consumer !== undefined // a consumer or a forward takes the queue: wait behind it
    if (this.#queued > 0 && !consuming) return Promise.resolve(take())
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (signal?.aborted) return Promise.reject(signal.reason)
    this.#start()
    if (this.#failure !== undefined) return Promise.reject(this.#failure) // it could not start
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        this.#updateKeepAlive()
        reject(signal?.reason)
      }
      const waiter: Waiter = {
        take: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(take())
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort)
          reject(e)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
      this.#updateKeepAlive()
    })
  }

  /**
   * Waits for at least one frame, then returns every queued frame up to `max`: one await
   * per batch for heavy consumers.
   *
   * @example
   * ```ts
   * const frames = await rx.readBatch({ max: 256 })
   * ```
   */
  readBatch(options: ReadBatchOptions = {}): Promise<Buffer[]> {
    checkObject('options', options)
    if (options.max !== undefined) checkInt('options.max', options.max, 1, 4096)
    const max = options.max ?? 64
    checkSignal('options.signal', options.signal)
    return this.#readBatch(max, options.signal)
  }

  async #readBatch(max: number, signal: AbortSignal | undefined): Promise<Buffer[]> {
    const first = await this.read({ signal })
    const out = [first]
    while (out.length < max && this.#queued > 0) out.push(this.#shift())
    return out
  }

  /**
   * Discards every queued frame, in JS and in the kernel. Returns how many.
   *
   * @example
   * ```ts
   * const stale = rx.drain()
   * ```
   */
  drain(): number {
    this.#throwIfClosed()
    const inJs = this.#queued
    this.#clearQueue()
    this.#resumeIfLow()
    return inJs + native(() => this.#owner.native.drain())
  }

  /**
   * Iterates over frames until the `Rx` (or its `Netdev`) is closed. Leaving the loop
   * early (`break`, `return`, an exception) closes the `Rx`.
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        if (this.#closed) return { done: true, value: undefined }
        try {
          return { done: false, value: await this.read() }
        } catch (err) {
          if (err instanceof PltapError && err.code === 'ERR_PLTAP_CLOSED') return { done: true, value: undefined }
          throw err
        }
      },
      return: async (): Promise<IteratorResult<Buffer>> => {
        await this.close()
        return { done: true, value: undefined }
      },
    }
  }

  /**
   * Stops the reader thread and ends pending reads (they reject with `ERR_PLTAP_CLOSED`;
   * `for await` loops end). Idempotent: every call returns the same promise. The counters
   * ({@link Rx.dropped}) keep their values.
   *
   * @example
   * ```ts
   * await rx.close()
   * await rx.close() // no-op
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#clearQueue()
    const reader = this.#reader
    this.#reader = undefined
    if (reader !== undefined) {
      reader.close()
      this.#dropped += reader.truncated // final once the thread is joined
      this.#lastForwarded = reader.forwarded
    }
    const err = closedError(`Rx on ${this.#owner.realName}`)
    for (const w of this.#waiters.splice(0)) w.reject(err)
    this.#updateKeepAlive()
    this.#endConsumer(undefined)
    this.#owner.onClose(this)
  }

  /** Same as {@link Rx.close}. @hidden */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  /** Empties the queue and gives its bytes back to the reader thread. */
  #clearQueue(): void {
    this.#bursts.clear()
    this.#queued = 0
    this.#queuedBytes = 0
    this.#release(this.#heldBytes)
  }

  /** A burst left the queue: the reader thread may read that much again. */
  #release(bytes: number): void {
    this.#heldBytes -= bytes
    if (bytes > 0) this.#reader?.release(bytes)
  }

  /** The next queued frame (the queue is not empty). */
  #shift(): Buffer {
    const b = this.#bursts.peek()!
    const len = b.lengths[b.next]!
    const frame = b.data.subarray(b.offset, b.offset + len)
    b.next++
    b.offset += len
    if (b.next === b.lengths.length) {
      this.#bursts.shift()
      this.#release(b.data.length)
    }
    this.#queued--
    this.#queuedBytes -= len
    this.#resumeIfLow()
    return frame
  }

  /** The rest of the oldest burst (the queue is not empty). */
  #takeBurst(): PackedFrames {
    const b = this.#bursts.shift()!
    const frames =
      b.next === 0
        ? b
        : { data: b.data.subarray(b.offset), lengths: b.lengths.subarray(b.next), vnet: b.vnet?.subarray(b.next * 10) ?? null }
    this.#release(b.data.length)
    this.#queued -= frames.lengths.length
    this.#queuedBytes -= frames.data.length
    this.#resumeIfLow()
    if (frames.vnet != null) return { data: frames.data, lengths: frames.lengths, timestamp: b.timestamp, vnet: frames.vnet }
    return { data: frames.data, lengths: frames.lengths, timestamp: b.timestamp }
  }

  #start(): void {
    if (this.#reader !== undefined || this.#failure !== undefined) return
    const onBurst = this.#onBurst
    const nativeDev = this.#owner.native
    try {
      this.#reader = native(() =>
        this.#wake === 'loop'
          ? nativeDev.rxStartLoop(onBurst, this.#batch, this.#highWaterMarkBytes)
          : nativeDev.rxStart(onBurst, this.#batch, this.#highWaterMarkBytes),
      )
    } catch (err) {
      // The reader could not start: that is this Rx's failure (reads reject with it).
      this.#fail(err)
    }
  }

  #fail(failure: unknown): void {
    this.#failure = failure
    for (const w of this.#waiters.splice(0)) w.reject(failure)
    this.#updateKeepAlive()
    this.#endConsumer(failure)
  }

  /** The native reader's callback: a burst (or the reader's failure) arrives. */
  readonly #onBurst: BurstCallback = (err, packed, dataLength, count, sec, nsec, hasVnet, forwarded = false) => {
    if (this.#closed) return
    if (err !== null) {
      this.#fail(fromNative(new Error(err)))
      return
    }
    if (packed === null || count === 0) return
    const { data: frames, lengths, vnet } = unpackBurst(packed, dataLength, count, hasVnet)
    const timestamp = BigInt(sec) * 1_000_000_000n + BigInt(nsec)
    this.#lastTimestamp = timestamp
    if (this.#observers.length > 0) this.#notify({ data: frames, lengths, timestamp })
    const consumer = this.#consumer
    if (forwarded || consumer !== undefined) {
      this.#reader?.release(frames.length) // the burst never enters the queue
      if (forwarded) return // it came for the observers only
      if (consumer!.fn !== undefined) {
        this.#hand(consumer!, vnet === null ? { data: frames, lengths, timestamp } : { data: frames, lengths, timestamp, vnet })
      } else {
        // Read before the forward took effect (on its way from the reader thread): sent the same way.
        native(() => this.#reader?.forwardPacked(frames, lengths, vnet))
      }
      return
    }
    if (this.#queued >= this.#highWaterMark + 8 * this.#batch) {
      this.#dropped += lengths.length // past the hard limit (the pause came too late)
      this.#reader?.release(frames.length)
      return
    }
    this.#bursts.push({ data: frames, lengths, timestamp, vnet, next: 0, offset: 0 })
    this.#queued += lengths.length
    this.#queuedBytes += frames.length
    this.#heldBytes += frames.length
    while (this.#queued > 0 && this.#waiters.length > 0) this.#waiters.shift()!.take()
    this.#updateKeepAlive()
    if (!this.#paused && this.#queued >= this.#highWaterMark) {
      this.#paused = true
      this.#reader?.pause()
    }
  }

  /** Tells the observers; an exception is rethrown later, so the queue stays consistent. */
  #notify(burst: PackedFrames): void {
    for (const fn of [...this.#observers]) {
      try {
        fn(burst)
      } catch (err) {
        rethrowLater(err)
      }
    }
  }

  #resumeIfLow(): void {
    if (this.#paused && this.#queued <= this.#highWaterMark / 4) {
      this.#paused = false
      this.#reader?.resume()
    }
  }

  /** Keeps the event loop alive while someone waits for a frame (the reader itself does not). */
  #updateKeepAlive(): void {
    if (this.#waiters.length > 0 && this.#endKeepAlive === undefined) {
      this.#endKeepAlive = keepAlive()
    } else if (this.#waiters.length === 0 && this.#endKeepAlive !== undefined) {
      this.#endKeepAlive()
      this.#endKeepAlive = undefined
    }
  }
}

/**
 * Views of a burst as the native reader hands it over: one buffer holding the frames
 * (`dataLength` bytes from 0), then their `count` lengths as native-endian `u32` from the
 * next multiple of 4, then (`hasVnet`) their 10-byte virtio-net headers
 * (`pltap_core::reader::PackedLayout`). No copy unless the lengths are misaligned.
 * @internal
 */
export function unpackBurst(
  packed: Uint8Array,
  dataLength: number,
  count: number,
  hasVnet: boolean,
): { data: Buffer; lengths: Uint32Array; vnet: Buffer | null } {
  const lengthsAt = (dataLength + 3) & ~3
  const vnetAt = lengthsAt + 4 * count
  const { buffer, byteOffset } = packed
  const data = Buffer.from(buffer, byteOffset, dataLength)
  const lengths =
    (byteOffset + lengthsAt) % 4 === 0
      ? new Uint32Array(buffer, byteOffset + lengthsAt, count)
      : new Uint32Array(packed.slice(lengthsAt, vnetAt).buffer)
  const vnet = hasVnet ? Buffer.from(buffer, byteOffset + vnetAt, 10 * count) : null
  return { data, lengths, vnet }
}

/** Rethrows `err` from a microtask: an uncaught exception that leaves the caller's state consistent. */
function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err
  })
}

/** Both `a` and `b`, in that order. */
function chain(a: () => void, b: () => void): () => void {
  return () => {
    a()
    b()
  }
}
