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
 * Both code sets are finite ({@link ErrorCode}), so a misspelt code in a comparison does
 * not type-check.
 *
 * @module
 */

/**
 * The library's own error codes.
 *
 * @example
 * ```ts
 * const retryable: ErrorCode[] = ['ERR_VSYS_TIMEOUT', 'EAGAIN']
 * if (err instanceof PltapError && retryable.includes(err.code)) retry()
 * ```
 */
export type PltapErrorCode =
  /**
   * The `Netdev`, `Rx` or `NetdevQueue` was closed (or closed while the call waited), the
   * queue was transferred to another thread, or a `QueueTransfer` was revoked (its Netdev
   * closed) before it was adopted.
   */
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
  /**
   * A direct (ioctl) link change did not settle: after every pending action ran, the kernel
   * still showed something else, because another process kept changing the interface. The
   * change stays wanted and is retried, like any failed link change.
   */
  | 'ERR_PLTAP_LINK_UNSTABLE'
  /**
   * A received frame did not fit the buffer. Not raised today: the receive paths count such
   * frames in `Rx.dropped` instead. Kept because the native side can encode it.
   */
  | 'ERR_PLTAP_TRUNCATED'
  /** Another open `Netdev` already has this port name. */
  | 'ERR_PLTAP_NAME_IN_USE'
  /** The `Rx` already has a consumer (`Rx.consume`): remove it first. */
  | 'ERR_PLTAP_BUSY'
  /**
   * The `Netdev`'s device is no longer its own: it was deleted, renamed or moved to another
   * network namespace, so its name may now reach another device. Every link operation
   * (`up`, `down`, `setPromisc`, `setConfig`, `setMtu`, `mtu`, `ifindex`, `etheraddr`,
   * `setEtheraddr`, `stats`, and the rtnetlink ones: `addresses`, `addAddress`, `removeAddress`,
   * `addRoute`, `removeRoute`, `moveToNetns`, `setCarrier`, `carrier`, `txQueueLen`,
   * `setTxQueueLen`) checks this first and touches nothing when it fails. `device`
   * is the name it was opened with, `reason` says what happened (`'deleted'`, `'renamed'`
   * with `renamedTo`, or `'moved'`).
   */
  | 'ERR_PLTAP_DEVICE_GONE'
  /**
   * A virtio-net header given for an offload device (`sendPacked(data, lengths, vnet)`,
   * `send(frame, { gso })`) does not fit its frame; nothing of the burst was written. `frame`
   * is the frame's index in the burst, `reason` the rule that failed ({@link VnetReason}),
   * `value` the offending value.
   */
  | 'ERR_PLTAP_VNET_HDR'
  /**
   * `offload` was asked for but is not available: `reason` is `'kernel'` (it refused the
   * offload set; `missing` lists what, e.g. `['tso4']`), `'helper'` (the vsys helper does not
   * know the `fd_tuntap` flags extension) or `'fd'` (the adopted descriptor has no
   * `IFF_VNET_HDR`). Open with `offload: { fallback: 'plain' }` to get a plain device instead.
   */
  | 'ERR_PLTAP_OFFLOAD_UNSUPPORTED'
  /** A bug in pltap: a panic inside the native addon, caught before it could abort the process. Please report it. */
  | 'ERR_PLTAP_INTERNAL'
  /**
   * The native addon could not be loaded, thrown by `import 'pltap'` (the CLI: by the first
   * command that needs it): its platform package (`platformPackage`, e.g.
   * `pltap-linux-x64-gnu`) is not installed (optional dependencies omitted, or a lockfile
   * from another platform), is installed but failed to load, or this platform has none. The
   * message says which and what to do; `cause` is the loader's own error.
   */
  | 'ERR_PLTAP_NATIVE_MISSING'
  /** The native addon rejected an argument the facade let through. */
  | 'ERR_INVALID_ARG_VALUE'

/**
 * The `code` of an OS failure: the errno name, as Node's `SystemError` has it (`'EPERM'`,
 * `'ENOENT'`, ...), for every errno pltap's core knows by name (the names and order of the
 * `errno_names!` table in `crates/pltap-core/src/error.rs`; a cargo test in
 * `crates/pltap-napi/src/error.rs` fails when the two differ). Any other errno arrives as
 * `` `UNKNOWN_ERRNO_${n}` `` (`n` positive, e.g. `'UNKNOWN_ERRNO_4095'`); its `errno` field
 * is still the negated number.
 *
 * @example
 * ```ts
 * function needsPrivilege(code: SystemErrorCode): boolean {
 *   return code === 'EPERM' || code === 'EACCES'
 * }
 * ```
 */
// biome-ignore format: laid out like the errno table in error.rs
export type SystemErrorCode =
  | 'EPERM' | 'ENOENT' | 'ESRCH' | 'EINTR' | 'EIO' | 'ENXIO' | 'E2BIG' | 'EBADF' | 'ECHILD' | 'EAGAIN'
  | 'ENOMEM' | 'EACCES' | 'EFAULT' | 'EBUSY' | 'EEXIST' | 'EXDEV' | 'ENODEV' | 'ENOTDIR' | 'EISDIR'
  | 'EINVAL' | 'ENFILE' | 'EMFILE' | 'ENOTTY' | 'EFBIG' | 'ENOSPC' | 'ESPIPE' | 'EROFS' | 'EPIPE' | 'ERANGE'
  | 'ENAMETOOLONG' | 'ENOSYS' | 'ENOTEMPTY' | 'ELOOP' | 'EBADFD' | 'ENOTSOCK' | 'EMSGSIZE'
  | 'EPROTONOSUPPORT' | 'ENOTSUP' | 'EAFNOSUPPORT' | 'EADDRINUSE' | 'EADDRNOTAVAIL' | 'ENETDOWN'
  | 'ENETUNREACH' | 'ECONNABORTED' | 'ECONNRESET' | 'ENOBUFS' | 'EISCONN' | 'ENOTCONN' | 'ETIMEDOUT'
  | 'ECONNREFUSED' | 'EHOSTUNREACH' | 'EALREADY' | 'EINPROGRESS' | 'ECANCELED'
  | `UNKNOWN_ERRNO_${number}`

/**
 * Every `code` a {@link PltapError} can carry: an errno name ({@link SystemErrorCode}) or
 * a library code ({@link PltapErrorCode}). The union is finite: `'ERR_VSYS_SCRIP'` or
 * `'EPREM'` does not type-check.
 *
 * @example
 * ```ts
 * function describe(code: ErrorCode): string {
 *   return code === 'EPERM' ? 'needs CAP_NET_ADMIN' : code
 * }
 * ```
 */
export type ErrorCode = SystemErrorCode | PltapErrorCode

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

/**
 * The rule a virtio-net header broke (`err.reason` of `ERR_PLTAP_VNET_HDR`): frame length,
 * flags, GSO type, GSO size, L2/L3 headers, checksum start or offset, L4 header.
 *
 * @example
 * ```ts
 * if (err instanceof PltapError && err.code === 'ERR_PLTAP_VNET_HDR') console.error(`frame ${err.frame}: ${err.reason} = ${err.value}`)
 * ```
 */
export type VnetReason = 'length' | 'flags' | 'gsoType' | 'gsoSize' | 'l3' | 'csumStart' | 'csumOffset' | 'l4'

/**
 * Who cannot do offload (`err.reason` of `ERR_PLTAP_OFFLOAD_UNSUPPORTED`).
 *
 * @example
 * ```ts
 * if (err instanceof PltapError && err.reason === 'helper') console.warn('the vsys helper is too old for offload')
 * ```
 */
export type OffloadUnsupportedReason = 'kernel' | 'helper' | 'fd'

/** The optional fields of a {@link PltapError}. @internal */
interface PltapErrorFields {
  errno?: number
  syscall?: string
  script?: string
  reply?: string
  device?: string
  reason?: DeviceGoneReason | VnetReason | OffloadUnsupportedReason
  renamedTo?: string
  timeoutMs?: number
  frame?: number
  value?: number
  missing?: string[]
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
  // The optional fields are `declare`d: an error carries only the ones that apply, as
  // Node's SystemError does (no `errno: undefined` in util.inspect or Object.keys).

  /** An errno name (`'EPERM'`) for OS failures, or a {@link PltapErrorCode}. */
  readonly code: ErrorCode
  /** For OS failures: the negated errno (`-1` for `EPERM`), as in Node's SystemError. */
  declare readonly errno?: number
  /** For OS failures: the failing system call (`'ioctl'`, `'open'`, `'connect'`, ...). */
  declare readonly syscall?: string
  /** For `ERR_VSYS_SCRIPT`: the script's name. */
  declare readonly script?: string
  /** For `ERR_VSYS_SCRIPT`: everything the script wrote (stdout and stderr). */
  declare readonly reply?: string
  /** For `ERR_PLTAP_DEVICE_GONE`: the device's name when the `Netdev` opened it. */
  declare readonly device?: string
  /**
   * For `ERR_PLTAP_DEVICE_GONE`: what happened to the device; for `ERR_PLTAP_VNET_HDR`: the
   * rule that failed; for `ERR_PLTAP_OFFLOAD_UNSUPPORTED`: who lacks offload.
   */
  declare readonly reason?: DeviceGoneReason | VnetReason | OffloadUnsupportedReason
  /** For `ERR_PLTAP_DEVICE_GONE` with `reason: 'renamed'`: the device's name now. */
  declare readonly renamedTo?: string
  /** For `ERR_VSYS_TIMEOUT`: the deadline that passed, in milliseconds. */
  declare readonly timeoutMs?: number
  /** For `ERR_PLTAP_NATIVE_MISSING`: the platform package this platform needs (`'pltap-linux-x64-gnu'`). */
  declare readonly platformPackage?: string
  /** For `ERR_PLTAP_VNET_HDR`: the index of the offending frame in its burst. */
  declare readonly frame?: number
  /** For `ERR_PLTAP_VNET_HDR`: the offending value (a length, flag byte, offset, ...). */
  declare readonly value?: number
  /** For `ERR_PLTAP_OFFLOAD_UNSUPPORTED`: what is missing (`'IFF_VNET_HDR'`, `'tso4'`, ...). */
  declare readonly missing?: string[]

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
    if (extra.timeoutMs !== undefined) this.timeoutMs = extra.timeoutMs
    if (extra.frame !== undefined) this.frame = extra.frame
    if (extra.value !== undefined) this.value = extra.value
    if (extra.missing !== undefined) this.missing = [...extra.missing]
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
 * after a marker: `encode` in `crates/pltap-napi/src/error.rs`) into a {@link PltapError}.
 * Anything else, including a marker followed by malformed JSON, is returned unchanged.
 * `__test__/errors-decode.spec.ts` pins this against the native side's exact strings.
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
    if (typeof f !== 'object' || f === null || typeof f.code !== 'string' || typeof f.message !== 'string') return err
    // OS errors read like Node's: "EPERM: Operation not permitted, ioctl (TUNSETIFF tap%d)".
    const message =
      f.syscall !== undefined && f.description !== undefined ? `${f.code}: ${f.description}, ${f.syscall} (${f.op})` : f.message
    return new PltapError(f.code, message, f)
  } catch {
    return err
  }
}

/**
 * Decodes a failure the native side sends as data rather than throws (a snapshot's
 * `lastError`), in the same wire encoding as its thrown errors: a {@link PltapError}, or
 * `null` for none. A string the facade cannot decode still becomes a `PltapError`
 * (`ERR_PLTAP_INTERNAL`, with the string as its message), so the type holds.
 * @internal
 */
export function fromNativeWire(wire: string | null | undefined): PltapError | null {
  if (wire == null) return null
  const err = fromNative(new Error(wire))
  return err instanceof PltapError ? err : new PltapError('ERR_PLTAP_INTERNAL', wire)
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
