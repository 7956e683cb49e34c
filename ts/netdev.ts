/**
 * The {@link Netdev} class. Its public types are in `netdev/types.ts`, the option checks in
 * `netdev/options.ts`, the link-state timers in `netdev/link.ts` and the batch packing in
 * `netdev/tx.ts`.
 * @module
 */

import { EventEmitter } from 'node:events'
import { attachNetdevQueue, type NativeNetdev, type NativeWritableWait, openNetdev, openNetdevQueues } from '../binding.js'
import type { DeviceGoneReason } from './errors.js'
import { closedError, native, nativeAsync, PltapError } from './errors.js'
import { LinkState } from './netdev/link.js'
import { applyLifetime, changeAddress, changeRoute, run, toNetnsTarget } from './netdev/net.js'
import {
  checkSendOptions,
  MAX_SUPER_FRAME,
  type OffloadState,
  type OffloadStats,
  type SendOptions,
  toPackedVnet,
} from './netdev/offload.js'
import { argError, checkConfig, checkRxOptions, toNativeOpenOptions } from './netdev/options.js'
import { registerFramePort, revokeFramePort } from './netdev/ports.js'
import { checkQueueOptions, NetdevQueue, type QueueTransfer, revokeTransfer } from './netdev/queue.js'
import { packFrames, toFrameList, toPacked } from './netdev/tx.js'
import type { NetdevConfig, NetdevEvents, NetdevFlags, NetdevOptions, NetdevStats, RouteOptions } from './netdev/types.js'
import { canUseLoop, Rx, type RxOptions } from './rx.js'
import { checkBoolean, checkInt, checkMac, checkObject, checkPortName, checkSignal, toBytes, toFrame } from './validate.js'

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
  readonly #native: NativeNetdev
  /** Set first thing in `close()`: from then on every method throws `ERR_PLTAP_CLOSED`. */
  #closed = false
  /** The close under way or done: every `close()` returns it. */
  #closing: Promise<void> | undefined
  readonly #rxs = new Set<Rx>()
  /** `write()`s waiting for room on the event loop, and how each ends its wait (see `#writable`). */
  readonly #writeWaits = new Map<NativeWritableWait, () => void>()
  /** The snapshot `flags`, `changeSeq` and `lastError` report, renewed by the kernel's announcements. */
  readonly #link: LinkState
  /** What {@link Netdev.setConfig} set (the facade's copy, for {@link Netdev.getConfig}). */
  #config: NetdevConfig = {}
  /** Where {@link Netdev.moveToNetns} last moved the device (`null`: where it was opened). */
  #netns: string | number | null = null
  /** The port name given to {@link Netdev.open}. */
  readonly name: string
  /** The kernel's interface name (the original's `netdev-pltap/get-tapname`). */
  readonly realName: string
  /** The device's queues: 0 is its own descriptor (see {@link Netdev.queue}). */
  readonly #queues: NetdevQueue[] = []
  /** Transfers made from its queues, revoked at close unless adopted by then. */
  readonly #transfers = new Set<QueueTransfer>()
  /** Set when queue 0 is transferred: the Netdev's own frame I/O stops (same descriptor). */
  #framesTransferred = false

  private constructor(name: string, nativeDev: NativeNetdev, queueNatives: readonly NativeNetdev[] = []) {
    super()
    this.name = name
    this.#native = nativeDev
    this.realName = nativeDev.realName
    for (const n of [nativeDev, ...queueNatives]) this.#queues.push(this.#newQueue(n))
    registerFramePort(this, () => this.#frames())
    this.#link = new LinkState(
      nativeDev,
      this.realName,
      (change) => this.emit('change', change),
      (removed) => this.emit('removed', removed),
    )
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
    const nativeOptions = toNativeOpenOptions(options)
    const queues = checkQueueOptions(options, nativeOptions.allocator as 'direct' | 'vsys' | 'fd')
    const { name, signal } = options
    if (registry.has(name) || opening.has(name)) {
      return Promise.reject(new PltapError('ERR_PLTAP_NAME_IN_USE', `a Netdev named ${JSON.stringify(name)} is already open`))
    }
    if (signal?.aborted) return Promise.reject(signal.reason)

    opening.add(name)
    const pending = nativeAsync(queues === undefined ? openNetdev(nativeOptions).then((d) => [d]) : openNetdevQueues(nativeOptions, queues))
    return new Promise<Netdev>((resolve, reject) => {
      let settled = false
      const onAbort = (): void => {
        settled = true
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      pending.then(
        ([nativeDev, ...queueNatives]) => {
          signal?.removeEventListener('abort', onAbort)
          opening.delete(name)
          if (settled) {
            for (const n of queueNatives) n.close()
            nativeDev!.close() // aborted meanwhile: leave nothing open
            return
          }
          try {
            applyLifetime(nativeDev!, options) // persist, owner, group
          } catch (err) {
            for (const n of queueNatives) n.close()
            nativeDev!.close()
            reject(err)
            return
          }
          const dev = new Netdev(name, nativeDev!, queueNatives)
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
    checkPortName('name', name)
    return registry.get(name)
  }

  /** Whether {@link Netdev.close} was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** The native handle of an open device; `ERR_PLTAP_CLOSED` once closed. */
  #live(): NativeNetdev {
    if (this.#closed) throw closedError(`Netdev ${this.name} (${this.realName})`)
    return this.#native
  }

  /** The native handle for frame I/O: also `ERR_PLTAP_CLOSED` once queue 0 was transferred. */
  #frames(): NativeNetdev {
    const nativeDev = this.#live()
    if (this.#framesTransferred) throw closedError(`frame I/O of Netdev ${this.name} (${this.realName}), whose queue 0 was transferred,`)
    return nativeDev
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
   * What offload negotiated, or `null` for a device opened without it (or with
   * `fallback: 'plain'` where offload was not available).
   *
   * @example
   * ```ts
   * const dev = await Netdev.open({ name: 'p', allocator: 'direct', offload: true })
   * dev.offload // { headerSize: 10, rx: { csum: true, tso4: true, ... }, deliver: 'split', ... }
   * ```
   */
  get offload(): OffloadState | null {
    const o = native(() => this.#live().offload)
    if (o == null) return null
    return { ...o, rx: { ...o.rx }, coalesce: o.coalesce === 'off' ? false : o.coalesce } as OffloadState
  }

  /**
   * The offload counters (as in {@link Netdev.stats}`().offload`), or `null` without
   * offload. Counted by this process, so unlike `stats()` this works even once the
   * interface was moved to another namespace.
   *
   * @example
   * ```ts
   * const o = dev.offloadStats()
   * if (o) console.log(`${o.coalesced} GSO writes made of ${o.coalescedSegments} frames`)
   * ```
   */
  offloadStats(): OffloadStats | null {
    const nativeDev = this.#live()
    return nativeDev.offload == null ? null : native(() => nativeDev.offloadStats())
  }

  /** Whether link changes go through vsys scripts (`allocator: 'vsys'`). */
  get usesVsys(): boolean {
    return native(() => this.#live().usesVsys)
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
    this.#live()
    return { ...this.#config }
  }

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
    checkConfig(config)
    const next = { ...this.#config, ...config }
    try {
      const nativeDev = this.#live()
      native(() => nativeDev.setConfig(next.localIp, next.localNetmask))
    } catch (err) {
      return Promise.reject(err) // a closed device rejects, like every other failure here
    }
    this.#config = next
    return this.#link.reconcile()
  }

  /**
   * Flags as last observed: refreshed by every link change and by the kernel's own
   * announcements (an rtnetlink subscription, no polling), so they are right after
   * `ip link set down` by someone else, with or without `'change'` listeners, and all
   * false once the device is gone.
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
    this.#live()
    const o = this.#link.snapshot.observed
    return { up: o.up, promisc: o.promisc, running: o.running }
  }

  /** A counter that moves whenever the observed flags, addresses or MTU change; never 0. Same snapshot as {@link Netdev.flags}. */
  get changeSeq(): number {
    this.#live()
    return this.#link.snapshot.changeSeq
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
    this.#live()
    return this.#link.lastError
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
    return this.#setDesired((nativeDev) => nativeDev.setDesiredUp(true))
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
    return this.#setDesired((nativeDev) => nativeDev.setDesiredUp(false))
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
    checkBoolean('on', on)
    return this.#setDesired((nativeDev) => nativeDev.setDesiredPromisc(on))
  }

  /** Records a desired link state and reconciles; failures (e.g. `ERR_PLTAP_CLOSED`) reject. */
  #setDesired(set: (nativeDev: NativeNetdev) => void): Promise<void> {
    try {
      native(() => set(this.#live()))
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#link.reconcile()
  }

  /** The MAC address (`'02:ab:...'`), read on the descriptor (works before the interface is visible). */
  get etheraddr(): string {
    return native(() => this.#live().hwaddr())
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
    checkMac('mac', mac)
    try {
      native(() => this.#live().setHwaddr(mac))
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** The MTU (`SIOCGIFMTU`). */
  get mtu(): number {
    return native(() => this.#live().mtu())
  }

  /**
   * Sets the MTU. On a direct or adopted device: `SIOCSIFMTU` (needs `CAP_NET_ADMIN` in the
   * device's namespace), done before this returns; a failure throws, and the returned
   * promise is already resolved. Under vsys it becomes `vif_up`'s `mtu=` option: if the
   * device is up through `vif_up`, `vif_up` runs again with it and the promise settles once
   * the kernel shows the new MTU (`ERR_VSYS_SCRIPT` otherwise); before that, it applies at
   * the next `vif_up`.
   *
   * @example
   * ```ts
   * dev.setMtu(9000) // direct: done already
   * await vsysDev.setMtu(1400) // through vif_up
   * ```
   */
  setMtu(mtu: number): Promise<void> {
    checkInt('mtu', mtu, 68, 65535)
    const nativeDev = this.#live()
    if (nativeDev.usesVsys) return this.#linkOptions(mtu, undefined)
    native(() => nativeDev.setMtu(mtu))
    return Promise.resolve()
  }

  /** `setLinkOptions`, with the script's warning as a process warning. */
  #linkOptions(mtu: number | undefined, txqlen: number | undefined): Promise<void> {
    return run(() => this.#live().setLinkOptions(mtu, txqlen)).then((warning) => {
      if (warning) process.emitWarning(warning, { code: 'PLTAP_VSYS_OUTPUT', detail: `vif_up reply on ${this.realName}` })
      this.#link.refreshNow()
    })
  }

  /**
   * Every IPv4 and IPv6 address of the device now (`RTM_GETADDR`), as `addr/len`, IPv4 first
   * and each family in the kernel's order (for IPv4, the primary address first). Includes
   * addresses others added and the kernel's own (an IPv6 link-local `fe80::/64` once UP).
   *
   * @throws {@link PltapError} `ERR_PLTAP_DEVICE_GONE`, `ERR_PLTAP_CLOSED`.
   * @example
   * ```ts
   * await dev.addAddress('2001:db8::1/64')
   * dev.addresses // ['198.18.0.1/24', '2001:db8::1/64', 'fe80::.../64']
   * ```
   */
  get addresses(): string[] {
    return native(() => this.#live().addresses())
  }

  /**
   * Adds an IPv4 or IPv6 address (`ip addr add CIDR dev NAME`). Several of each family may
   * be added; {@link Netdev.setConfig}'s address is the primary IPv4 one and stays its own.
   * Settles when the kernel has it.
   *
   * @throws `TypeError` (malformed) / `RangeError` (prefix too long) synchronously.
   * @throws {@link PltapError} (rejection) `EEXIST` if the device has it (`syscall:
   *   'rtnetlink(RTM_NEWADDR)'`), `EPERM` without `CAP_NET_ADMIN`, `ENOTSUP` under vsys,
   *   `ERR_PLTAP_DEVICE_GONE`.
   * @example
   * ```ts
   * await dev.addAddress('198.18.1.1/24')
   * await dev.addAddress('2001:db8::1/64')
   * ```
   */
  addAddress(cidr: string): Promise<void> {
    return changeAddress(() => this.#live(), true, cidr)
  }

  /**
   * Removes an address (`ip addr del`).
   *
   * @throws `TypeError` / `RangeError` synchronously for a bad CIDR.
   * @throws {@link PltapError} (rejection) `EADDRNOTAVAIL` if the device does not have it, `ENOTSUP` under vsys.
   * @example
   * ```ts
   * await dev.removeAddress('2001:db8::1/64')
   * ```
   */
  removeAddress(cidr: string): Promise<void> {
    return changeAddress(() => this.#live(), false, cidr)
  }

  /**
   * Adds a route through the device to the main table (`ip route add TO [via GW] [metric N]
   * dev NAME`). Without `via` the route is on-link.
   *
   * @throws `TypeError` / `RangeError` synchronously for a bad `to`, a `via` of the other family, a bad metric.
   * @throws {@link PltapError} (rejection) `EEXIST` if it is there, `ENETUNREACH` for a gateway the device
   *   cannot reach (`syscall: 'rtnetlink(RTM_NEWROUTE)'`), `EINVAL` for host bits in `to`,
   *   `ENETDOWN` while the device is down (IPv6), `ENOTSUP` under vsys.
   * @example
   * ```ts
   * await dev.addAddress('198.18.0.1/24')
   * await dev.up()
   * await dev.addRoute({ to: '198.18.8.0/24', via: '198.18.0.254' })
   * ```
   */
  addRoute(route: RouteOptions): Promise<void> {
    return changeRoute(() => this.#live(), true, route)
  }

  /**
   * Removes a route through the device (`ip route del`).
   *
   * @throws {@link PltapError} (rejection) `ESRCH` if there is no such route.
   * @example
   * ```ts
   * await dev.removeRoute({ to: '198.18.8.0/24', via: '198.18.0.254' })
   * ```
   */
  removeRoute(route: RouteOptions): Promise<void> {
    return changeRoute(() => this.#live(), false, route)
  }

  /**
   * Moves the device to another network namespace (`ip link set NAME netns X`), given by
   * path (`'/run/netns/X'`, `'/proc/PID/ns/net'`) or by an open descriptor of one (a number or
   * `{ fd }`; duplicated, you keep yours). The Netdev follows the device: link changes,
   * addresses, routes, {@link Netdev.stats} (kernel counters included) and the `'change'`
   * announcements act on it in its new namespace, and no `'removed'` is emitted for the move.
   * {@link Netdev.netns} tells where it went. Frames flow as before (the descriptor is the same).
   *
   * @throws `TypeError` synchronously for a bad target.
   * @throws {@link PltapError} (rejection) `ENOENT` for a missing path (`syscall: 'open'`), `EINVAL` if it is
   *   not a network namespace, `EEXIST` if the target has an interface of this name, `ENOTSUP`
   *   under vsys, `ERR_PLTAP_DEVICE_GONE`.
   * @example
   * ```ts
   * // after `ip netns add blue`
   * await dev.moveToNetns('/run/netns/blue')
   * await dev.addAddress('198.18.0.1/24') // in blue
   * ```
   */
  moveToNetns(target: string | number | { fd: number }): Promise<void> {
    const { path, fd } = toNetnsTarget(target)
    return run(() => this.#live().moveToNetns(path, fd)).then(() => {
      this.#netns = path ?? fd ?? null
      this.#link.refreshNow()
    })
  }

  /**
   * Where the device was last moved with {@link Netdev.moveToNetns} (the path or descriptor
   * number given), or `null` while it is in the namespace it was opened in.
   *
   * @example
   * ```ts
   * await dev.moveToNetns('/run/netns/blue')
   * dev.netns // '/run/netns/blue'
   * ```
   */
  get netns(): string | number | null {
    this.#live()
    return this.#netns
  }

  /**
   * Why the device is gone, or `null` while it is this Netdev's: `'deleted'` (e.g.
   * `ip link delete`), `'renamed'`, or `'moved'` (to another namespace, by someone else).
   * Set by the kernel's announcement, with the `'removed'` event, whether or not anyone
   * listens.
   *
   * @example
   * ```ts
   * dev.once('removed', () => console.log(dev.removed)) // 'deleted'
   * ```
   */
  get removed(): DeviceGoneReason | null {
    this.#live()
    return this.#link.removed
  }

  /**
   * Turns the carrier on or off (`TUNSETCARRIER`, Linux 5.0+, on the descriptor, so it works
   * under vsys too). While it is off an UP device shows `NO-CARRIER` and operstate `DOWN`,
   * and the kernel does not transmit through it.
   *
   * @example
   * ```ts
   * await dev.setCarrier(false) // simulate a cable pull
   * ```
   */
  setCarrier(on: boolean): Promise<void> {
    checkBoolean('on', on)
    return run(() => this.#live().setCarrier(on)).then(() => this.#link.refreshNow())
  }

  /**
   * Whether the device has carrier now (`IFF_LOWER_UP`).
   *
   * @example
   * ```ts
   * await dev.setCarrier(false)
   * dev.carrier // false
   * ```
   */
  get carrier(): boolean {
    return native(() => this.#live().linkInfo().carrier)
  }

  /**
   * The transmit queue length (`IFLA_TXQLEN`): for a TAP device, how many frames the
   * kernel queues for the reader before dropping.
   *
   * @example
   * ```ts
   * dev.txQueueLen // 1000
   * ```
   */
  get txQueueLen(): number {
    return native(() => this.#live().linkInfo().txqlen)
  }

  /**
   * Sets the transmit queue length (`ip link set NAME txqueuelen N`; `RTM_SETLINK`). Under
   * vsys it is `vif_up`'s `txqueuelen=` option (1 to 10000), applied as {@link Netdev.setMtu} is.
   *
   * @throws `RangeError` synchronously outside 0..2^32-1 (1..10000 under vsys).
   * @example
   * ```ts
   * await dev.setTxQueueLen(5000)
   * ```
   */
  setTxQueueLen(length: number): Promise<void> {
    checkInt('length', length, 0, 2 ** 32 - 1)
    let vsys: boolean
    try {
      vsys = this.#live().usesVsys
    } catch (err) {
      return Promise.reject(err)
    }
    if (vsys) checkInt('length', length, 1, 10000)
    return this.#linkOptions(undefined, length)
  }

  /** The interface index (`SIOCGIFINDEX`). */
  get ifindex(): number {
    return native(() => this.#live().ifindex())
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
    const nativeDev = this.#live()
    const s = native(() => nativeDev.stats())
    const offload = nativeDev.offload == null ? null : native(() => nativeDev.offloadStats())
    return { port: s.port, kernel: s.kernel ?? null, offload }
  }

  /**
   * Writes one frame now. Synchronous; the `tun_pi` header, if any, is added for you.
   * Returns `false` when the kernel cannot take it (queue full), `true` otherwise.
   * Like Node's own I/O, a frame is any `ArrayBufferView` (a `Buffer`, any TypedArray, a
   * `DataView`), from any realm (`vm`, a worker), taken as its bytes.
   *
   * @throws `TypeError` / `RangeError` for a non-buffer or a length outside 1..65535.
   * @throws {@link PltapError} `EIO` while the interface is down, `EBADFD` when the device is gone, `ERR_PLTAP_CLOSED`.
   * On an offload device, `send(superFrame, { gso, segmentSize })` writes one super-frame
   * you built (up to 65600 bytes; IP and L4 lengths cover the whole payload): pltap fills
   * its virtio-net header from the frame's own headers and validates it (a frame it cannot
   * segment is `ERR_PLTAP_VNET_HDR`), and the kernel segments it.
   *
   * @example
   * ```ts
   * if (!dev.send(frame)) await dev.write(frame)
   * dev.send(superFrame, { gso: 'tcp', segmentSize: 1448 }) // offload devices only
   * ```
   */
  send(frame: ArrayBufferView, options?: SendOptions): boolean {
    if (options === undefined) {
      const bytes = toFrame('frame', frame)
      return native(() => this.#frames().send(bytes))
    }
    const { gso, segmentSize } = checkSendOptions(options)
    const bytes = toBytes('frame', frame)
    if (bytes.length === 0 || bytes.length > MAX_SUPER_FRAME) checkInt('frame.length', bytes.length, 1, MAX_SUPER_FRAME)
    const nativeDev = this.#frames()
    if (nativeDev.offload == null) {
      throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.gso needs a device opened with offload')
    }
    return native(() => nativeDev.sendGso(bytes, gso, segmentSize))
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
    const list = toFrameList(frames)
    const nativeDev = this.#frames() // a closed device throws, even for an empty batch
    if (list.length === 0) return 0
    if (list.length === 1) return native(() => (nativeDev.send(list[0]!) ? 1 : 0))
    const { data, lengths } = packFrames(list)
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
   * On an offload device, `vnet` (10 bytes per frame, as `readPacked().vnet` of a
   * `deliver: 'super'` device gives it) sends each frame behind its header: a bridge between
   * offload devices is `b.sendPacked(data, lengths, vnet)`. Every header is validated natively
   * before the first byte of the burst is written: a bad one throws `ERR_PLTAP_VNET_HDR`
   * (with `frame`, `reason`, `value`) and nothing is written. Without `vnet`, plain frames
   * are coalesced into GSO writes per the device's `coalesce` option.
   *
   * @throws {@link PltapError} `ERR_PLTAP_VNET_HDR` for a malformed header (nothing written).
   * @example
   * ```ts
   * const { data, lengths } = await rxA.readPacked()
   * const sent = devB.sendPacked(data, lengths)
   * // between offload devices (deliver: 'super'):
   * const burst = await rxA.readPacked()
   * devB.sendPacked(burst.data, burst.lengths, burst.vnet)
   * ```
   */
  sendPacked(data: ArrayBufferView, lengths: Uint32Array, vnet?: Uint8Array): number {
    if (vnet !== undefined) {
      const p = toPackedVnet(data, lengths, vnet)
      const nativeDev = this.#live()
      if (nativeDev.offload == null) {
        throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'vnet headers need a device opened with offload')
      }
      if (p.lengths.length === 0) return 0
      return native(() => nativeDev.sendPackedVnet(p.data, p.lengths, p.vnet))
    }
    const packed = toPacked(data, lengths)
    const nativeDev = this.#frames()
    if (packed.lengths.length === 0) return 0
    return native(() => nativeDev.sendPacked(packed.data, packed.lengths))
  }

  /**
   * Writes one frame, waiting for room if the kernel queue is full (the original's
   * `send_wait`). The frame is any `ArrayBufferView`, as for {@link Netdev.send}. The wait
   * watches the device on this thread's event loop (no thread-pool work); closing the
   * device ends it (the write then rejects with `ERR_PLTAP_CLOSED`).
   *
   * @example
   * ```ts
   * await dev.write(frame)
   * ```
   */
  write(frame: ArrayBufferView, options: { signal?: AbortSignal } = {}): Promise<void> {
    const bytes = toFrame('frame', frame)
    checkObject('options', options)
    checkSignal('options.signal', options.signal)
    return this.#write(bytes, options)
  }

  async #write(frame: Uint8Array, options: { signal?: AbortSignal }): Promise<void> {
    for (;;) {
      options.signal?.throwIfAborted()
      if (this.send(frame)) return
      await this.#writable(options.signal)
    }
  }

  /** Resolves once the device may have room (or it closed); rejects when `signal` aborts. */
  #writable(signal: AbortSignal | undefined): Promise<void> {
    const nativeDev = this.#live()
    if (!canUseLoop()) return nativeAsync(nativeDev.waitWritable(100)).then(() => {})
    return new Promise<void>((resolve, reject) => {
      let wait: NativeWritableWait | undefined
      const end = (): void => {
        signal?.removeEventListener('abort', onAbort)
        if (wait !== undefined) this.#writeWaits.delete(wait)
      }
      const onAbort = (): void => {
        wait?.cancel()
        end()
        reject(signal?.reason)
      }
      const done = (): void => {
        end()
        resolve()
      }
      wait = native(() => nativeDev.watchWritable(done))
      this.#writeWaits.set(wait, () => {
        wait?.cancel()
        done()
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
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
    checkRxOptions(options)
    const nativeDev = this.#frames()
    const rx = new Rx({ native: nativeDev, realName: this.realName, onClose: (r) => this.#rxs.delete(r) }, options)
    this.#rxs.add(rx)
    return rx
  }

  /**
   * How many queues the device has here: 1 for a plain device, `queues` after
   * `Netdev.open({ queues })`, plus one per {@link Netdev.attachQueue}. Transferred and
   * closed queues keep their index and still count.
   *
   * @example
   * ```ts
   * const dev = await Netdev.open({ name: 'mq', allocator: 'direct', queues: 4 })
   * dev.queueCount // 4
   * ```
   */
  get queueCount(): number {
    this.#live()
    return this.#queues.length
  }

  /**
   * Queue `index` of the device (the same object every time). Queue 0 is the device's own
   * descriptor, which `dev.send` and `dev.rxOpen` use too; the others are descriptors of
   * their own (multi-queue devices only). Hand one to a worker with
   * {@link NetdevQueue.transfer}.
   *
   * @throws `RangeError` for an index outside `0..queueCount - 1`; {@link PltapError} `ERR_PLTAP_CLOSED`.
   * @example
   * ```ts
   * const rx1 = dev.queue(1).rxOpen()
   * dev.queue(1).send(frame)
   * ```
   */
  queue(index: number): NetdevQueue {
    this.#live()
    checkInt('index', index, 0, this.#queues.length - 1)
    return this.#queues[index]!
  }

  /**
   * Attaches one more queue to the device (`TUNSETIFF` with its name and
   * `IFF_MULTI_QUEUE` on a new descriptor; needs `CAP_NET_ADMIN`): it gets index
   * {@link Netdev.queueCount}. Before and after, the device is checked to be still this
   * Netdev's, and the new queue to be that device.
   *
   * @throws {@link PltapError} (rejection) `EINVAL` when the device is not multi-queue (open it with
   *   `queues` or `multiQueue: true`), `E2BIG` past 256 queues, `ERR_PLTAP_DEVICE_GONE`,
   *   `ERR_PLTAP_CLOSED`, `ERR_INVALID_ARG_VALUE` for a vsys device.
   * @example
   * ```ts
   * const dev = await Netdev.open({ name: 'mq', allocator: 'direct', multiQueue: true })
   * const q1 = await dev.attachQueue() // q1.index === 1
   * ```
   */
  async attachQueue(): Promise<NetdevQueue> {
    const nativeQueue = await nativeAsync(attachNetdevQueue(this.#live()))
    if (this.#closed) {
      nativeQueue.close() // closed meanwhile: leave nothing open
      throw closedError(`Netdev ${this.name} (${this.realName})`)
    }
    const queue = this.#newQueue(nativeQueue)
    this.#queues.push(queue)
    return queue
  }

  #newQueue(nativeDev: NativeNetdev): NetdevQueue {
    const owner = {
      onTransfer: (q: NetdevQueue, t: QueueTransfer): void => {
        this.#transfers.add(t)
        if (q.index !== 0) return
        this.#framesTransferred = true
        revokeFramePort(this)
        for (const rx of this.#rxs) void rx.close() // they would take the adopter's frames
      },
    }
    return new NetdevQueue(nativeDev, this.#queues.length, owner, nativeDev !== this.#native)
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
    return native(() => this.#frames().drain())
  }

  /**
   * Closes every {@link Rx}, then the device (which disappears unless another process
   * holds it). Under vsys, if the device was brought up with `vif_up`, `vif_down` runs
   * first so that the helper can remove what it set up for it, unless the device is no
   * longer this Netdev's (deleted or renamed: its name may be another device's); a failure
   * or skip there is reported as a process warning, not as a rejection. Every other method
   * then throws `ERR_PLTAP_CLOSED`.
   *
   * Idempotent: every call returns the same promise, so a second `close()` made while the
   * first still waits for `vif_down` (a signal handler racing an `await using` scope)
   * settles only once the device is closed.
   *
   * @example
   * ```ts
   * await dev.close()
   * dev.closed // true
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    revokeFramePort(this)
    this.#link.stop()
    for (const end of [...this.#writeWaits.values()]) end() // the writes retry and see the close
    await Promise.all([...this.#rxs].map((rx) => rx.close()))
    await Promise.all(this.#queues.map((q) => q.close()))
    for (const t of this.#transfers) revokeTransfer(t)
    this.#transfers.clear()
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
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
