/**
 * The forwarding loop of `pltap bridge`, shared by the main thread (one queue pair) and the
 * per-queue workers (`--queues N`), and the counters it keeps.
 * @internal
 * @module
 */

import type { NetdevQueue } from '../netdev/queue.js'
import type { Netdev } from '../netdev.js'
import type { ForwardCounters, PackedFrames, Rx } from '../rx.js'

/** Counter slots of one direction, in order. */
export const DIRECTION_FIELDS = ['frames', 'bytes', 'bursts', 'dropped', 'errors'] as const
/** A direction's counters, as the JSON at exit reports them. */
export type DirectionCounters = Record<(typeof DIRECTION_FIELDS)[number], number>

/** Slots per direction in a counter array. */
const WIDTH = DIRECTION_FIELDS.length

/**
 * The counters of both directions of one queue pair in a `Float64Array` (slot `d * 5 + k`
 * for direction `d`, field `k`), so that a worker's counters can live in a
 * `SharedArrayBuffer` the main thread reads at any time for `--interval`.
 */
export function newCounters(shared: boolean): Float64Array {
  const bytes = 2 * WIDTH * Float64Array.BYTES_PER_ELEMENT
  return new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes))
}

/** One direction's counters of several queue pairs, summed. */
export function sumDirection(all: readonly Float64Array[], direction: 0 | 1): DirectionCounters {
  const out = Object.fromEntries(DIRECTION_FIELDS.map((f) => [f, 0])) as DirectionCounters
  for (const c of all) {
    DIRECTION_FIELDS.forEach((f, k) => {
      out[f] += c[direction * WIDTH + k]!
    })
  }
  return out
}

/** Writes a burst (with its vnet metadata when there is some); returns the frames written. */
export type SendPacked = (data: Buffer, lengths: Uint32Array, vnet?: Uint8Array) => number

/**
 * Forwards every burst `rx` delivers to `send` until `rx` is closed (or fails), as its
 * consumer ({@link Rx.consume}): each burst goes out from the receive callback itself, with
 * one native call, no await and no object per frame. A burst the other side refuses because
 * it is down (`EIO`) is dropped and counted in `dropped`, as a switch drops frames for a port
 * whose link is down; any other refusal also counts in `errors`. The bridge goes on.
 * Resolves when `rx` ends.
 */
export function pump(rx: Rx, send: SendPacked, counters: Float64Array, direction: 0 | 1): Promise<void> {
  const at = direction * WIDTH
  const forward = (burst: PackedFrames): void => {
    const n = burst.lengths.length
    counters[at + 2]!++
    try {
      const sent = burst.vnet === undefined ? send(burst.data, burst.lengths) : send(burst.data, burst.lengths, burst.vnet)
      counters[at]! += sent
      let bytes = 0
      if (sent === n) bytes = burst.data.byteLength
      else for (let i = 0; i < sent; i++) bytes += burst.lengths[i]!
      counters[at + 1]! += bytes
      counters[at + 3]! += n - sent
    } catch (err) {
      if (!isLinkDown(err)) counters[at + 4]!++
      counters[at + 3]! += n
    }
  }
  return new Promise((resolve) => {
    try {
      rx.consume(forward, { onEnd: () => resolve() })
    } catch {
      resolve() // already closed
    }
  })
}

/**
 * Forwards every burst `rx` reads to `target` natively ({@link Rx.forward}: no JavaScript
 * per burst) until `rx` is closed (or fails), keeping the counters of direction
 * `direction` in step with {@link Rx.forwarded}: when `rx` ends, and every `refreshMs`
 * if given (for live counters; without it no timer runs). Resolves when `rx` ends.
 */
export function forwardPump(
  rx: Rx,
  target: Netdev | NetdevQueue,
  counters: Float64Array,
  direction: 0 | 1,
  refreshMs?: number,
): Promise<void> {
  const at = direction * WIDTH
  const copy = (c: ForwardCounters): void => {
    DIRECTION_FIELDS.forEach((f, k) => {
      counters[at + k] = c[f]
    })
  }
  return new Promise((resolve) => {
    const timer = refreshMs === undefined ? undefined : setInterval(() => copy(rx.forwarded), refreshMs)
    timer?.unref()
    const end = (): void => {
      if (timer !== undefined) clearInterval(timer)
      copy(rx.forwarded)
      resolve()
    }
    try {
      rx.forward(target, { onEnd: end })
    } catch {
      end() // already closed
    }
  })
}

/** Whether a send failed only because the destination device is down (`EIO`). */
export function isLinkDown(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EIO'
}
