/**
 * Argument checks. Each throws a `TypeError` or `RangeError` carrying Node's `code`
 * (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`, `ERR_OUT_OF_RANGE`), before any I/O.
 *
 * The facade owns JavaScript types, option shapes (unknown keys, combinations) and its own
 * numeric API ranges. The value rules of kernel-facing strings and numbers (interface
 * names, IPv4 addresses, netmasks, MAC addresses) are the core's: the checks below ask it
 * through the binding's pure `check*` functions (no descriptor, no kernel state) and word
 * its reason into Node's message shape. `__test__/validate-core.spec.ts` pins the two
 * together. See CONTRIBUTING.md, "Where rules live".
 * @internal
 * @module
 */

import { types } from 'node:util'
import {
  checkCidr as coreCidr,
  checkIfname as coreIfname,
  checkIpv4 as coreIpv4,
  checkLocalNetmask as coreLocalNetmask,
  checkMac as coreMac,
  checkRoute as coreRoute,
  MAX_FRAME,
} from '../binding.js'

type ArgError = (TypeError | RangeError) & { code: string }

function typeError(name: string, expected: string, value: unknown): ArgError {
  const e = new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(value)}`) as ArgError
  e.code = 'ERR_INVALID_ARG_TYPE'
  return e
}

function valueError(name: string, value: unknown, reason: string): ArgError {
  const e = new TypeError(`The "${name}" argument ${reason}. Received ${describe(value)}`) as ArgError
  e.code = 'ERR_INVALID_ARG_VALUE'
  return e
}

/** `reason` completes "It ...": `'must be an integer >= 1 and <= 32'`. */
function rangeError(name: string, reason: string, value: unknown): ArgError {
  const e = new RangeError(`The value of "${name}" is out of range. It ${reason}. Received ${describe(value)}`) as ArgError
  e.code = 'ERR_OUT_OF_RANGE'
  return e
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`
  if (typeof value === 'function') return 'function'
  return `type ${typeof value} (${String(value)})`
}

/** A plain object (or undefined, when optional). */
export function checkObject(name: string, value: unknown, optional = false): asserts value is Record<string, unknown> {
  if (optional && value === undefined) return
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(name, 'an object', value)
}

/** A non-empty port name: at most 256 characters, no control characters. */
export function checkPortName(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  if (value.length === 0 || value.length > 256) throw valueError(name, value, 'must be 1 to 256 characters long')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw valueError(name, value, 'must not contain control characters')
}

/**
 * A Linux interface name or `%d` template, by the core's rule (`IfName::new`: 1-15 bytes,
 * no NUL, '/', ':', whitespace or control characters, not '.' or '..', at most one `%d`).
 */
export function checkIfname(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  const reason = coreIfname(value)
  if (reason !== null) throw valueError(name, value, reason)
}

/** A dotted-quad IPv4 address, by the core's rule (`std`'s parser: no leading zeros, no shorthand). */
export function checkIpv4(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  const reason = coreIpv4(value)
  if (reason !== null) throw valueError(name, value, reason)
}

/** A `localNetmask`: an integer (checked here), 1 to 32 (the core's rule, `config::local_netmask`). */
export function checkPrefix(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw typeError(name, 'of type number', value)
  if (!Number.isInteger(value)) throw rangeError(name, 'must be an integer', value)
  const reason = coreLocalNetmask(value)
  if (reason !== null) throw rangeError(name, reason, value)
}

/** A MAC address for a device, by the core's rule (`MacAddr::parse_unicast`: six hex octets separated by ':', unicast). */
export function checkMac(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  const reason = coreMac(value)
  if (reason !== null) throw valueError(name, value, reason)
}

/** The largest frame a tun device carries: the core's `frame::MAX_FRAME` (65535). */
export { MAX_FRAME }

/** What byte arguments accept, in Node's words. */
const BYTES = 'an instance of Buffer, TypedArray, or DataView'

/**
 * Bytes: any `ArrayBufferView` (Buffer, any TypedArray, DataView), recognised by its brand
 * so that one from another realm (`vm`, a worker's transfer) is accepted too, and returned
 * as a `Uint8Array` of this realm over the same memory (no copy).
 */
export function toBytes(name: string, value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value // Buffer and this realm's Uint8Array, as they are
  if (!ArrayBuffer.isView(value)) throw typeError(name, BYTES, value)
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

/** A frame: bytes as {@link toBytes} takes them, 1 to {@link MAX_FRAME} (65535) of them. */
export function toFrame(name: string, value: unknown): Uint8Array {
  const bytes = toBytes(name, value)
  if (bytes.length === 0 || bytes.length > MAX_FRAME) throw rangeError(`${name}.length`, `must be >= 1 and <= ${MAX_FRAME}`, bytes.length)
  return bytes
}

/** A `Uint32Array`, recognised by its brand (any realm), as one of this realm over the same memory. */
export function toUint32Array(name: string, value: unknown): Uint32Array {
  if (value instanceof Uint32Array) return value
  if (!types.isUint32Array(value)) throw typeError(name, 'an instance of Uint32Array', value)
  return new Uint32Array(value.buffer, value.byteOffset, value.length)
}

/** An integer in [min, max]. */
export function checkInt(name: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw typeError(name, 'of type number', value)
  if (!Number.isInteger(value) || value < min || value > max) throw rangeError(name, `must be an integer >= ${min} and <= ${max}`, value)
}

/** A function. */
// biome-ignore lint/complexity/noBannedTypes: any callable is accepted; the caller's signature narrows it
export function checkFunction(name: string, value: unknown): asserts value is Function {
  if (typeof value !== 'function') throw typeError(name, 'of type function', value)
}

/** A boolean. */
export function checkBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'of type boolean', value)
}

/** A non-empty string path without NUL. */
export function checkPath(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  if (value.length === 0 || value.includes('\u0000')) throw valueError(name, value, 'must be a non-empty path without NUL')
}

/** One of the given strings (`expected` describes the accepted values, for a non-string). */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], expected?: string): asserts value is T {
  const list = allowed.map((a) => `'${a}'`).join(', ')
  if (typeof value !== 'string') throw typeError(name, expected ?? `one of ${list}`, value)
  if (!(allowed as readonly string[]).includes(value)) throw valueError(name, value, `must be ${expected ?? `one of ${list}`}`)
}

/** An AbortSignal, or undefined. */
export function checkSignal(name: string, value: unknown): asserts value is AbortSignal | undefined {
  if (value === undefined) return
  if (!(value instanceof AbortSignal)) throw typeError(name, 'an instance of AbortSignal', value)
}

/** Rejects keys the options object does not know, to catch typos. */
export function checkKnownKeys(name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw valueError(name, value, `has an unknown property "${key}"`)
  }
}

/**
 * An interface address or route destination, `addr/len` (IPv4 or IPv6), by the core's rule
 * (`IpCidr`): a malformed string is a `TypeError` (`ERR_INVALID_ARG_VALUE`), a prefix longer
 * than the address a `RangeError` (`ERR_OUT_OF_RANGE`).
 */
export function checkCidr(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'of type string', value)
  const reason = coreCidr(value)
  if (reason === null) return
  if (reason.startsWith('must have a prefix length')) throw rangeError(name, reason, value)
  throw valueError(name, value, reason)
}

/** A route's `to` and optional `via`, by the core's rule (`RouteSpec::new`: the gateway of the destination's family). */
export function checkRouteTarget(name: string, to: string, via: unknown): void {
  if (via !== undefined && typeof via !== 'string') throw typeError(`${name}.via`, 'of type string', via)
  const reason = coreRoute(to, via)
  if (reason !== null) throw valueError(via === undefined ? `${name}.to` : `${name}.via`, via ?? to, reason)
}
