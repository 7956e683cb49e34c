/**
 * Byte-level helpers shared by the views and builders: big-endian reads and writes
 * without a DataView, and the length checks every view makes once, up front.
 * @internal
 * @module
 */

/** Big-endian 16-bit read at `o` (the caller has checked the bounds). @internal */
export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!
}

/** Big-endian unsigned 32-bit read at `o` (the caller has checked the bounds). @internal */
export function u32(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!)
}

/** Big-endian 16-bit write. @internal */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8
  b[o + 1] = v & 0xff
}

/** Big-endian 32-bit write. @internal */
export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = (v >>> 16) & 0xff
  b[o + 2] = (v >>> 8) & 0xff
  b[o + 3] = v & 0xff
}

/** Throws a TypeError unless `bytes` is a Uint8Array (a Buffer is one). @internal */
export function checkBytes(name: string, bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Buffer or Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
  }
}

/** Throws a RangeError if `bytes` holds fewer than `need` bytes. @internal */
export function need(what: string, bytes: Uint8Array, need: number): void {
  if (bytes.length < need) {
    throw new RangeError(`${what}: needs ${need} bytes, the buffer has ${bytes.length}`)
  }
}

/** Throws unless `v` is an integer in `[min, max]`: TypeError for a non-number, RangeError out of range. @internal */
export function checkUint(name: string, v: unknown, max: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${name} must be an integer, got ${String(v)}`)
  if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`)
  return v
}

/** A fresh zeroed Buffer of `n` bytes. @internal */
export function alloc(n: number): Buffer {
  return Buffer.alloc(n)
}

/** `payload` as given, or empty. @internal */
export function payloadOf(name: string, payload: Uint8Array | undefined): Uint8Array {
  if (payload === undefined) return EMPTY
  checkBytes(name, payload)
  return payload
}

/** An empty byte array. @internal */
export const EMPTY: Uint8Array = new Uint8Array(0)
