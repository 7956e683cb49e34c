/**
 * Which native descriptor a `Netdev` or `NetdevQueue` writes frames through, for the
 * receive path's native forwarding (`Rx.forward`), without making it public: each
 * registers a getter that throws as its own frame I/O would (closed, transferred), and
 * revokes the port when its frame I/O ends, so that a forward to it stops writing through
 * a descriptor that is closed or another thread's now.
 * @internal
 * @module
 */
import type { NativeNetdev } from '../../binding.js'

interface Port {
  live: () => NativeNetdev
  /** Told once, when the port's frame I/O ends. */
  onRevoke: Set<() => void>
}

const ports = new WeakMap<object, Port>()

/** Registers `port`'s frame descriptor (`live()` returns it, or throws if it cannot send). */
export function registerFramePort(port: object, live: () => NativeNetdev): void {
  ports.set(port, { live, onRevoke: new Set() })
}

/** `port`'s frame I/O ended (closed, or its descriptor transferred): tells who forwards to it. */
export function revokeFramePort(port: object): void {
  const p = ports.get(port)
  if (p === undefined) return
  const listeners = [...p.onRevoke]
  p.onRevoke.clear()
  for (const fn of listeners) fn()
}

/**
 * The native descriptor frames sent to `port` go through, with `onRevoke` called once if
 * the port's frame I/O ends while the caller uses it (`release()` to stop listening).
 * `TypeError` (`ERR_INVALID_ARG_TYPE`) if `port` is not a `Netdev` or `NetdevQueue`, and
 * what its own `send` would throw if it cannot send (`ERR_PLTAP_CLOSED`).
 */
export function framePortOf(name: string, port: unknown, onRevoke: () => void): { native: NativeNetdev; release: () => void } {
  const p = typeof port === 'object' && port !== null ? ports.get(port) : undefined
  if (p === undefined) {
    throw Object.assign(new TypeError(`The "${name}" argument must be a Netdev or a NetdevQueue`), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  const nativeDev = p.live()
  p.onRevoke.add(onRevoke)
  return { native: nativeDev, release: () => p.onRevoke.delete(onRevoke) }
}
