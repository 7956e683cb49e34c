/**
 * `pltap vsysd`: the vsys-compatible helper, served from this process.
 * @internal
 * @module
 */
import { vsysdStart, vsysdUsage } from '../../binding.js'
import { fromNative } from '../errors.js'

/** Runs the helper until SIGTERM/SIGINT; resolves with the exit code. */
export function runVsysd(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(vsysdUsage())
    return Promise.resolve(0)
  }
  let server
  try {
    server = vsysdStart(args)
  } catch (err) {
    const e = fromNative(err) as Error
    console.error(`pltap vsysd: ${e.message}`)
    if (!('code' in e) || (e as { code?: string }).code === 'InvalidArg') console.error(vsysdUsage())
    return Promise.resolve(2)
  }
  console.log(`pltap-vsysd: serving ${server.dir}`)
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30)
    const stop = (sig: string): void => {
      console.error(`pltap-vsysd: stopping (${sig})`)
      clearInterval(keepAlive)
      server.stop()
      resolve(0)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
