/**
 * The public types of {@link Netdev}: its options, configuration, flags, counters and
 * events. Re-exported by the package entry; the class itself is in `ts/netdev.ts`.
 * @module
 */

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
  /** The kernel shows different flags or address than before. */
  change: [NetdevChange]
}
