/**
 * The argument checks and native calls behind `Netdev`'s rtnetlink methods (addresses,
 * routes, namespace moves, carrier, txqueuelen) and the `persist` / `owner` / `group` open
 * options. Every check throws a `TypeError` / `RangeError` before any I/O; OS failures
 * reject with a SystemError-shaped `PltapError` whose `syscall` names the rtnetlink message
 * (`'rtnetlink(RTM_NEWADDR)'`) or the ioctl.
 * @internal
 * @module
 */

import type { NativeNetdev } from '../../binding.js'
import { native, nativeAsync } from '../errors.js'
import { checkBoolean, checkCidr, checkInt, checkKnownKeys, checkObject, checkPath, checkRouteTarget } from '../validate.js'
import type { NetdevOptions, RouteOptions } from './types.js'

/** The open options this module owns. */
export const LIFETIME_KEYS = ['persist', 'owner', 'group'] as const

/** Checks `persist`, `owner` and `group` of `Netdev.open` (any allocator but vsys). */
export function checkLifetimeOptions(options: NetdevOptions): void {
  const { persist, owner, group } = options
  if (persist !== undefined) checkBoolean('options.persist', persist)
  if (owner !== undefined) checkInt('options.owner', owner, 0, 2 ** 32 - 2)
  if (group !== undefined) checkInt('options.group', group, 0, 2 ** 32 - 2)
  if ((persist !== undefined || owner !== undefined || group !== undefined) && options.allocator === 'vsys') {
    const message = 'options.persist, options.owner and options.group are not valid with allocator "vsys": the helper owns the device'
    throw Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' })
  }
}

/** Applies `persist` / `owner` / `group` right after open (synchronous ioctls). */
export function applyLifetime(nativeDev: NativeNetdev, options: NetdevOptions): void {
  const { persist, owner, group } = options
  if (persist === undefined && owner === undefined && group === undefined) return
  native(() => nativeDev.setLifetime(persist, owner, group))
}

/** Starts a native async call; a synchronous failure (e.g. `ERR_PLTAP_CLOSED`) rejects. */
export function run<T>(call: () => Promise<T>): Promise<T> {
  try {
    return nativeAsync(call())
  } catch (err) {
    return Promise.reject(err)
  }
}

/** `addAddress` / `removeAddress`. */
export function changeAddress(nativeDev: () => NativeNetdev, add: boolean, cidr: string): Promise<void> {
  checkCidr('cidr', cidr)
  return run(() => (add ? nativeDev().addAddress(cidr) : nativeDev().removeAddress(cidr)))
}

/** Checks a route argument. */
export function checkRoute(route: RouteOptions): void {
  checkObject('route', route)
  checkKnownKeys('route', route as unknown as Record<string, unknown>, ['to', 'via', 'metric'])
  checkCidr('route.to', route.to)
  checkRouteTarget('route', route.to, route.via)
  if (route.metric !== undefined) checkInt('route.metric', route.metric, 0, 2 ** 32 - 1)
}

/** `addRoute` / `removeRoute`. */
export function changeRoute(nativeDev: () => NativeNetdev, add: boolean, route: RouteOptions): Promise<void> {
  checkRoute(route)
  const { to, via, metric } = route
  return run(() => (add ? nativeDev().addRoute(to, via, metric) : nativeDev().removeRoute(to, via, metric)))
}

/** Checks the target of `moveToNetns`: a path, or a descriptor `{ fd }` / number. */
export function toNetnsTarget(target: unknown): { path?: string; fd?: number } {
  if (typeof target === 'number') {
    checkInt('target', target, 0, 2 ** 31 - 1)
    return { fd: target }
  }
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    checkKnownKeys('target', target as Record<string, unknown>, ['fd'])
    const fd = (target as { fd?: unknown }).fd
    checkInt('target.fd', fd, 0, 2 ** 31 - 1)
    return { fd }
  }
  checkPath('target', target)
  return { path: target }
}
