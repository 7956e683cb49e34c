import { EventEmitter } from 'node:events'
import { isSharedArrayBuffer } from 'node:util/types'
import { type NativeNetdev, type NativeSnapshot, openNetdev } from '../binding.js'
import { closedError, fromNativeWire, native, nativeAsync, PltapError } from './errors.js'
import { Rx, type RxOptions } from './rx.js'
import * as v from './validate.js'

/**
 * Where a {@link Netdev}'s device comes from.
 *
 * @example
 * ```ts
 * await Netdev.open({ name: 'a', allocator: 'direct' })
 * await Netdev.open({ name: 'b', allocator: 'vsys', vsysRoot: '/vsys' })
 * await Netdev.open({ name: 'c', allocator: { fd: 7 }, packetInfo: true })
 * ```
 */
export type Allocator =
  /** `/dev/net/tun` in this process (needs `CAP_NET_ADMIN`). Link changes by ioctl. */
  | 'direct'
  /** A vsys helper's `fd_tuntap.control` under `vsysRoot`; link changes through its `vif_up`, `vif_down` and `promisc` scripts. */
  | 'vsys'
  /** A tun/tap descriptor you already hold (it is duplicated: you keep yours). Link changes by ioctl. */
  | {
      /** The descriptor number, e.g. one received from a privileged process over a unix socket. */
      fd: number
    }

/**
 * Options of {@link Netdev.open}.
 *
 * @example
 * ```ts
 * const options: NetdevOptions = { name: 'uplink', allocator: 'direct', ifname: 'up%d', mode: 'tap', signal: AbortSignal.timeout(5000) }
 * const dev = await Netdev.open(options)
 * ```
 */
export interface NetdevOptions {
  /** The port name: your name for the device, unique among open `Netdev`s of this thread. */
  name: string
  /** Where the device comes from. */
  allocator: Allocator
  /** The vsys directory (default `/vsys`). Only with `allocator: 'vsys'`. */
  vsysRoot?: string
  /** Layer 2 (`'tap'`, the default) or layer 3 (`'tun'`). */
  mode?: 'tap' | 'tun'
  /** Kernel name or `%d` template for `allocator: 'direct'` (default `tap%d` / `tun%d`). */
  ifname?: string
  /**
   * Whether frames carry the 4-byte `tun_pi` header on the descriptor. pltap strips and
   * adds it for you. Default: `false` for direct devices, `true` (and required) for vsys
   * devices; must be given for `{ fd }`, because the kernel cannot tell.
   */
  packetInfo?: boolean
  /** Deadline for the helper and each vsys script, in ms (default 10000). */
  timeoutMs?: number
  /** Aborts the open: the promise rejects with `signal.reason` and nothing is left open. */
  signal?: AbortSignal
}

/**
 * The port's configuration, as in the original's `local_ip` / `local_netmask` options.
 *
 * @example
 * ```ts
 * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
 * const { localIp, localNetmask } = dev.getConfig()
 * ```
 */
export interface NetdevConfig {
  /** The IPv4 address of the device (dotted quad). */
  localIp?: string
  /** Its prefix length (1 to 32), reported back exactly as given. */
  localNetmask?: number
}

/**
 * Interface flags as last observed from the kernel.
 *
 * @example
 * ```ts
 * if (!dev.flags.up) await dev.up()
 * ```
 */
export interface NetdevFlags {
  /** Administratively up (`IFF_UP`). */
  up: boolean
  /** Promiscuous (`IFF_PROMISC`). */
  promisc: boolean
  /** Operationally up (`IFF_RUNNING`). */
  running: boolean
}

/**
 * The payload of the `'change'` event.
 *
 * @example
 * ```ts
 * dev.on('change', ({ flags, address, changeSeq }) => console.log(changeSeq, flags.up, address))
 * ```
 */
export interface NetdevChange {
  /** The new flags. */
  flags: NetdevFlags
  /** The primary IPv4 address as `a.b.c.d/len`, if any. */
  address: string | null
  /** The new {@link Netdev.changeSeq}. */
  changeSeq: number
}

/**
 * Packet and byte counters, from the port's point of view (rx = read from the device).
 *
 * @example
 * ```ts
 * const { port } = dev.stats()
 * console.log(`${port.rxPackets} frames in, ${port.txPackets} out`)
 * ```
 */
export interface Counters {
  /** Frames received. */
  rxPackets: number
  /** Bytes received. */
  rxBytes: number
  /** Receive errors. */
  rxErrors: number
  /** Frames received but discarded. */
  rxDropped: number
  /** Frames sent. */
  txPackets: number
  /** Bytes sent. */
  txBytes: number
  /** Send errors. */
  txErrors: number
  /** Frames not sent because the queue was full. */
  txDropped: number
}

/**
 * Counters from {@link Netdev.stats}.
 *
 * @example
 * ```ts
 * const { port, kernel } = dev.stats()
 * if (kernel && kernel.rxDropped > 0) console.warn('the kernel dropped frames we did not read in time')
 * ```
 */
export interface NetdevStats {
  /** What this process read from and wrote to the device. */
  port: Counters
  /**
   * The kernel's interface counters seen from the port (rx and tx swapped, as Open
   * vSwitch does for tap devices: what the kernel transmits, the port receives), or
   * `null` when the interface is not visible from this network namespace.
   */
  kernel: Counters | null
}

/**
 * Events of a {@link Netdev}.
 *
 * @example
 * ```ts
 * dev.on('change', (change: NetdevEvents['change'][0]) => console.log(change.flags))
 * ```
 */
export interface NetdevEvents {
  /** The kernel shows different flags or address than before. */
  change: [NetdevChange]
}

/** A TypeError/RangeError with a Node-style `code` (argument errors are thrown synchronously). */
function argError(Ctor: typeof TypeError | typeof RangeError, code: string, message: string): Error {
  return Object.assign(new Ctor(message), { code })
}

const OPEN_KEYS = ['name', 'allocator', 'vsysRoot', 'mode', 'ifname', 'packetInfo', 'timeoutMs', 'signal'] as const
const registry = new Map<string, Netdev>()
/** Port names reserved by opens in progress. */
const opening = new Set<string>()

/**
 * A TAP (or TUN) device: the `pltap` netdev of sliver-openvswitch, for Node.js.
 *
 * Open it directly, through a PlanetLab-style vsys helper, or from a descriptor you
 * hold; configure it; send frames synchronously; receive them through {@link Rx}.
 * Link changes ({@link Netdev.up}, {@link Netdev.down}, {@link Netdev.setPromisc},
 * {@link Netdev.setConfig}) settle only once the kernel shows the change.
 *
 * Link operations act on this Netdev's own device only. Interfaces are addressed by name,
 * and a name can pass to another device once this one is deleted or renamed; so every link
 * operation first checks (on the descriptor) that the device still has its name and ifindex,
 * and otherwise fails with `ERR_PLTAP_DEVICE_GONE`, touching nothing.
 *
 * Close it with {@link Netdev.close} (or `await using`). A process with open devices
 * still exits normally; the device disappears with the process.
 *
 * @example
 * ```ts
 * import { Netdev } from 'pltap'
 *
 * await using dev = await Netdev.open({ name: 'port0', allocator: 'direct', ifname: 'pltap%d' })
 * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 }) // address, then UP
 * console.log(dev.realName, dev.etheraddr, dev.flags)
 * dev.on('change', (c) => console.log('now', c.flags))
 * ```
 */
export class Netdev extends EventEmitter<NetdevEvents> {
  #native: NativeNetdev
  #closed = false
  #rxs = new Set<Rx>()
  /**
   * What `flags`, `changeSeq` and `lastError` report: one snapshot of the native state,
   * replaced only in `#refresh()`, which also announces it as a `'change'`.
   */
  #state: NativeSnapshot
  /** `#state.lastError` decoded, once per failure (the same object while it is unchanged). */
  #lastError: PltapError | null
  #poll: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  /** The port name given to {@link Netdev.open}. */
  readonly name: string
  /** The kernel's interface name (the original's `netdev-pltap/get-tapname`). */
  readonly realName: string

  private constructor(name: string, nativeDev: NativeNetdev) {
    super()
    this.name = name
    this.#native = nativeDev
    this.realName = nativeDev.realName
    this.#state = nativeDev.snapshot()
    this.#lastError = fromNativeWire(this.#state.lastError)
    const untyped = this as EventEmitter
    untyped.on('newListener', (event: string | symbol) => {
      if (event === 'change') this.#startPolling()
    })
    untyped.on('removeListener', () => {
      if (this.listenerCount('change') === 0) this.#stopPolling()
    })
  }

  /**
   * Opens a device. Argument errors throw synchronously, before anything is created.
   *
   * @throws `TypeError` / `RangeError` for bad options (synchronously).
   * @throws {@link PltapError} (rejection) `EPERM`/`EACCES` without privileges, `ENOENT` /
   *   `ECONNREFUSED` when no vsys helper listens, `ERR_VSYS_REFUSED`, `ERR_VSYS_PROTOCOL`,
   *   `ERR_VSYS_TIMEOUT`, `ERR_PLTAP_NAME_IN_USE`; `signal.reason` when aborted.
   * @example
   * ```ts
   * // Unprivileged, through a helper (see `pltap vsysd`):
   * const dev = await Netdev.open({ name: 'p1', allocator: 'vsys', vsysRoot: '/vsys' })
   * // From a descriptor received from elsewhere:
   * const dev2 = await Netdev.open({ name: 'p2', allocator: { fd }, packetInfo: true })
   * ```
   */
  static open(options: NetdevOptions): Promise<Netdev> {
    v.checkObject('options', options)
    v.checkKnownKeys('options', options as unknown as Record<string, unknown>, OPEN_KEYS)
    v.checkPortName('options.name', options.name)
    const { allocator } = options
    let fd: number | undefined
    if (typeof allocator === 'object' && allocator !== null && !Array.isArray(allocator)) {
      v.checkKnownKeys('options.allocator', allocator as unknown as Record<string, unknown>, ['fd'])
      v.checkInt('options.allocator.fd', allocator.fd, 0, 2 ** 31 - 1)
      fd = allocator.fd
    } else {
      v.checkOneOf('options.allocator', allocator, ['direct', 'vsys'] as const, "'direct', 'vsys' or an object { fd }")
    }
    const kind = fd !== undefined ? 'fd' : (allocator as 'direct' | 'vsys')
    // Every option is either absent (undefined) or valid: null is never taken as absent.
    if (options.mode !== undefined) v.checkOneOf('options.mode', options.mode, ['tap', 'tun'] as const)
    const mode = options.mode ?? 'tap'
    if (options.vsysRoot !== undefined) {
      v.checkPath('options.vsysRoot', options.vsysRoot)
      if (kind !== 'vsys') throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.vsysRoot is only valid with allocator "vsys"')
    }
    if (options.ifname !== undefined) {
      v.checkIfname('options.ifname', options.ifname)
      if (kind !== 'direct') throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.ifname is only valid with allocator "direct"')
    }
    if (options.packetInfo !== undefined) v.checkBoolean('options.packetInfo', options.packetInfo)
    if (kind === 'vsys' && options.packetInfo === false) {
      throw argError(
        RangeError,
        'ERR_INVALID_ARG_VALUE',
        'options.packetInfo cannot be false with allocator "vsys": vsys devices always carry tun_pi',
      )
    }
    if (kind === 'fd' && options.packetInfo === undefined) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        'options.packetInfo is required with allocator { fd }: the kernel cannot tell whether tun_pi is on',
      )
    }
    if (options.timeoutMs !== undefined) v.checkInt('options.timeoutMs', options.timeoutMs, 1, 3_600_000)
    v.checkSignal('options.signal', options.signal)
    const { name, signal } = options
    if (registry.has(name) || opening.has(name)) {
      return Promise.reject(new PltapError('ERR_PLTAP_NAME_IN_USE', `a Netdev named ${JSON.stringify(name)} is already open`))
    }
    if (signal?.aborted) return Promise.reject(signal.reason)

    opening.add(name)
    const pending = nativeAsync(
      openNetdev({
        allocator: kind,
        fd,
        vsysRoot: options.vsysRoot ?? '/vsys',
        mode,
        ifname: options.ifname,
        packetInfo: options.packetInfo,
        timeoutMs: options.timeoutMs,
      }),
    )
    return new Promise<Netdev>((resolve, reject) => {
      let settled = false
      const onAbort = (): void => {
        settled = true
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      pending.then(
        (nativeDev) => {
          signal?.removeEventListener('abort', onAbort)
          opening.delete(name)
          if (settled) {
            nativeDev.close() // aborted meanwhile: leave nothing open
            return
          }
          const dev = new Netdev(name, nativeDev)
          registry.set(name, dev)
          resolve(dev)
        },
        (err: unknown) => {
          signal?.removeEventListener('abort', onAbort)
          opening.delete(name)
          if (!settled) reject(err)
        },
      )
    })
  }

  /**
   * The open device with this port name, if any.
   *
   * @example
   * ```ts
   * Netdev.get('port0')?.realName // 'tap0'
   * ```
   */
  static get(name: string): Netdev | undefined {
    v.checkPortName('name', name)
    return registry.get(name)
  }

  /** Whether {@link Netdev.close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  #check(): NativeNetdev {
    if (this.#closed) throw closedError(`Netdev ${this.name} (${this.realName})`)
    return this.#native
  }

  /** `'tap'` or `'tun'`. */
  get mode(): 'tap' | 'tun' {
    return native(() => this.#check().mode) as 'tap' | 'tun'
  }

  /** Whether the descriptor carries `tun_pi` (pltap strips and adds it for you either way). */
  get packetInfo(): boolean {
    return native(() => this.#check().packetInfo)
  }

  /** Whether link changes go through vsys scripts (`allocator: 'vsys'`). */
  get usesVsys(): boolean {
    return this.#check().usesVsys
  }

  /**
   * The configuration set with {@link Netdev.setConfig}.
   *
   * @example
   * ```ts
   * dev.getConfig() // { localIp: '198.18.0.1', localNetmask: 24 }
   * ```
   */
  getConfig(): NetdevConfig {
    this.#check()
    return { ...this.#config }
  }

  #config: NetdevConfig = {}

  /**
   * Sets `localIp` and/or `localNetmask` (omitted fields keep their value). Once both are
   * set the device is brought up with that address, as in the original: through `vif_up`
   * under vsys, by ioctl otherwise. Changing the address of an UP device re-applies it.
   * The promise settles when the kernel shows the result.
   *
   * @throws `TypeError` / `RangeError` synchronously for a bad address or prefix.
   * @throws {@link PltapError} (rejection) `ERR_VSYS_SCRIPT` with the script's `reply`, `ERR_VSYS_TIMEOUT`,
   *   `ERR_PLTAP_DEVICE_GONE` once the device is deleted or renamed, OS errors.
   * @example
   * ```ts
   * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
   * ```
   */
  setConfig(config: NetdevConfig): Promise<void> {
    v.checkObject('config', config)
    v.checkKnownKeys('config', config as Record<string, unknown>, ['localIp', 'localNetmask'])
    if (config.localIp !== undefined) v.checkIpv4('config.localIp', config.localIp)
    if (config.localNetmask !== undefined) v.checkPrefix('config.localNetmask', config.localNetmask)
    const next = { ...this.#config, ...config }
    try {
      const nativeDev = this.#check()
      native(() => nativeDev.setConfig(next.localIp, next.localNetmask))
    } catch (err) {
      return Promise.reject(err) // a closed device rejects, like every other failure here
    }
    this.#config = next
    return this.#sync()
  }

  /**
   * Flags as last observed (refreshed by every link change and, while there are
   * `'change'` listeners, polled every 250 ms).
   *
   * `flags`, {@link Netdev.changeSeq} and {@link Netdev.lastError} come from one snapshot,
   * taken on this thread at the moment its `'change'` is emitted: they never run ahead of
   * the events (a background retry's result shows up with its `'change'`, not before),
   * and inside a `'change'` listener they agree with the event.
   *
   * @example
   * ```ts
   * dev.on('change', (c) => console.assert(dev.flags.up === c.flags.up))
   * ```
   */
  get flags(): NetdevFlags {
    this.#check()
    const o = this.#state.observed
    return { up: o.up, promisc: o.promisc, running: o.running }
  }

  /** A counter that moves whenever the observed flags or address change; never 0. Same snapshot as {@link Netdev.flags}. */
  get changeSeq(): number {
    this.#check()
    return this.#state.changeSeq
  }

  /**
   * The last failure of a link change, or `null` once one succeeds or the kernel is seen
   * in the wanted state (whoever brought it there). After a failure the change is retried
   * in the background with exponential backoff (200 ms doubling up to 30 s) until it
   * succeeds, another change is asked for, or the device closes. Same snapshot as
   * {@link Netdev.flags}.
   *
   * @example
   * ```ts
   * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 }).catch(() => {})
   * if (dev.lastError) console.warn('still trying:', dev.lastError.code, dev.lastError.message)
   * ```
   */
  get lastError(): PltapError | null {
    this.#check()
    return this.#lastError
  }

  /**
   * Brings the interface up: `vif_up` under vsys (needs {@link Netdev.setConfig} first),
   * `SIOCSIFFLAGS` otherwise. Settles when the kernel shows it UP.
   *
   * @throws {@link PltapError} `ERR_PLTAP_NOT_CONFIGURED` under vsys without an address; `ERR_VSYS_SCRIPT`;
   *   `ERR_PLTAP_DEVICE_GONE` once the device is deleted or renamed; OS errors.
   * @example
   * ```ts
   * await dev.up()
   * ```
   */
  up(): Promise<void> {
    return this.#want(() => this.#check().setDesiredUp(true))
  }

  /**
   * Brings the interface down (`vif_down` under vsys). Settles when the kernel shows it down.
   *
   * @example
   * ```ts
   * await dev.down()
   * ```
   */
  down(): Promise<void> {
    return this.#want(() => this.#check().setDesiredUp(false))
  }

  /**
   * Turns promiscuous mode on or off (`promisc` under vsys, which needs the address set).
   *
   * @example
   * ```ts
   * await dev.setPromisc(true)
   * ```
   */
  setPromisc(on: boolean): Promise<void> {
    v.checkBoolean('on', on)
    return this.#want(() => this.#check().setDesiredPromisc(on))
  }

  /** Records a wanted link state and syncs; failures (e.g. `ERR_PLTAP_CLOSED`) reject. */
  #want(set: () => void): Promise<void> {
    try {
      native(set)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#sync()
  }

  async #sync(): Promise<void> {
    const nativeDev = this.#native
    this.#cancelRetry()
    try {
      const warnings = await nativeAsync(nativeDev.reconcile())
      for (const w of warnings) process.emitWarning(w, { code: 'PLTAP_VSYS_OUTPUT', detail: `vsys reply on ${this.realName}` })
    } catch (err) {
      this.#scheduleRetry()
      throw err
    } finally {
      if (!this.#closed) this.#refresh()
    }
  }

  /**
   * After a failed link change the desired state stays wanted: retry in the background
   * with exponential backoff (200 ms doubling to 30 s, kept in the native reconciler)
   * until it succeeds, a new change is asked for, or the device closes. The timer does
   * not keep the process alive; {@link Netdev.lastError} tells the last failure.
   */
  #scheduleRetry(): void {
    if (this.#closed) return
    const delay = this.#native.retryInMs()
    if (delay === null) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      this.#sync().catch(() => {}) // a further failure schedules the next retry
    }, delay)
    this.#retry.unref()
  }

  #cancelRetry(): void {
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
  }

  /**
   * Re-reads the kernel state, takes the new snapshot and emits `'change'` if the
   * observed state moved since the last one: the only place the snapshot changes.
   */
  #refresh(): void {
    try {
      this.#native.refresh()
    } catch {
      // The interface may have vanished (the next call will say so); the snapshot is
      // still taken, for the failure that a sync may just have recorded.
    }
    const prev = this.#state
    const next = this.#native.snapshot()
    this.#state = next
    if (next.lastError !== prev.lastError) this.#lastError = fromNativeWire(next.lastError)
    if (next.changeSeq !== prev.changeSeq) {
      const o = next.observed
      this.emit('change', {
        flags: { up: o.up, promisc: o.promisc, running: o.running },
        address: o.address != null ? `${o.address}/${o.prefix}` : null,
        changeSeq: next.changeSeq,
      })
    }
  }

  #startPolling(): void {
    if (this.#poll !== undefined || this.#closed) return
    this.#poll = setInterval(() => this.#refresh(), 250)
    this.#poll.unref()
  }

  #stopPolling(): void {
    if (this.#poll !== undefined) clearInterval(this.#poll)
    this.#poll = undefined
  }

  /** The MAC address (`'02:ab:...'`), read on the descriptor (works before the interface is visible). */
  get etheraddr(): string {
    return native(() => this.#check().hwaddr())
  }

  /**
   * Sets the MAC address (on the descriptor, so it also works under vsys).
   *
   * @throws `TypeError` synchronously for a malformed or multicast address.
   * @throws {@link PltapError} (rejection) `ENOTSUP` on a TUN device, which has no MAC.
   * @example
   * ```ts
   * await dev.setEtheraddr('02:00:5e:10:00:01')
   * ```
   */
  setEtheraddr(mac: string): Promise<void> {
    v.checkMac('mac', mac)
    try {
      native(() => this.#check().setHwaddr(mac))
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** The MTU (`SIOCGIFMTU`). */
  get mtu(): number {
    return native(() => this.#check().mtu())
  }

  /**
   * Sets the MTU (`SIOCSIFMTU`; needs `CAP_NET_ADMIN` in the device's namespace).
   *
   * @example
   * ```ts
   * dev.setMtu(9000)
   * ```
   */
  setMtu(mtu: number): void {
    v.checkInt('mtu', mtu, 68, 65535)
    native(() => this.#check().setMtu(mtu))
  }

  /** The interface index (`SIOCGIFINDEX`). */
  get ifindex(): number {
    return native(() => this.#check().ifindex())
  }

  /**
   * The port's counters and the kernel's.
   *
   * @example
   * ```ts
   * const { port, kernel } = dev.stats()
   * console.log(port.txPackets, kernel?.rxPackets)
   * ```
   */
  stats(): NetdevStats {
    const s = native(() => this.#check().stats())
    return { port: s.port, kernel: s.kernel ?? null }
  }

  /**
   * Writes one frame now. Synchronous; the `tun_pi` header, if any, is added for you.
   * Returns `false` when the kernel cannot take it (queue full), `true` otherwise.
   * Like Node's own I/O, a frame is any `ArrayBufferView` (a `Buffer`, any TypedArray, a
   * `DataView`), from any realm (`vm`, a worker), taken as its bytes.
   *
   * @throws `TypeError` / `RangeError` for a non-buffer or a length outside 1..65535.
   * @throws {@link PltapError} `EIO` while the interface is down, `EBADFD` when the device is gone, `ERR_PLTAP_CLOSED`.
   * @example
   * ```ts
   * if (!dev.send(frame)) await dev.write(frame)
   * ```
   */
  send(frame: ArrayBufferView): boolean {
    const bytes = v.toFrame('frame', frame)
    return native(() => this.#check().send(bytes))
  }

  /**
   * Writes frames in order until one does not fit; returns how many were written. An
   * error on the first frame is thrown; after that the count so far is returned. Frames
   * are `ArrayBufferView`s, as for {@link Netdev.send}.
   *
   * @example
   * ```ts
   * const n = dev.sendBatch([f1, f2, f3])
   * ```
   */
  sendBatch(frames: readonly ArrayBufferView[]): number {
    if (!Array.isArray(frames))
      throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "frames" argument must be an array of Buffer, TypedArray, or DataView')
    let list = frames as readonly Uint8Array[]
    for (let i = 0; i < list.length; i++) {
      const f = list[i]
      if (f instanceof Uint8Array && f.length > 0 && f.length <= 65535) continue // the common case, as is
      const bytes = v.toFrame(`frames[${i}]`, f)
      if (list === frames)
        list = list.slice() // the caller's array stays untouched
      ;(list as Uint8Array[])[i] = bytes
    }
    const nativeDev = this.#check() // a closed device throws, even for an empty batch
    if (list.length === 0) return 0
    if (list.length === 1) return native(() => (nativeDev.send(list[0]!) ? 1 : 0))
    // Frames that sit back to back in one ArrayBuffer (frames from one Rx burst do) go down
    // as one view, without a copy; others are packed with one memcpy. Either way: one call.
    const first = list[0]!
    let end = first.byteOffset
    let contiguous = true
    const lengths = new Uint32Array(list.length)
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!
      lengths[i] = f.length
      if (contiguous && (f.buffer !== first.buffer || f.byteOffset !== end)) contiguous = false
      end = f.byteOffset + f.length
    }
    const data = contiguous ? new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset) : Buffer.concat(list as Uint8Array[])
    return native(() => nativeDev.sendPacked(data, lengths))
  }

  /**
   * Writes frames packed back to back in `data` (frame `i` is `lengths[i]` bytes), in
   * order, until one does not fit; returns how many were written. One native call and no
   * per-frame objects: the counterpart of {@link Rx.readPacked}. An error on the first
   * frame is thrown; after that the count so far is returned.
   *
   * `data` is any `ArrayBufferView` (as for {@link Netdev.send}), `lengths` a `Uint32Array`,
   * either from any realm.
   *
   * @throws `TypeError` / `RangeError` if a length is outside 1..65535 or they do not add up to `data.byteLength`.
   * @example
   * ```ts
   * const { data, lengths } = await rxA.readPacked()
   * const sent = devB.sendPacked(data, lengths)
   * ```
   */
  sendPacked(data: ArrayBufferView, lengths: Uint32Array): number {
    const bytes = v.toBytes('data', data)
    // Lengths on memory another thread can change (a SharedArrayBuffer) or on a resizable
    // buffer are copied first, so that the checks below hold for the values sent. (The
    // addon takes its own snapshot as well.)
    let lens = v.toUint32Array('lengths', lengths)
    if (isSharedArrayBuffer(lens.buffer) || (lens.buffer as { resizable?: boolean }).resizable === true) lens = lens.slice()
    let total = 0
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i]!
      if (len === 0 || len > 65535) v.checkInt(`lengths[${i}]`, len, 1, 65535)
      total += len
    }
    if (total !== bytes.length) {
      throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The "lengths" add up to ${total}, but "data" holds ${bytes.length} bytes`)
    }
    const nativeDev = this.#check()
    if (lens.length === 0) return 0
    return native(() => nativeDev.sendPacked(bytes, lens))
  }

  /**
   * Writes one frame, waiting for room if the kernel queue is full (the original's
   * `send_wait`). The frame is any `ArrayBufferView`, as for {@link Netdev.send}.
   *
   * @example
   * ```ts
   * await dev.write(frame)
   * ```
   */
  write(frame: ArrayBufferView, options: { signal?: AbortSignal } = {}): Promise<void> {
    const bytes = v.toFrame('frame', frame)
    v.checkObject('options', options)
    v.checkSignal('options.signal', options.signal)
    return this.#write(bytes, options)
  }

  async #write(frame: Uint8Array, options: { signal?: AbortSignal }): Promise<void> {
    for (;;) {
      options.signal?.throwIfAborted()
      if (this.send(frame)) return
      await nativeAsync(this.#check().waitWritable(100))
    }
  }

  /**
   * Opens a receive queue. Several may be open; each frame goes to one of them. The
   * queue is bounded in frames (`highWaterMark`) and in bytes (`highWaterMarkBytes`); see
   * {@link RxOptions}.
   *
   * @throws `TypeError` / `RangeError` for bad options; {@link PltapError} `ERR_PLTAP_CLOSED`.
   * @example
   * ```ts
   * const rx = dev.rxOpen({ batch: 128 })
   * const frame = await rx.read()
   * ```
   */
  rxOpen(options: RxOptions = {}): Rx {
    v.checkObject('options', options)
    v.checkKnownKeys('options', options as Record<string, unknown>, ['batch', 'highWaterMark', 'highWaterMarkBytes'])
    if (options.batch !== undefined) v.checkInt('options.batch', options.batch, 1, 1024)
    if (options.highWaterMark !== undefined) v.checkInt('options.highWaterMark', options.highWaterMark, 16, 1_000_000)
    if (options.highWaterMarkBytes !== undefined) v.checkInt('options.highWaterMarkBytes', options.highWaterMarkBytes, 65536, 2 ** 30)
    const nativeDev = this.#check()
    const rx = new Rx({ native: nativeDev, realName: this.realName, onClose: (r) => this.#rxs.delete(r) }, options)
    this.#rxs.add(rx)
    return rx
  }

  /**
   * Discards every frame queued in the kernel for this device. Returns how many.
   *
   * @example
   * ```ts
   * dev.drain()
   * ```
   */
  drain(): number {
    return native(() => this.#check().drain())
  }

  /**
   * Closes every {@link Rx}, then the device (which disappears unless another process
   * holds it). Under vsys, if the device was brought up with `vif_up`, `vif_down` runs
   * first so that the helper can remove what it set up for it, unless the device is no
   * longer this Netdev's (deleted or renamed: its name may be another device's); a failure
   * or skip there is reported as a process warning, not as a rejection. Idempotent: later calls resolve at once. Every other method then throws
   * `ERR_PLTAP_CLOSED`.
   *
   * @example
   * ```ts
   * await dev.close()
   * dev.closed // true
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopPolling()
    this.#cancelRetry()
    await Promise.all([...this.#rxs].map((rx) => rx.close()))
    if (this.#native.usesVsys) {
      // Let the helper undo what vif_up set up (the original never did: defect A11), but
      // only on a device that is still ours: its name may be another device's by now.
      try {
        const warning = await nativeAsync(this.#native.vifDownIfUp())
        if (warning) process.emitWarning(warning, { code: 'PLTAP_VSYS_OUTPUT', detail: `vif_down reply on ${this.realName}` })
      } catch (err) {
        const gone = err instanceof PltapError && err.code === 'ERR_PLTAP_DEVICE_GONE'
        const what = gone ? 'skipped' : 'failed'
        process.emitWarning(`vif_down on close of ${this.realName} ${what}: ${(err as Error).message}`, { code: 'PLTAP_VSYS_RELEASE' })
      }
    }
    this.#native.close()
    if (registry.get(this.name) === this) registry.delete(this.name)
  }

  /** Same as {@link Netdev.close}. @hidden */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
