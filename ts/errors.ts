/**
 * Errors thrown and rejected by pltap, all in one place.
 *
 * - **Argument errors** are plain `TypeError` / `RangeError` with Node's
 *   `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE` codes, thrown
 *   synchronously before anything is created.
 * - **OS failures** are {@link PltapError}s shaped like Node's `SystemError`:
 *   `code` is the errno name (`'EPERM'`), `errno` is negative (so
 *   `util.getSystemErrorName(err.errno)` works) and `syscall` names the call.
 * - **Library failures** are {@link PltapError}s with one of the `ERR_PLTAP_*` /
 *   `ERR_VSYS_*` codes of {@link PltapErrorCode}.
 *
 * @module
 */

/**
 * The library's own error codes.
 *
 * @example
 * ```ts
 * const retryable: PltapErrorCode[] = ['ERR_VSYS_TIMEOUT']
 * if (err instanceof PltapError && retryable.includes(err.code as PltapErrorCode)) retry()
 * ```
 */
export type PltapErrorCode =
  /** The `Netdev` or `Rx` was closed (or closed while the call waited). */
  | 'ERR_PLTAP_CLOSED'
  /** A vsys helper or script did not answer before the deadline. */
  | 'ERR_VSYS_TIMEOUT'
  /** The vsys helper closed the connection without handing over a device (check its ACL and `vsys_vnet`). */
  | 'ERR_VSYS_REFUSED'
  /** The helper broke the `fd_tuntap` protocol (no name, two descriptors, a name the kernel does not confirm). */
  | 'ERR_VSYS_PROTOCOL'
  /** A vsys script ran but the kernel does not show its effect; `reply` holds the script's text. */
  | 'ERR_VSYS_SCRIPT'
  /** The operation needs `localIp` and `localNetmask` (bringing a vsys device up runs `vif_up`). */
  | 'ERR_PLTAP_NOT_CONFIGURED'
  /** A received frame did not fit the buffer. */
  | 'ERR_PLTAP_TRUNCATED'
  /** Another open `Netdev` already has this port name. */
  | 'ERR_PLTAP_NAME_IN_USE'
  /**
   * The `Netdev`'s device is no longer its own: it was deleted, renamed or moved to another
   * network namespace, so its name may now reach another device. Every link operation
   * (`up`, `down`, `setPromisc`, `setConfig`, `setMtu`, `mtu`, `ifindex`, `etheraddr`,
   * `setEtheraddr`, `stats`) checks this first and touches nothing when it fails. `device`
   * is the name it was opened with, `reason` says what happened (`'deleted'`, `'renamed'`
   * with `renamedTo`, or `'moved'`).
   */
  | 'ERR_PLTAP_DEVICE_GONE'
  /** A bug in pltap: a panic inside the native addon, caught before it could abort the process. Please report it. */
  | 'ERR_PLTAP_INTERNAL'
  /** The native addon rejected an argument the facade let through. */
  | 'ERR_INVALID_ARG_VALUE'

/**
 * Every `code` a {@link PltapError} can carry: a library code or an errno name such as `'EPERM'`.
 *
 * @example
 * ```ts
 * function describe(code: ErrorCode): string {
 *   return code === 'EPERM' ? 'needs CAP_NET_ADMIN' : code
 * }
 * ```
 */
export type ErrorCode = PltapErrorCode | `E${Uppercase<string>}` | `UNKNOWN_ERRNO_${number}`

const BRAND = Symbol.for('pltap.error')

/**
 * What happened to a `Netdev`'s device (`err.reason` of `ERR_PLTAP_DEVICE_GONE`): deleted,
 * renamed (see `err.renamedTo`), or moved out of the network namespace it was opened in.
 *
 * @example
 * ```ts
 * if (err instanceof PltapError && err.reason === 'renamed') console.warn(`${err.device} is ${err.renamedTo} now`)
 * ```
 */
export type DeviceGoneReason = 'deleted' | 'renamed' | 'moved'

/** The optional fields of a {@link PltapError}. @internal */
interface PltapErrorFields {
  errno?: number
  syscall?: string
  script?: string
  reply?: string
  device?: string
  reason?: DeviceGoneReason
  renamedTo?: string
}

/**
 * An error from pltap: an OS failure (SystemError-shaped) or a library failure.
 *
 * `instanceof PltapError` works across duplicate installs of the package (the class is
 * branded with `Symbol.for('pltap.error')`).
 *
 * @example
 * ```ts
 * import { Netdev, PltapError } from 'pltap'
 * try {
 *   await Netdev.open({ name: 'p0', allocator: 'vsys', vsysRoot: '/vsys' })
 * } catch (err) {
 *   if (err instanceof PltapError && err.code === 'ERR_VSYS_REFUSED') console.error('not allowed:', err.message)
 *   else if (err instanceof PltapError && err.code === 'ENOENT') console.error('no vsys helper here')
 *   else throw err
 * }
 * ```
 */
export class PltapError extends Error {
  /** An errno name (`'EPERM'`) for OS failures, or a {@link PltapErrorCode}. */
  readonly code: ErrorCode
  /** For OS failures: the negated errno (`-1` for `EPERM`), as in Node's SystemError. */
  readonly errno?: number
  /** For OS failures: the failing system call (`'ioctl'`, `'open'`, `'connect'`, ...). */
  readonly syscall?: string
  /** For `ERR_VSYS_SCRIPT`: the script's name. */
  readonly script?: string
  /** For `ERR_VSYS_SCRIPT`: everything the script wrote (stdout and stderr). */
  readonly reply?: string
  /** For `ERR_PLTAP_DEVICE_GONE`: the device's name when the `Netdev` opened it. */
  readonly device?: string
  /** For `ERR_PLTAP_DEVICE_GONE`: what happened to the device. */
  readonly reason?: DeviceGoneReason
  /** For `ERR_PLTAP_DEVICE_GONE` with `reason: 'renamed'`: the device's name now. */
  readonly renamedTo?: string

  /** @internal */
  constructor(code: ErrorCode, message: string, extra: PltapErrorFields = {}) {
    super(message)
    this.name = 'PltapError'
    this.code = code
    if (extra.errno !== undefined) this.errno = extra.errno
    if (extra.syscall !== undefined) this.syscall = extra.syscall
    if (extra.script !== undefined) this.script = extra.script
    if (extra.reply !== undefined) this.reply = extra.reply
    if (extra.device !== undefined) this.device = extra.device
    if (extra.reason !== undefined) this.reason = extra.reason
    if (extra.renamedTo !== undefined) this.renamedTo = extra.renamedTo
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** Brand check, so `instanceof` survives duplicate copies of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true
  }
}

const MARKER = '\u0001pltap:'

/**
 * Rebuilds an error thrown by the native binding (which encodes its fields as JSON
 * after a marker) into a {@link PltapError}. Anything else is returned unchanged.
 * @internal
 */
export function fromNative(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const at = err.message.indexOf(MARKER)
  if (at < 0) return err
  try {
    const f = JSON.parse(err.message.slice(at + MARKER.length)) as PltapErrorFields & {
      code: ErrorCode
      message: string
      op?: string
      description?: string
    }
    // OS errors read like Node's: "EPERM: Operation not permitted, ioctl (TUNSETIFF tap%d)".
    const message = f.syscall !== undefined && f.description !== undefined ? `${f.code}: ${f.description}, ${f.syscall} (${f.op})` : f.message
    return new PltapError(f.code, message, f)
  } catch {
    return err
  }
}

/** Runs a native call and converts what it throws. @internal */
export function native<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Awaits a native promise and converts its rejection. @internal */
export async function nativeAsync<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (err) {
    throw fromNative(err)
  }
}

/** `ERR_PLTAP_CLOSED`. @internal */
export function closedError(what: string): PltapError {
  return new PltapError('ERR_PLTAP_CLOSED', `${what} is closed`)
}
