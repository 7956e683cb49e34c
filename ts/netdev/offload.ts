/**
 * virtio-net header offload: the option and state types of `Netdev.open({ offload })`, their
 * checks, and {@link vnetAt}, the decoder of one `readPacked()` header.
 * @module
 */

import { isSharedArrayBuffer } from 'node:util/types'
import type { NativeOffloadOptions } from '../../binding.js'
import { checkInt, checkKnownKeys, checkObject, checkOneOf, toBytes, toUint32Array } from '../validate.js'
import { argError } from './options.js'

/** Size of one virtio-net header in `PackedFrames.vnet` and `sendPacked`'s `vnet`. */
export const VNET_HDR_LEN = 10

/** The largest (super-)frame on an offload device: 64 KiB of IP behind an Ethernet header with two VLAN tags. */
export const MAX_SUPER_FRAME = 65600

/**
 * Options of `offload` in {@link NetdevOptions}: `offload: true` is `{}` (all defaults).
 * The framing (a header before every frame) is fixed when the device is opened, so there is
 * no `'auto'`: you say what you want.
 *
 * @example
 * ```ts
 * // A bridge: pass super-frames through untouched.
 * const a = await Netdev.open({ name: 'a', allocator: 'direct', offload: { deliver: 'super' } })
 * // A service that wants ordinary frames (the default), with UDP segmentation too:
 * const b = await Netdev.open({ name: 'b', allocator: 'direct', offload: { rx: 'tso+uso' } })
 * ```
 */
export interface OffloadOptions {
  /**
   * What the kernel may hand over (`TUNSETOFFLOAD`): `'csum'` (partial checksums only),
   * `'tso'` (the default: CSUM|TSO4|TSO6|TSO_ECN, ECN dropped if refused) or `'tso+uso'`
   * (plus UDP segmentation).
   */
  rx?: 'csum' | 'tso' | 'tso+uso'
  /**
   * How received super-frames reach you: `'split'` (the default) splits them natively into
   * complete MTU-sized frames with valid checksums, so every read API behaves as without
   * offload; `'super'` hands them over as they came, with their headers in
   * `readPacked().vnet` (for bridges: pass them to `sendPacked(data, lengths, vnet)`).
   */
  deliver?: 'split' | 'super'
  /** With `deliver: 'super'`: finish partial checksums of non-GSO frames natively (`'complete'`, the default) or leave them. */
  checksum?: 'complete' | 'partial'
  /** Coalesce plain frames of `sendBatch`/`sendPacked` into GSO writes: `'tcp'` (the default), `'tcp+udp'` or `false`. */
  coalesce?: false | 'tcp' | 'tcp+udp'
  /**
   * When the kernel, the vsys helper or an adopted descriptor cannot do offload: fail the
   * open with `ERR_PLTAP_OFFLOAD_UNSUPPORTED` (`'error'`, the default) or open without it
   * (`'plain'`; `dev.offload` is then `null`, or shows the reduced set the kernel granted).
   */
  fallback?: 'error' | 'plain'
}

/**
 * What an offload device negotiated ({@link Netdev.offload}).
 *
 * @example
 * ```ts
 * const o = dev.offload
 * if (o && !o.rx.tso4) console.warn('no TCP segmentation offload from this kernel')
 * ```
 */
export interface OffloadState {
  /** The vnet header size on the descriptor (10, unless an adopted device says otherwise). */
  headerSize: number
  /** What `TUNSETOFFLOAD` granted. */
  rx: {
    /** `TUN_F_CSUM`: frames may come with a partial checksum. */
    csum: boolean
    /** `TUN_F_TSO4`: TCP/IPv4 super-frames. */
    tso4: boolean
    /** `TUN_F_TSO6`: TCP/IPv6 super-frames. */
    tso6: boolean
    /** `TUN_F_TSO_ECN`: TCP super-frames of streams that sent CWR. */
    tsoEcn: boolean
    /** `TUN_F_USO4|TUN_F_USO6`: UDP super-datagrams. */
    uso: boolean
  }
  /** How super-frames reach you. */
  deliver: 'split' | 'super'
  /** Partial checksums of non-GSO frames (`deliver: 'super'`). */
  checksum: 'complete' | 'partial'
  /** Coalescing of plain batches. */
  coalesce: false | 'tcp' | 'tcp+udp'
}

/**
 * Offload counters, in {@link NetdevStats.offload}.
 *
 * @example
 * ```ts
 * const o = dev.stats().offload
 * if (o) console.log(`${o.superFrames} super-frames split into ${o.segments} segments`)
 * ```
 */
export interface OffloadStats {
  /** GSO super-frames received. */
  superFrames: number
  /** Frames the native split made of them (`deliver: 'split'`). */
  segments: number
  /** Received frames whose headers did not parse: dropped. */
  malformed: number
  /** Validated GSO writes the kernel refused: split natively and resent as plain frames. */
  gsoFallbacks: number
  /** GSO writes the coalescer formed. */
  coalesced: number
  /** Plain frames that went into them. */
  coalescedSegments: number
}

/**
 * One virtio-net header, decoded by {@link vnetAt}. Offsets count from the first byte of the
 * frame (the Ethernet header on a TAP).
 */
export interface VnetHeader {
  /** `1` NEEDS_CSUM (the L4 checksum holds only the pseudo-header seed), `2` DATA_VALID. */
  flags: number
  /** `0` none, `1` TCPv4, `4` TCPv6, `5` UDP (USO), `| 0x80` ECN. */
  gsoType: number
  /** The exact header length (pltap replaces the kernel's hint), 0 for plain frames. */
  hdrLen: number
  /** Payload bytes per segment (the MSS). */
  gsoSize: number
  /** Where the checksum starts. */
  csumStart: number
  /** Where, from `csumStart`, the checksum field is (16 TCP, 6 UDP). */
  csumOffset: number
}

/**
 * Decodes frame `i`'s header from a `readPacked()` burst's `vnet` (10 bytes per frame,
 * little-endian). One object per call: for bulk forwarding pass `vnet` on untouched.
 *
 * @example
 * ```ts
 * const { data, lengths, vnet } = await rx.readPacked()
 * if (vnet) for (let i = 0; i < lengths.length; i++) if (vnetAt(vnet, i).gsoType !== 0) superFrames++
 * ```
 */
export function vnetAt(vnet: Uint8Array, i: number): VnetHeader {
  checkInt('i', i, 0, Math.floor(vnet.length / VNET_HDR_LEN) - 1)
  const o = i * VNET_HDR_LEN
  const u16 = (at: number): number => vnet[o + at]! | (vnet[o + at + 1]! << 8)
  return { flags: vnet[o]!, gsoType: vnet[o + 1]!, hdrLen: u16(2), gsoSize: u16(4), csumStart: u16(6), csumOffset: u16(8) }
}

/**
 * Options of {@link Netdev.send} on an offload device: the frame is one super-frame you
 * built (IP and L4 lengths covering the whole payload), to be segmented by the kernel into
 * `segmentSize`-byte payloads. pltap fills the whole header from the frame's own headers.
 *
 * @example
 * ```ts
 * dev.send(superFrame, { gso: 'tcp', segmentSize: 1448 })
 * ```
 */
export interface SendOptions {
  /** `'tcp'` (TCPv4/TCPv6 from the IP version) or `'udp'` (needs `rx: 'tso+uso'`). */
  gso: 'tcp' | 'udp'
  /** Payload bytes per segment (the MSS), 1 to 65535. */
  segmentSize: number
}

const OFFLOAD_KEYS = ['rx', 'deliver', 'checksum', 'coalesce', 'fallback'] as const

/** Checks `options.offload` and returns what the binding takes (`undefined`: no offload). @internal */
export function toNativeOffload(offload: unknown): NativeOffloadOptions | undefined {
  if (offload === undefined || offload === false) return undefined
  if (offload === true) return {}
  checkObject('options.offload', offload)
  const o = offload as unknown as OffloadOptions
  checkKnownKeys('options.offload', o as Record<string, unknown>, OFFLOAD_KEYS)
  if (o.rx !== undefined) checkOneOf('options.offload.rx', o.rx, ['csum', 'tso', 'tso+uso'] as const)
  if (o.deliver !== undefined) checkOneOf('options.offload.deliver', o.deliver, ['split', 'super'] as const)
  if (o.checksum !== undefined) checkOneOf('options.offload.checksum', o.checksum, ['complete', 'partial'] as const)
  if (o.coalesce !== undefined && o.coalesce !== false) {
    checkOneOf('options.offload.coalesce', o.coalesce, ['tcp', 'tcp+udp'] as const, "false, 'tcp' or 'tcp+udp'")
  }
  if (o.fallback !== undefined) checkOneOf('options.offload.fallback', o.fallback, ['error', 'plain'] as const)
  return {
    rx: o.rx,
    deliver: o.deliver,
    checksum: o.checksum,
    coalesce: o.coalesce === false ? 'off' : o.coalesce,
    fallback: o.fallback,
  }
}

/** Checks `send`'s second argument. @internal */
export function checkSendOptions(options: unknown): SendOptions {
  checkObject('options', options)
  const o = options as unknown as SendOptions
  checkKnownKeys('options', o as unknown as Record<string, unknown>, ['gso', 'segmentSize'])
  checkOneOf('options.gso', o.gso, ['tcp', 'udp'] as const)
  checkInt('options.segmentSize', o.segmentSize, 1, 65535)
  return o
}

/**
 * Checks `sendPacked(data, lengths, vnet)`: lengths 1..65600 adding up to `data.byteLength`,
 * and 10 header bytes per frame. Lengths and headers on memory another thread can change
 * are copied first. @internal
 */
export function toPackedVnet(data: unknown, lengths: unknown, vnet: unknown): { data: Uint8Array; lengths: Uint32Array; vnet: Uint8Array } {
  const bytes = toBytes('data', data)
  let lens = toUint32Array('lengths', lengths)
  let hdrs = toBytes('vnet', vnet)
  const copy = (b: ArrayBufferLike): boolean => isSharedArrayBuffer(b) || (b as { resizable?: boolean }).resizable === true
  if (copy(lens.buffer)) lens = lens.slice()
  if (copy(hdrs.buffer)) hdrs = hdrs.slice()
  let total = 0
  for (let i = 0; i < lens.length; i++) {
    const len = lens[i]!
    if (len === 0 || len > MAX_SUPER_FRAME) checkInt(`lengths[${i}]`, len, 1, MAX_SUPER_FRAME)
    total += len
  }
  if (total !== bytes.length) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The "lengths" add up to ${total}, but "data" holds ${bytes.length} bytes`)
  }
  if (hdrs.length !== lens.length * VNET_HDR_LEN) {
    throw argError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The "vnet" argument must hold ${VNET_HDR_LEN} bytes per frame (${lens.length * VNET_HDR_LEN}), not ${hdrs.length}`,
    )
  }
  return { data: bytes, lengths: lens, vnet: hdrs }
}
