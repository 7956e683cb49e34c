/**
 * Multi-queue devices: {@link NetdevQueue} (one queue of a device, with its own descriptor
 * and the same frame I/O as a {@link Netdev}) and {@link QueueTransfer} (a queue handed to
 * a `worker_thread`).
 *
 * A device opened with `queues: N` (or `multiQueue: true`) is created with the kernel's
 * `IFF_MULTI_QUEUE`: each queue is its own descriptor with its own kernel ring, so N
 * threads can each read and write the device without sharing anything. For frames it
 * sends to the device, the kernel picks a queue per flow: the queue whose descriptor last
 * wrote a frame of that flow, or for a flow it has not seen, one by flow hash. So a thread
 * that both reads and writes a flow keeps it.
 *
 * Ownership of a transferred queue's descriptor, precisely:
 * - {@link NetdevQueue.transfer} duplicates the queue's descriptor into the returned
 *   {@link QueueTransfer}, which owns that duplicate. The queue object itself is done at
 *   once: its `Rx`s close, every method throws `ERR_PLTAP_CLOSED`, and (queues other than
 *   0) its own descriptor closes. The transferring thread never touches the duplicate
 *   again, except to revoke it (next point).
 * - {@link NetdevQueue.adopt} (in the receiving thread) takes the duplicate over: it
 *   claims the transfer with an atomic compare-and-swap on the transfer's shared state
 *   word, so at most one thread ever adopts it, and the adopted queue takes the
 *   duplicate over as its descriptor (closed at once if the checks fail). Closing the
 *   adopted queue closes it.
 * - A transfer never adopted is revoked (the same compare-and-swap, then the duplicate is
 *   closed) when the {@link Netdev} that made it closes, or, for a transfer made from an
 *   adopted queue, when the thread that made it exits. A later `adopt` then throws
 *   `ERR_PLTAP_CLOSED`. So every duplicate is closed exactly once, and none leaks.
 * @module
 */

import {
  adoptNetdevQueue,
  closeTransferredFd,
  type NativeNetdev,
  netdevQueueEnabled,
  netdevQueueIdentity,
  netdevTransferFd,
  setNetdevQueueEnabled,
} from '../../binding.js'
import { closedError, native, nativeAsync, PltapError } from '../errors.js'
import { Rx, type RxOptions } from '../rx.js'
import { checkBoolean, checkInt, checkObject, checkSignal, toFrame } from '../validate.js'
import { argError, checkRxOptions } from './options.js'
import { registerFramePort, revokeFramePort } from './ports.js'
import { packFrames, toFrameList, toPacked } from './tx.js'
import type { Counters, NetdevOptions } from './types.js'

/** The most queues a device can have (the kernel's `MAX_TAP_QUEUES`). */
export const MAX_QUEUES = 256

/** The transfer's state word: not adopted yet. */
const PENDING = 0
/** The transfer's state word: a thread adopted it (it owns the descriptor). */
const ADOPTED = 1
/** The transfer's state word: its maker revoked it (and closed the descriptor). */
const REVOKED = 2

const KIND = 'pltap.QueueTransfer'

/**
 * A queue handed from one thread to another: a plain, structured-clonable object to post
 * to a `worker_thread` (`postMessage` or `workerData`), where {@link NetdevQueue.adopt}
 * turns it into a {@link NetdevQueue}. Descriptors are process-wide, so the number means
 * the same descriptor in every thread of the process; it is of no use in another process.
 *
 * It owns its descriptor until adopted or revoked (see the module documentation): do not
 * close `fd` yourself, and adopt a transfer once.
 *
 * @example
 * ```ts
 * const worker = new Worker('./queue-worker.js', { workerData: dev.queue(1).transfer() })
 * // queue-worker.js:
 * const queue = NetdevQueue.adopt(workerData)
 * ```
 */
export interface QueueTransfer {
  /** Always `'pltap.QueueTransfer'`. */
  readonly kind: 'pltap.QueueTransfer'
  /** The descriptor number (owned by the transfer until adopted). */
  readonly fd: number
  /** The queue's index on its device ({@link NetdevQueue.index}). */
  readonly index: number
  /** The device's kernel name. */
  readonly name: string
  /** Its ifindex where it was opened (0 if not visible by name there); adoption checks it. */
  readonly ifindex: number
  /** `'tap'` or `'tun'`. */
  readonly mode: 'tap' | 'tun'
  /** Whether frames carry `tun_pi` on the descriptor. */
  readonly packetInfo: boolean
  /** One shared state word (pending, adopted, revoked), so that exactly one thread owns the descriptor. */
  readonly state: Int32Array
}

/** @internal What a queue's owner (its {@link Netdev}) hears about. */
export interface QueueOwner {
  /** The queue was transferred: the owner revokes `t` at its close unless adopted by then. */
  onTransfer(queue: NetdevQueue, t: QueueTransfer): void
}

/**
 * Revokes a transfer nobody adopted: closes its descriptor. `false` if it was adopted
 * (or revoked) already. @internal
 */
export function revokeTransfer(t: QueueTransfer): boolean {
  if (Atomics.compareExchange(t.state, 0, PENDING, REVOKED) !== PENDING) return false
  try {
    closeTransferredFd(t.fd)
  } catch {
    // Not open any more: nothing to release.
  }
  return true
}

/** Transfers made from adopted queues of this thread: revoked when the thread exits. */
let orphanTransfers: Set<QueueTransfer> | undefined

function revokeAtExit(t: QueueTransfer): void {
  if (orphanTransfers === undefined) {
    const set = new Set<QueueTransfer>()
    orphanTransfers = set
    process.once('exit', () => {
      for (const p of set) revokeTransfer(p)
    })
  }
  orphanTransfers.add(t)
}

/**
 * Checks `queues` and `multiQueue` of {@link NetdevOptions} for an allocator; returns the
 * queue count to open, or `undefined` for a plain (not multi-queue) open. @internal
 */
export function checkQueueOptions(options: NetdevOptions, kind: 'direct' | 'vsys' | 'fd'): number | undefined {
  const { queues, multiQueue } = options
  if (queues !== undefined) checkInt('options.queues', queues, 1, MAX_QUEUES)
  if (multiQueue !== undefined) {
    checkBoolean('options.multiQueue', multiQueue)
    if (kind !== 'direct' && multiQueue) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        'options.multiQueue is only valid with allocator "direct" (an adopted descriptor is multi-queue or not already)',
      )
    }
    if (!multiQueue && queues !== undefined && queues > 1) {
      throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.queues > 1 needs a multi-queue device: drop multiQueue: false')
    }
  }
  if (kind === 'vsys' && queues !== undefined && queues > 1) {
    throw argError(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      'options.queues must be 1 with allocator "vsys": the helper hands over one descriptor of a device without IFF_MULTI_QUEUE',
    )
  }
  if ((queues !== undefined && queues > 1) || multiQueue === true) return queues ?? 1
  return undefined
}

function checkTransfer(t: QueueTransfer): void {
  checkObject('transfer', t)
  if (t.kind !== KIND)
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "transfer" argument must be a QueueTransfer from NetdevQueue.transfer()')
  checkInt('transfer.fd', t.fd, 0, 2 ** 31 - 1)
  checkInt('transfer.index', t.index, 0, MAX_QUEUES - 1)
  checkInt('transfer.ifindex', t.ifindex, 0, 2 ** 32 - 1)
  if (typeof t.name !== 'string') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "transfer.name" property must be of type string')
  if (t.mode !== 'tap' && t.mode !== 'tun') throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', "transfer.mode must be 'tap' or 'tun'")
  checkBoolean('transfer.packetInfo', t.packetInfo)
  if (!(t.state instanceof Int32Array) || t.state.length !== 1 || !(t.state.buffer instanceof SharedArrayBuffer)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      'The "transfer.state" property must be an Int32Array of length 1 on a SharedArrayBuffer',
    )
  }
}

/**
 * One queue of a (multi-queue) device: its own descriptor, with the frame I/O of a
 * {@link Netdev} (`send`, `sendBatch`, `sendPacked`, `write`, `rxOpen`), its own counters,
 * and {@link NetdevQueue.transfer} to hand it to a `worker_thread`. Link operations
 * (address, up/down, MTU) stay on the {@link Netdev}: they act on the whole device.
 *
 * Get one from {@link Netdev.queue} or {@link Netdev.attachQueue}, or in a worker from
 * {@link NetdevQueue.adopt}. Queue 0 is the device's own descriptor: `dev.queue(0)` and
 * `dev` itself read and write through the same descriptor.
 *
 * @example
 * ```ts
 * import { Worker } from 'node:worker_threads'
 * import { Netdev } from 'pltap'
 *
 * const dev = await Netdev.open({ name: 'mq', allocator: 'direct', ifname: 'mq%d', queues: 2 })
 * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
 * for (let i = 0; i < dev.queueCount; i++) {
 *   new Worker('./queue-worker.js', { workerData: dev.queue(i).transfer() })
 * }
 * // queue-worker.js: an echo on its own queue
 * import { workerData } from 'node:worker_threads'
 * import { NetdevQueue } from 'pltap'
 * const queue = NetdevQueue.adopt(workerData)
 * for await (const frame of queue.rxOpen()) queue.send(frame)
 * ```
 */
export class NetdevQueue {
  /** The queue's index on its device: 0 for the device's own descriptor, then in the order queues were opened. */
  readonly index: number
  /** The device's kernel name (the {@link Netdev.realName} of its device). */
  readonly name: string
  readonly #native: NativeNetdev
  /** Whether closing this queue closes its descriptor (not for queue 0 of a Netdev, which the Netdev closes). */
  readonly #ownsNative: boolean
  readonly #owner: QueueOwner | undefined
  #state: 'open' | 'transferred' | 'closed' = 'open'
  #closing: Promise<void> | undefined
  readonly #rxs = new Set<Rx>()

  /** @internal Use {@link Netdev.queue}, {@link Netdev.attachQueue} or {@link NetdevQueue.adopt}. */
  constructor(nativeDev: NativeNetdev, index: number, owner: QueueOwner | undefined, ownsNative: boolean) {
    this.#native = nativeDev
    this.index = index
    this.name = nativeDev.realName
    this.#owner = owner
    this.#ownsNative = ownsNative
    registerFramePort(this, () => this.#live())
  }

  /**
   * Takes over a queue transferred from another thread ({@link NetdevQueue.transfer}):
   * claims the transfer (once: a second adopt of the same transfer throws), checks that
   * its descriptor is still a queue of the device it names (name, mode and ifindex),
   * and returns the queue, whose `Rx` runs on this thread's event loop. The queue takes the
   * transfer's descriptor over; if a check fails, it is closed.
   *
   * @throws `TypeError` for something that is not a `QueueTransfer`, or one already adopted.
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED` when its maker revoked it (its Netdev
   *   closed first); `ERR_PLTAP_DEVICE_GONE` when the device is deleted, renamed or moved.
   * @example
   * ```ts
   * import { parentPort } from 'node:worker_threads'
   * parentPort!.once('message', (t: QueueTransfer) => {
   *   const queue = NetdevQueue.adopt(t)
   *   queue.send(frame)
   * })
   * ```
   */
  static adopt(transfer: QueueTransfer): NetdevQueue {
    checkTransfer(transfer)
    const before = Atomics.compareExchange(transfer.state, 0, PENDING, ADOPTED)
    if (before === ADOPTED) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `This QueueTransfer of queue ${transfer.index} of ${transfer.name} was already adopted`,
      )
    }
    if (before !== PENDING) {
      throw new PltapError(
        'ERR_PLTAP_CLOSED',
        `queue ${transfer.index} of ${transfer.name} was revoked: its Netdev closed before it was adopted`,
      )
    }
    // Ours since the compare-and-swap: the native side takes the descriptor over (and
    // closes it if the checks fail).
    const identity = { name: transfer.name, ifindex: transfer.ifindex, mode: transfer.mode, packetInfo: transfer.packetInfo }
    const nativeDev = native(() => adoptNetdevQueue(transfer.fd, identity))
    return new NetdevQueue(nativeDev, transfer.index, undefined, true)
  }

  /** Whether the queue is done here: closed, or transferred to another thread. */
  get closed(): boolean {
    return this.#state !== 'open'
  }

  /** Whether {@link NetdevQueue.transfer} handed this queue to another thread. */
  get transferred(): boolean {
    return this.#state === 'transferred'
  }

  #live(): NativeNetdev {
    if (this.#state === 'transferred') throw closedError(`queue ${this.index} of ${this.name} (transferred)`)
    if (this.#state === 'closed') throw closedError(`queue ${this.index} of ${this.name}`)
    return this.#native
  }

  /** `'tap'` or `'tun'`. */
  get mode(): 'tap' | 'tun' {
    return native(() => this.#live().mode) as 'tap' | 'tun'
  }

  /** Whether the descriptor carries `tun_pi` (pltap strips and adds it for you either way). */
  get packetInfo(): boolean {
    return native(() => this.#live().packetInfo)
  }

  /**
   * What went through this queue: frames read and written on its descriptor (the
   * device's kernel counters, in {@link Netdev.stats}, cover all queues).
   *
   * @example
   * ```ts
   * const { rxPackets, txPackets } = queue.counters()
   * ```
   */
  counters(): Counters {
    return native(() => this.#live().stats()).port
  }

  /**
   * Whether the queue is enabled (see {@link NetdevQueue.setEnabled}), as the kernel reports it.
   *
   * @example
   * ```ts
   * if (!queue.enabled) queue.setEnabled(true)
   * ```
   */
  get enabled(): boolean {
    return native(() => netdevQueueEnabled(this.#live()))
  }

  /**
   * Enables or disables the queue (`TUNSETQUEUE`). A disabled queue stays open and keeps
   * its index; the kernel sends it no frames (they go to the other queues) and reading it
   * gives nothing. Sending on it fails.
   *
   * @throws {@link PltapError} `EINVAL` when it already is in that state, or the device is not multi-queue.
   * @example
   * ```ts
   * dev.queue(1).setEnabled(false) // its flows move to the other queues
   * ```
   */
  setEnabled(on: boolean): void {
    checkBoolean('on', on)
    native(() => setNetdevQueueEnabled(this.#live(), on))
  }

  /**
   * Writes one frame now on this queue, as {@link Netdev.send} does on the device.
   *
   * @example
   * ```ts
   * if (!queue.send(frame)) await queue.write(frame)
   * ```
   */
  send(frame: ArrayBufferView): boolean {
    const bytes = toFrame('frame', frame)
    return native(() => this.#live().send(bytes))
  }

  /**
   * Writes frames in order until one does not fit, as {@link Netdev.sendBatch}.
   *
   * @example
   * ```ts
   * const n = queue.sendBatch([f1, f2])
   * ```
   */
  sendBatch(frames: readonly ArrayBufferView[]): number {
    const list = toFrameList(frames)
    const nativeDev = this.#live()
    if (list.length === 0) return 0
    if (list.length === 1) return native(() => (nativeDev.send(list[0]!) ? 1 : 0))
    const { data, lengths } = packFrames(list)
    return native(() => nativeDev.sendPacked(data, lengths))
  }

  /**
   * Writes frames packed back to back, as {@link Netdev.sendPacked}: the counterpart of
   * {@link Rx.readPacked}.
   *
   * @example
   * ```ts
   * const { data, lengths } = await rxA.readPacked()
   * queueB.sendPacked(data, lengths)
   * ```
   */
  sendPacked(data: ArrayBufferView, lengths: Uint32Array): number {
    const packed = toPacked(data, lengths)
    const nativeDev = this.#live()
    if (packed.lengths.length === 0) return 0
    return native(() => nativeDev.sendPacked(packed.data, packed.lengths))
  }

  /**
   * Writes one frame, waiting for room if the kernel queue is full, as {@link Netdev.write}.
   *
   * @example
   * ```ts
   * await queue.write(frame, { signal: AbortSignal.timeout(1000) })
   * ```
   */
  async write(frame: ArrayBufferView, options: { signal?: AbortSignal } = {}): Promise<void> {
    const bytes = toFrame('frame', frame)
    checkObject('options', options)
    checkSignal('options.signal', options.signal)
    for (;;) {
      options.signal?.throwIfAborted()
      if (native(() => this.#live().send(bytes))) return
      await nativeAsync(this.#live().waitWritable(100))
    }
  }

  /**
   * Opens a receive queue on this queue's descriptor (the same {@link Rx} as
   * {@link Netdev.rxOpen}, on the event loop of the thread that calls it).
   *
   * @throws `TypeError` / `RangeError` for bad options; {@link PltapError} `ERR_PLTAP_CLOSED`.
   * @example
   * ```ts
   * await using rx = queue.rxOpen({ batch: 128 })
   * const { data, lengths } = await rx.readPacked()
   * ```
   */
  rxOpen(options: RxOptions = {}): Rx {
    checkRxOptions(options)
    const nativeDev = this.#live()
    const rx = new Rx({ native: nativeDev, realName: `${this.name} queue ${this.index}`, onClose: (r) => this.#rxs.delete(r) }, options)
    this.#rxs.add(rx)
    return rx
  }

  /**
   * Hands the queue to another thread: returns a {@link QueueTransfer} to post to it,
   * where {@link NetdevQueue.adopt} takes it over. This queue object is done at once: its
   * `Rx`s close and its methods throw `ERR_PLTAP_CLOSED`. For queue 0, the {@link Netdev}
   * keeps its descriptor for link operations but its own frame I/O (`send`, `rxOpen`, ...)
   * stops too, since it is the same queue. See the module documentation for who closes
   * what.
   *
   * @throws {@link PltapError} `ERR_PLTAP_CLOSED`; `ERR_PLTAP_DEVICE_GONE` when the device is not its own any more.
   * @example
   * ```ts
   * const worker = new Worker('./pump.js', { workerData: { queue: dev.queue(1).transfer() } })
   * ```
   */
  transfer(): QueueTransfer {
    const nativeDev = this.#live()
    const id = native(() => netdevQueueIdentity(nativeDev))
    const fd = native(() => netdevTransferFd(nativeDev))
    const t: QueueTransfer = Object.freeze({
      kind: KIND,
      fd,
      index: this.index,
      name: id.name,
      ifindex: id.ifindex,
      mode: id.mode as 'tap' | 'tun',
      packetInfo: id.packetInfo,
      state: new Int32Array(new SharedArrayBuffer(4)),
    })
    this.#state = 'transferred'
    revokeFramePort(this)
    this.#release()
    if (this.#owner !== undefined) this.#owner.onTransfer(this, t)
    else revokeAtExit(t)
    return t
  }

  /** Ends this object's use of the queue: its Rxs, and its descriptor if it owns it. */
  #release(): void {
    for (const rx of this.#rxs) void rx.close() // synchronous: the reader is joined at once
    if (this.#ownsNative) this.#native.close()
  }

  /**
   * Closes the queue's `Rx`s and its descriptor (the queue detaches from the device).
   * Queue 0's descriptor is the device's own and closes with the {@link Netdev}. After a
   * transfer this is a no-op: the queue is the adopter's. Idempotent.
   *
   * @example
   * ```ts
   * await queue.close()
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    if (this.#state !== 'open') return
    this.#state = 'closed'
    revokeFramePort(this)
    await Promise.all([...this.#rxs].map((rx) => rx.close()))
    if (this.#ownsNative) this.#native.close()
  }

  /** Same as {@link NetdevQueue.close}. @hidden */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
