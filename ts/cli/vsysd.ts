/**
 * `pltap vsysd`: the vsys-compatible helper, served from this process.
 * @internal
 * @module
 */
import { vsysdStart, vsysdUsage } from '../../binding.js'
import { fromNative } from '../errors.js'
import { keepAlive } from '../keep-alive.js'

/** The signals that stop the helper (the `pltap-vsysd` binary stops on the same three). */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const

/**
 * Runs the helper until SIGTERM, SIGINT or SIGHUP; resolves with the exit code: 0 after
 * a signal, 2 for bad flags, 1 when the helper cannot start (e.g. an unsafe directory,
 * or another helper serving it).
 *
 * The signal handlers are installed before the helper creates anything: Node runs them
 * from the event loop, so a signal that arrives while the entries are being created is
 * handled right after, and the entries are removed then, never left behind.
 */
export function runVsysd(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(vsysdUsage())
    return Promise.resolve(0)
  }
  return new Promise((resolve) => {
    let server: ReturnType<typeof vsysdStart> | undefined
    let done = false
    const endKeepAlive = keepAlive() // the helper serves from native threads
    const finish = (code: number): void => {
      done = true
      endKeepAlive()
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal)
      resolve(code)
    }
    function onSignal(sig: NodeJS.Signals): void {
      if (done) return
      console.error(`pltap-vsysd: stopping (${sig})`)
      server?.stop()
      finish(0)
    }
    for (const sig of STOP_SIGNALS) process.on(sig, onSignal)
    try {
      server = vsysdStart(args)
    } catch (err) {
      const e = fromNative(err) as Error & { code?: string }
      console.error(`pltap vsysd: ${e.message}`)
      const badFlags = e.code === undefined || e.code === 'InvalidArg'
      if (badFlags) console.error(vsysdUsage())
      finish(badFlags ? 2 : 1)
      return
    }
    console.log(`pltap-vsysd: serving ${server.dir}`)
  })
}
