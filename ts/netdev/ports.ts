/**
 * Which native descriptor a `Netdev` or `NetdevQueue` writes frames through, for the
 * receive path's native forwarding (`Rx.forward`), without making it public: each
 * registers a getter that throws as its own frame I/O would (closed, transferred).
 * @internal
 * @module
 */
import type { NativeNetdev } from '../../binding.js'

const ports = new WeakMap<object, () => NativeNetdev>()

/** Registers `port`'s frame descriptor (`live()` returns it, or throws if it cannot send). */
export function registerFramePort(port: object, live: () => NativeNetdev): void {
  ports.set(port, live)
}

/**
 * The native descriptor frames sent to `port` go through; `TypeError`
 * (`ERR_INVALID_ARG_TYPE`) if `port` is not a `Netdev` or `NetdevQueue`, and what its own
 * `send` would throw if it cannot send (`ERR_PLTAP_CLOSED`).
 */
export function framePortOf(name: string, port: unknown): NativeNetdev {
  const live = typeof port === 'object' && port !== null ? ports.get(port) : undefined
  if (live === undefined) {
    throw Object.assign(new TypeError(`The "${name}" argument must be a Netdev or a NetdevQueue`), { code: 'ERR_INVALID_ARG_TYPE' })
  }
  return live()
}
