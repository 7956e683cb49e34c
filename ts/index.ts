/**
 * # pltap
 *
 * Real Linux TAP and TUN devices for TypeScript services, with a Rust core. A
 * re-implementation for Node.js of the `pltap` netdev of sliver-openvswitch (PlanetLab),
 * including devices handed over by a privileged vsys helper.
 *
 * - {@link Netdev}: open, configure and write to a device.
 * - {@link NetdevQueue}: one queue of a multi-queue device, which a `worker_thread` can take over.
 * - {@link Rx}: receive frames (batched off the JS thread, pulled with `read()` or `for await`).
 * - {@link PltapError}: every error code, in one place.
 *
 * @example
 * ```ts
 * import { Netdev } from 'pltap'
 *
 * await using dev = await Netdev.open({ name: 'port0', allocator: 'direct' })
 * await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
 * await using rx = dev.rxOpen()
 * for await (const frame of rx) dev.send(frame) // a (very) simple reflector
 * ```
 *
 * @module
 */

export type { DeviceGoneReason, ErrorCode, OffloadUnsupportedReason, PltapErrorCode, SystemErrorCode, VnetReason } from './errors.js'
export { PltapError } from './errors.js'
export type { OffloadOptions, OffloadState, OffloadStats, SendOptions, VnetHeader } from './netdev/offload.js'
export { MAX_SUPER_FRAME, VNET_HDR_LEN, vnetAt } from './netdev/offload.js'
export type { QueueTransfer } from './netdev/queue.js'
export { MAX_QUEUES, NetdevQueue } from './netdev/queue.js'
export type { QueueBridge, QueueBridgeCounters, QueueBridgeOptions, QueuePumpCounters } from './netdev/queue-bridge.js'
export { bridgeQueues, startQueueBridge } from './netdev/queue-bridge.js'
export type {
  Allocator,
  Counters,
  NetdevChange,
  NetdevConfig,
  NetdevEvents,
  NetdevFlags,
  NetdevOptions,
  NetdevRemoved,
  NetdevStats,
  RouteOptions,
} from './netdev/types.js'
export { Netdev } from './netdev.js'
export type { ConsumeOptions, ForwardCounters, PackedFrames, ReadBatchOptions, ReadOptions, RxOptions, RxWake } from './rx.js'
export { DEFAULT_WAKE, Rx } from './rx.js'
