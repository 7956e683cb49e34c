/**
 * `pltap vsysd`: the vsys-compatible helper, served from this process.
 * @internal
 * @module
 */
import { fstatSync } from 'node:fs'
import { vsysdStart } from '../../binding.js'
import { fromNative } from '../errors.js'
import { keepAlive } from '../keep-alive.js'

/**
 * The helper's own usage (crates/pltap-vsysd's, which `vsysdUsage()` returns), kept here so
 * that `pltap vsysd --help` works without the native addon; __test__/cli.spec.ts fails when
 * the two differ.
 */
export const HELPER_USAGE = `usage: pltap-vsysd --dir <path> [--slice-uid <n>] [options]

Serves a vsys frontend directory: fd_tuntap.control, vif_up, vif_down and promisc.
Run it as root; \`--dir D --slice-uid N\` alone lets uid N (no capabilities, no extra
groups) allocate, configure and use its devices.

  --dir <path>            frontend directory (created if missing; see below)
  --slice-uid <n>         slice uid: devices are tap<n>-N / tun<n>-N (default 1000)
  --slice-name <s>        slice name, for the logs (default pl_slice)
  --vnet <a.b.c.d/len>    the slice's netblock, vsys_vnet (default 198.18.0.0/16)
  --group <gid>           group of the directory and entries (default: the slice uid's
                          primary gid from passwd, or gid <n> if it has no entry)
  --owner <uid>           owner of the FIFOs and the socket (default 0, root)
  --mode <octal>          mode of the FIFOs and the socket, rw bits only (default 0660)
  --allow-uid <n>         another uid fd_tuntap serves (repeatable; the slice uid and
                          root are always served)
  --max-devices <n>       most tap<n>-*/tun<n>-* devices at once (default 16)
  --max-connections <n>   most fd_tuntap connections served at once (default 16)
  --vnet-hdr <allow|refuse>  serve fd_tuntap requests for devices with virtio-net
                          headers (IFF_VNET_HDR, for offload; default allow)
  --help                  this text

Ownership: the directory is owned by root, group <gid>, mode derived from --mode
(rwx for root; r-x for the group if --mode gives it access or --owner is not root;
r-x for others if --mode gives them access: 0660 -> 0750, 0666 -> 0755, 0600 -> 0700).
The FIFOs and fd_tuntap.control are <owner>:<gid> with --mode, set with fchown/fchmod
(the umask does not matter). The helper refuses a --dir that is a symlink, not a
directory, not owned by root, or writable by group or others, and one under a parent
that is not owned by root or is writable by others without the sticky bit.

One helper per directory: it holds an flock on <dir>/.pltap-vsysd.lock (root, 0600)
and a second helper refuses to start. It removes only the entries it created: on stop,
the entries first, then the lock file, then the directory if it created it.

Requests: a FIFO request is complete at EOF, or when it ends with a newline and no
byte came for 200 ms; an empty one gets no reply; a reply nobody reads is discarded.
fd_tuntap serves the slice uid, root and --allow-uid; a refusal is one text line
("refused: ...\\n") sent without a descriptor.

Prints "pltap-vsysd: serving <dir>" when ready; stops on SIGTERM, SIGINT or SIGHUP.`

/** What `pltap vsysd` adds to the helper's flags. */
export const USAGE = `${HELPER_USAGE}

pltap vsysd only:
  --die-with-parent       stop (cleanly, as on SIGTERM) when stdin reaches EOF: give it a
                          pipe from the parent, which closes when the parent dies`

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
export function runVsysd(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE)
    return Promise.resolve(0)
  }
  // The helper's flags are parsed by the helper itself (the same parser as the pltap-vsysd
  // binary, strict: an unknown flag is a usage error); only this one is pltap vsysd's.
  const dieWithParent = argv.includes('--die-with-parent')
  const args = argv.filter((a) => a !== '--die-with-parent')
  if (dieWithParent && !stdinIsPipe()) {
    console.error(`pltap vsysd: --die-with-parent needs stdin to be a pipe from the parent process\n\n${USAGE}`)
    return Promise.resolve(2)
  }
  return new Promise((resolve) => {
    let server: ReturnType<typeof vsysdStart> | undefined
    let done = false
    const endKeepAlive = keepAlive() // the helper serves from native threads
    const finish = (code: number): void => {
      done = true
      endKeepAlive()
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal)
      if (dieWithParent) process.stdin.destroy()
      resolve(code)
    }
    function onSignal(why: string): void {
      if (done) return
      console.error(`pltap-vsysd: stopping (${why})`)
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
      if (badFlags) console.error(USAGE)
      else if (e.code === 'EPERM' || e.code === 'EACCES')
        console.error('pltap vsysd: run the helper as root (it creates devices: CAP_NET_ADMIN)')
      finish(badFlags ? 2 : 1)
      return
    }
    if (dieWithParent) {
      // The parent holds the pipe's other end: EOF means it closed it or died.
      process.stdin.on('data', () => {})
      process.stdin.once('end', () => onSignal('stdin EOF'))
      process.stdin.once('error', () => onSignal('stdin error'))
    }
    console.log(`pltap-vsysd: serving ${server.dir}`)
  })
}

/** Whether fd 0 is a pipe or a socket (what `--die-with-parent` watches). */
function stdinIsPipe(): boolean {
  try {
    const st = fstatSync(0)
    return st.isFIFO() || st.isSocket()
  } catch {
    return false
  }
}

/** `pltap vsysd [flags]`; resolves with the exit status (see {@link runVsysd}). */
export function run(argv: string[]): Promise<number> {
  return runVsysd(argv)
}
