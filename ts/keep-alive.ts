/**
 * Keeping the event loop alive while JavaScript waits on native work that does not (the
 * receive path's thread-safe function is weak and its loop-mode poll handle unreferenced,
 * so that a process with an open `Rx` still exits on its own; the in-process vsys helper
 * runs on threads of its own).
 * @internal
 * @module
 */

/** Holders of the keep-alive in this thread (each worker has its own). */
let holders = 0
/** The one timer that holds the loop open: created once, referenced while `holders > 0`. */
let timer: NodeJS.Timeout | undefined

/**
 * Keeps the event loop alive until the returned function is called (idempotent). One
 * interval timer that never fires is shared by every holder and only referenced and
 * unreferenced as holders come and go: a read that waits and resolves at every burst
 * costs no timer creation.
 */
export function keepAlive(): () => void {
  if (holders++ === 0) {
    timer ??= setInterval(() => {}, 2 ** 30)
    timer.ref()
  }
  let held = true
  return () => {
    if (!held) return
    held = false
    if (--holders === 0) timer?.unref()
  }
}
