/**
 * Keeping the event loop alive while JavaScript waits on native work that does not (the
 * receive path's thread-safe function is weak and its loop-mode poll handle unreferenced,
 * so that a process with an open `Rx` still exits on its own; the in-process vsys helper
 * runs on threads of its own).
 * @internal
 * @module
 */

/**
 * Keeps the event loop alive until the returned function is called (a timer that never
 * fires, the usual way to hold a Node process open; the returned function is idempotent).
 */
export function keepAlive(): () => void {
  const timer = setInterval(() => {}, 2 ** 30)
  return () => clearInterval(timer)
}
