/**
 * A Netdev's link state on the JS thread: the snapshot its getters report, the `'change'`
 * and `'removed'` announcements, and the background retry of a failed link change.
 *
 * The snapshot is renewed by the kernel's own announcements: the native side keeps one
 * rtnetlink subscription per network namespace (link and IPv4/IPv6 address groups), with a
 * thread blocked on its socket, and tells this Netdev through a thread-safe function that
 * does not keep the event loop alive. There is no polling timer: `flags` and `addresses`
 * are right with or without listeners, and nothing runs while nothing changes.
 * @internal
 * @module
 */

import type { NativeNetdev, NativeObservedLink, NativeSnapshot } from '../../binding.js'
import { type DeviceGoneReason, fromNative, fromNativeWire, nativeAsync, PltapError } from '../errors.js'
import type { NetdevChange, NetdevRemoved } from './types.js'

/**
 * Owns what the `Netdev` reports about its link. The retry timer is `unref`'d: a device
 * with a pending retry does not keep the process alive.
 */
export class LinkState {
  readonly #native: NativeNetdev
  readonly #realName: string
  readonly #announce: (change: NetdevChange) => void
  readonly #announceRemoved: (removed: NetdevRemoved) => void
  /**
   * What `flags`, `changeSeq` and `lastError` report: one snapshot of the native state,
   * replaced only in `#refresh()`, which also announces it as a `'change'`.
   */
  #snapshot: NativeSnapshot
  /** The addresses and MTU of the same moment as `#snapshot`. */
  #link: NativeObservedLink
  /** `#snapshot.lastError` decoded, once per failure (the same object while it is unchanged). */
  #lastError: PltapError | null
  /**
   * Why the device is gone, while it is (announced as `'removed'` when it goes). A rename or
   * move can be undone by whoever made it; a later refresh that finds the device under its
   * name and ifindex again clears this.
   */
  #removed: DeviceGoneReason | null = null
  #retry: NodeJS.Timeout | undefined
  #stopped = false

  /**
   * `announce` emits a `'change'`, `announceRemoved` a `'removed'`; both run on this thread,
   * after the snapshot is replaced.
   */
  constructor(
    nativeDev: NativeNetdev,
    realName: string,
    announce: (change: NetdevChange) => void,
    announceRemoved: (removed: NetdevRemoved) => void,
  ) {
    this.#native = nativeDev
    this.#realName = realName
    this.#announce = announce
    this.#announceRemoved = announceRemoved
    this.#snapshot = nativeDev.snapshot()
    this.#link = nativeDev.observedLink()
    this.#lastError = fromNativeWire(this.#snapshot.lastError)
    try {
      nativeDev.watch(() => {
        if (!this.#stopped) this.#refresh()
      })
    } catch (err) {
      // Without the subscription the state is still renewed by this Netdev's own changes.
      process.emitWarning(`no rtnetlink subscription for ${realName}: ${(err as Error).message}`, { code: 'PLTAP_LINK_MONITOR' })
    }
  }

  /** The snapshot last announced (or taken at open). */
  get snapshot(): NativeSnapshot {
    return this.#snapshot
  }

  /** The addresses and MTU of the snapshot. */
  get link(): NativeObservedLink {
    return this.#link
  }

  /** The last failure of the snapshot, as a `PltapError`. */
  get lastError(): PltapError | null {
    return this.#lastError
  }

  /** Why the device is gone (`'deleted'`, `'renamed'`, `'moved'`), or `null` while it is there. */
  get removed(): DeviceGoneReason | null {
    return this.#removed
  }

  /**
   * Brings the kernel to the desired state (the native side runs the pending link changes
   * off the JS thread), then takes a new snapshot. A failure rejects and schedules a retry.
   */
  async reconcile(): Promise<void> {
    const nativeDev = this.#native
    this.#cancelRetry()
    try {
      const warnings = await nativeAsync(nativeDev.reconcile())
      for (const w of warnings) process.emitWarning(w, { code: 'PLTAP_VSYS_OUTPUT', detail: `vsys reply on ${this.#realName}` })
    } catch (err) {
      this.#scheduleRetry()
      throw err
    } finally {
      if (!this.#stopped) this.#refresh()
    }
  }

  /** Re-reads the kernel now (after a change this Netdev made itself, e.g. a namespace move). */
  refreshNow(): void {
    if (!this.#stopped) this.#refresh()
  }

  /** For good (the device is closing): no more announcements or retries. */
  stop(): void {
    this.#stopped = true
    this.#cancelRetry()
    try {
      this.#native.unwatch()
    } catch {
      // nothing to undo
    }
  }

  /**
   * After a failed link change the desired state stays wanted: retry in the background
   * with exponential backoff (200 ms doubling to 30 s, kept in the native reconciler)
   * until it succeeds, a new change is asked for, or the device closes. The timer does
   * not keep the process alive; `Netdev.lastError` tells the last failure.
   */
  #scheduleRetry(): void {
    if (this.#stopped) return
    const delay = this.#native.retryInMs()
    if (delay === null) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      this.reconcile().catch(() => {}) // a further failure schedules the next retry
    }, delay)
    this.#retry.unref()
  }

  #cancelRetry(): void {
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
  }

  /**
   * Re-reads the kernel state, takes the new snapshot and announces a `'change'` if the
   * observed state moved since the last one, then a `'removed'` the first time the device
   * is found gone: the only place the snapshot changes.
   */
  #refresh(): void {
    let gone: PltapError | undefined
    try {
      this.#native.refresh()
    } catch (err) {
      // The interface may have vanished; the snapshot is still taken, for the failure
      // that a reconcile may just have recorded (and, once gone, the emptied state).
      const e = fromNative(err)
      if (e instanceof PltapError && e.code === 'ERR_PLTAP_DEVICE_GONE') gone = e
    }
    const prev = this.#snapshot
    const next = this.#native.snapshot()
    this.#snapshot = next
    this.#link = gone ? { addresses: [], mtu: this.#link.mtu } : this.#native.observedLink()
    if (next.lastError !== prev.lastError) this.#lastError = fromNativeWire(next.lastError)
    if (next.changeSeq !== prev.changeSeq) {
      const o = next.observed
      this.#announce({
        flags: { up: o.up, promisc: o.promisc, running: o.running },
        address: o.address != null ? `${o.address}/${o.prefix}` : null,
        addresses: [...this.#link.addresses],
        mtu: this.#link.mtu,
        changeSeq: next.changeSeq,
      })
    }
    if (gone === undefined) {
      this.#removed = null
    } else if (this.#removed === null && gone.reason !== undefined) {
      // An ERR_PLTAP_DEVICE_GONE error: its reason is a DeviceGoneReason.
      const reason = gone.reason as DeviceGoneReason
      this.#removed = reason
      this.#announceRemoved({ reason, error: gone })
    }
  }
}
