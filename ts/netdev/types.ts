/**
 * The public types of {@link Netdev}: its options, configuration, flags, counters and
 * events. Re-exported by the package entry; the class itself is in `ts/netdev.ts`.
 * @module
 */

import type { DeviceGoneReason, PltapError } from '../errors.js'
import type { OffloadOptions, OffloadStats } from './offload.js'

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
  /**
   * How many queues to open (1 to 256, default 1). More than 1 creates the device with
   * the kernel's `IFF_MULTI_QUEUE` and opens that many descriptors, each a
   * {@link NetdevQueue} (`dev.queue(i)`) that a `worker_thread` can take over; the kernel
   * spreads flows across them. With `{ fd }` the descriptor is queue 0 and its device must
   * be multi-queue; with `'vsys'` only 1 (the helper hands over one plain descriptor).
   *
   * @example
   * ```ts
   * const dev = await Netdev.open({ name: 'mq', allocator: 'direct', queues: 2 })
   * ```
   */
  queues?: number
  /**
   * Create the device with `IFF_MULTI_QUEUE` even with one queue, so that
   * {@link Netdev.attachQueue} can add queues later (implied by `queues > 1`). Only with
   * `allocator: 'direct'`.
   */
  multiQueue?: boolean
  /**
   * Make the device persistent (`TUNSETPERSIST`): it stays after the Netdev closes (and the
   * process exits), for `owner` / `group` to attach to later without privileges. Delete it
   * with `ip link delete NAME`, or open it again with `persist: false` and close it.
   * `false` clears persistence of a device reopened by name. Not with `allocator: 'vsys'`.
   */
  persist?: boolean
  /** The only user allowed to attach to the device (`TUNSETOWNER`), e.g. `1000`. Not with vsys. */
  owner?: number
  /** The group allowed to attach to the device (`TUNSETGROUP`). Not with vsys. */
  group?: number
  /**
   * virtio-net header offload (`IFF_VNET_HDR` + `TUNSETOFFLOAD`): the kernel hands over and
   * takes TCP super-frames of up to 64 KiB, one read or write for ~45 segments. Default
   * `false`: today's behaviour. `true` is `{}`; see {@link OffloadOptions}. With
   * `allocator: 'vsys'` the helper must know the `fd_tuntap` flags extension (`pltap vsysd`
   * does); with `{ fd }` the descriptor must have been opened with `IFF_VNET_HDR`.
   */
  offload?: boolean | OffloadOptions
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
  /** Every IPv4 and IPv6 address as `addr/len`, IPv4 first (as {@link Netdev.addresses}). */
  addresses: string[]
  /** The MTU. */
  mtu: number
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
   * vSwitch does for tap devices: what the kernel transmits, the port receives), read over
   * rtnetlink in the device's namespace (so after {@link Netdev.moveToNetns} too), or `null`
   * when they cannot be read (a vsys device whose interface this process cannot see).
   */
  kernel: Counters | null
  /** The offload counters, or `null` for a device opened without offload. */
  offload: OffloadStats | null
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
  /** The kernel shows different flags, addresses or MTU than before, whoever changed them. */
  change: [NetdevChange]
  /** The device is gone: deleted, renamed, or moved out of the namespace by someone else. Emitted when it goes (a rename undone and done again is announced again). */
  removed: [NetdevRemoved]
}

/**
 * The payload of the `'removed'` event: the device was deleted (`ip link delete`), renamed, or
 * moved to another network namespace by someone else (a move through
 * {@link Netdev.moveToNetns} is followed, not a removal).
 *
 * @example
 * ```ts
 * dev.once('removed', ({ reason }) => console.log(`${dev.realName} was ${reason}`))
 * ```
 */
export interface NetdevRemoved {
  /** What happened: `'deleted'`, `'renamed'` or `'moved'`. */
  reason: DeviceGoneReason
  /** The `ERR_PLTAP_DEVICE_GONE` error every link operation now fails with. */
  error: PltapError
}

/**
 * A route through a {@link Netdev}'s device (the main table), for {@link Netdev.addRoute} and
 * {@link Netdev.removeRoute}.
 *
 * @example
 * ```ts
 * await dev.addRoute({ to: '198.18.8.0/24', via: '198.18.0.254', metric: 10 })
 * await dev.addRoute({ to: '2001:db8:8::/48' }) // on-link
 * ```
 */
export interface RouteOptions {
  /** The destination network, `addr/len` (IPv4 or IPv6; `0.0.0.0/0` / `::/0` for a default route). Host bits must be clear. */
  to: string
  /** The gateway, of the same family as `to`; omitted for an on-link route. */
  via?: string
  /** The metric (`RTA_PRIORITY`), 0 to 2^32-1. */
  metric?: number
}
