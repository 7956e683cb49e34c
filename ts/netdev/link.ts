/**
 * A Netdev's link state on the JS thread: the snapshot its getters report, the `'change'`
 * announcements, the background retry of a failed link change, and the polling while
 * someone listens for `'change'`.
 * @internal
 * @module
 */

import type { NativeNetdev, NativeSnapshot } from '../../binding.js'
import { fromNativeWire, nativeAsync, type PltapError } from '../errors.js'
import type { NetdevChange } from './types.js'

/** How often the kernel is re-read while there are `'change'` listeners. */
const POLL_MS = 250

/**
 * Owns what the `Netdev` reports about its link and the timers that keep it current. Both
 * timers are `unref`'d: a device with a pending retry or a listener does not keep the
 * process alive.
 */
export class LinkState {
  readonly #native: NativeNetdev
  readonly #realName: string
  readonly #announce: (change: NetdevChange) => void
  /**
   * What `flags`, `changeSeq` and `lastError` report: one snapshot of the native state,
   * replaced only in `#refresh()`, which also announces it as a `'change'`.
   */
  #snapshot: NativeSnapshot
  /** `#snapshot.lastError` decoded, once per failure (the same object while it is unchanged). */
  #lastError: PltapError | null
  #poll: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  #stopped = false

  /** `announce` emits a `'change'`; it runs on this thread, after the snapshot is replaced. */
  constructor(nativeDev: NativeNetdev, realName: string, announce: (change: NetdevChange) => void) {
    this.#native = nativeDev
    this.#realName = realName
    this.#announce = announce
    this.#snapshot = nativeDev.snapshot()
    this.#lastError = fromNativeWire(this.#snapshot.lastError)
  }

  /** The snapshot last announced (or taken at open). */
  get snapshot(): NativeSnapshot {
    return this.#snapshot
  }

  /** The last failure of the snapshot, as a `PltapError`. */
  get lastError(): PltapError | null {
    return this.#lastError
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

  /** Polls the kernel for changes made behind the Netdev's back (while `'change'` has listeners). */
  startPolling(): void {
    if (this.#poll !== undefined || this.#stopped) return
    this.#poll = setInterval(() => this.#refresh(), POLL_MS)
    this.#poll.unref()
  }

  /** Stops polling. */
  stopPolling(): void {
    if (this.#poll !== undefined) clearInterval(this.#poll)
    this.#poll = undefined
  }

  /** For good (the device is closing): no more polling, retries or announcements. */
  stop(): void {
    this.#stopped = true
    this.stopPolling()
    this.#cancelRetry()
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
   * observed state moved since the last one: the only place the snapshot changes.
   */
  #refresh(): void {
    try {
      this.#native.refresh()
    } catch {
      // The interface may have vanished (the next call will say so); the snapshot is
      // still taken, for the failure that a reconcile may just have recorded.
    }
    const prev = this.#snapshot
    const next = this.#native.snapshot()
    this.#snapshot = next
    if (next.lastError !== prev.lastError) this.#lastError = fromNativeWire(next.lastError)
    if (next.changeSeq !== prev.changeSeq) {
      const o = next.observed
      this.#announce({
        flags: { up: o.up, promisc: o.promisc, running: o.running },
        address: o.address != null ? `${o.address}/${o.prefix}` : null,
        changeSeq: next.changeSeq,
      })
    }
  }
}
