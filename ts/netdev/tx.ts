/**
 * Argument checks and packing for the batch send paths (`sendBatch`, `sendPacked`): every
 * batch goes down to the binding as one packed buffer plus lengths, in one call.
 * @internal
 * @module
 */

import { isSharedArrayBuffer } from 'node:util/types'
import { checkInt, toBytes, toFrame, toUint32Array } from '../validate.js'
import { argError } from './options.js'

/** Frames packed back to back: frame `i` is the `lengths[i]` bytes after frames `0..i-1`. */
export interface Packed {
  data: Uint8Array
  lengths: Uint32Array
}

/**
 * Checks `sendBatch`'s frames and returns them as this realm's `Uint8Array`s: the caller's
 * array itself when every entry already is one of a valid length (the common case, checked
 * inline rather than through {@link toFrame} to keep the loop cheap), otherwise a copy.
 */
export function toFrameList(frames: unknown): readonly Uint8Array[] {
  if (!Array.isArray(frames))
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "frames" argument must be an array of Buffer, TypedArray, or DataView')
  let list = frames as readonly Uint8Array[]
  for (let i = 0; i < list.length; i++) {
    const f = list[i]
    if (f instanceof Uint8Array && f.length > 0 && f.length <= 65535) continue // the common case, as is
    const bytes = toFrame(`frames[${i}]`, f)
    if (list === frames)
      list = list.slice() // the caller's array stays untouched
    ;(list as Uint8Array[])[i] = bytes
  }
  return list
}

/**
 * Packs at least two frames for one native call. Frames that sit back to back in one
 * ArrayBuffer (frames from one Rx burst do) go down as one view, without a copy; others
 * are packed with one memcpy.
 */
export function packFrames(list: readonly Uint8Array[]): Packed {
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
  return { data, lengths }
}

/**
 * Checks `sendPacked`'s arguments: every length in 1..65535 and their sum `data.byteLength`.
 * Lengths on memory another thread can change (a SharedArrayBuffer) or on a resizable
 * buffer are copied first, so that the checks hold for the values sent. (The addon takes
 * its own snapshot as well.)
 */
export function toPacked(data: unknown, lengths: unknown): Packed {
  const bytes = toBytes('data', data)
  let lens = toUint32Array('lengths', lengths)
  if (isSharedArrayBuffer(lens.buffer) || (lens.buffer as { resizable?: boolean }).resizable === true) lens = lens.slice()
  let total = 0
  for (let i = 0; i < lens.length; i++) {
    const len = lens[i]!
    if (len === 0 || len > 65535) checkInt(`lengths[${i}]`, len, 1, 65535) // throws, in checkInt's words
    total += len
  }
  if (total !== bytes.length) {
    throw argError(RangeError, 'ERR_OUT_OF_RANGE', `The "lengths" add up to ${total}, but "data" holds ${bytes.length} bytes`)
  }
  return { data: bytes, lengths: lens }
}
