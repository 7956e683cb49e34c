/**
 * The option checks of `Netdev.open`, `setConfig` and `rxOpen`: JavaScript types, option
 * shapes and the combinations the allocators allow, each a `TypeError` / `RangeError`
 * thrown before any native call. The value rules they call on are `validate.ts`'s.
 * @internal
 * @module
 */

import type { NativeOpenOptions } from '../../binding.js'
import type { RxOptions } from '../rx.js'
import {
  checkBoolean,
  checkIfname,
  checkInt,
  checkIpv4,
  checkKnownKeys,
  checkObject,
  checkOneOf,
  checkPath,
  checkPortName,
  checkPrefix,
  checkSignal,
} from '../validate.js'
import { checkLifetimeOptions, LIFETIME_KEYS } from './net.js'
import { toNativeOffload } from './offload.js'
import type { NetdevConfig, NetdevOptions } from './types.js'

/** A TypeError/RangeError with a Node-style `code` (argument errors are thrown synchronously). */
export function argError(Ctor: typeof TypeError | typeof RangeError, code: string, message: string): Error {
  return Object.assign(new Ctor(message), { code })
}

const OPEN_KEYS = [
  'name',
  'allocator',
  'vsysRoot',
  'mode',
  'ifname',
  'packetInfo',
  'timeoutMs',
  'signal',
  'queues',
  'multiQueue',
  'offload',
  ...LIFETIME_KEYS,
] as const

/**
 * Checks the options of `Netdev.open` (every one is either absent, i.e. `undefined`, or
 * valid: `null` is never taken as absent) and returns what the binding takes.
 */
export function toNativeOpenOptions(options: NetdevOptions): NativeOpenOptions {
  checkObject('options', options)
  checkKnownKeys('options', options as unknown as Record<string, unknown>, OPEN_KEYS)
  checkPortName('options.name', options.name)
  const { allocator } = options
  let fd: number | undefined
  if (typeof allocator === 'object' && allocator !== null && !Array.isArray(allocator)) {
    checkKnownKeys('options.allocator', allocator as unknown as Record<string, unknown>, ['fd'])
    checkInt('options.allocator.fd', allocator.fd, 0, 2 ** 31 - 1)
    fd = allocator.fd
  } else {
    checkOneOf('options.allocator', allocator, ['direct', 'vsys'] as const, "'direct', 'vsys' or an object { fd }")
  }
  const kind = fd !== undefined ? 'fd' : (allocator as 'direct' | 'vsys')
  if (options.mode !== undefined) checkOneOf('options.mode', options.mode, ['tap', 'tun'] as const)
  if (options.vsysRoot !== undefined) {
    checkPath('options.vsysRoot', options.vsysRoot)
    if (kind !== 'vsys') throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.vsysRoot is only valid with allocator "vsys"')
  }
  if (options.ifname !== undefined) {
    checkIfname('options.ifname', options.ifname)
    if (kind !== 'direct') throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'options.ifname is only valid with allocator "direct"')
  }
  if (options.packetInfo !== undefined) checkBoolean('options.packetInfo', options.packetInfo)
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
  if (options.timeoutMs !== undefined) checkInt('options.timeoutMs', options.timeoutMs, 1, 3_600_000)
  checkSignal('options.signal', options.signal)
  checkLifetimeOptions(options)
  if (options.offload !== undefined && typeof options.offload !== 'boolean') checkObject('options.offload', options.offload)
  const offload = toNativeOffload(options.offload)
  return {
    allocator: kind,
    fd,
    vsysRoot: options.vsysRoot ?? '/vsys',
    mode: options.mode ?? 'tap',
    ifname: options.ifname,
    packetInfo: options.packetInfo,
    timeoutMs: options.timeoutMs,
    offload,
  }
}

/** Checks a `setConfig` argument (omitted fields are left alone). */
export function checkConfig(config: NetdevConfig): void {
  checkObject('config', config)
  checkKnownKeys('config', config as Record<string, unknown>, ['localIp', 'localNetmask'])
  if (config.localIp !== undefined) checkIpv4('config.localIp', config.localIp)
  if (config.localNetmask !== undefined) checkPrefix('config.localNetmask', config.localNetmask)
}

/** Checks the options of `rxOpen`. */
export function checkRxOptions(options: RxOptions): void {
  checkObject('options', options)
  checkKnownKeys('options', options as Record<string, unknown>, ['wake', 'batch', 'highWaterMark', 'highWaterMarkBytes'])
  if (options.wake !== undefined) checkOneOf('options.wake', options.wake, ['loop', 'thread'] as const)
  if (options.batch !== undefined) checkInt('options.batch', options.batch, 1, 1024)
  if (options.highWaterMark !== undefined) checkInt('options.highWaterMark', options.highWaterMark, 16, 1_000_000)
  if (options.highWaterMarkBytes !== undefined) checkInt('options.highWaterMarkBytes', options.highWaterMarkBytes, 65536, 2 ** 30)
}
