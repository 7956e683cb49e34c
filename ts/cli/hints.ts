/**
 * What the CLI says when something is missing: the OS package to install, the privilege to
 * get, or (for the native addon) the loader's own message. Shared by every command.
 * @internal
 * @module
 */
import { accessSync, constants, readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** The OS package that provides each external program the CLI runs (Debian/Ubuntu names). */
export const PROVIDERS: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  unshare: 'util-linux',
  setpriv: 'util-linux',
  ping: 'iputils-ping',
}

/** Whether `program` is an executable on `PATH`. */
export function onPath(program: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, program), constants.X_OK)
      return true
    } catch {}
  }
  return false
}

/** For each missing program: "needs ip: install iproute2 (apt-get install iproute2)". */
export function missingPrograms(programs: readonly string[]): string[] {
  return programs
    .filter((p) => !onPath(p))
    .map((p) => {
      const pkg = PROVIDERS[p] ?? p
      return `needs \`${p}\`, which is not on PATH: install ${pkg} (Debian/Ubuntu: apt-get install ${pkg})`
    })
}

const CAP_NET_ADMIN = 12
const CAP_SYS_ADMIN = 21

/** This process's effective capabilities (from /proc/self/status), or null if unreadable. */
function effectiveCaps(): bigint | null {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m ? BigInt(`0x${m[1]}`) : null
  } catch {
    return null
  }
}

/** Whether this process has `cap` in its effective set (true when it cannot tell). */
function hasCap(cap: number): boolean {
  const caps = effectiveCaps()
  return caps === null || (caps & (1n << BigInt(cap))) !== 0n
}

/**
 * What is missing to create a network namespace (CAP_SYS_ADMIN) and devices in it
 * (CAP_NET_ADMIN), or null when both are there.
 */
export function missingNetnsPrivilege(what: string): string | null {
  const missing = [hasCap(CAP_SYS_ADMIN) ? null : 'CAP_SYS_ADMIN', hasCap(CAP_NET_ADMIN) ? null : 'CAP_NET_ADMIN'].filter((c) => c !== null)
  if (missing.length === 0) return null
  return `${what} needs root (or ${missing.join(' and ')}): it creates a private network namespace (CAP_SYS_ADMIN) and devices in it (CAP_NET_ADMIN). Run it with sudo.`
}

/**
 * One message for an error that reached the top of a command: the error's own message, and
 * what to do for the failures users meet first. Never a stack trace.
 */
export function describeError(err: unknown, command = 'pltap'): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; syscall?: unknown; message?: unknown; path?: unknown }
  const message = typeof e.message === 'string' ? e.message : String(err)
  if (e.code === 'ERR_PLTAP_NATIVE_MISSING') return message // the loader's message says it all
  const prefix = message.startsWith('pltap') ? message : `${command}: ${message}`
  if (e.code === 'EPERM' || e.code === 'EACCES') {
    return `${prefix}\n  ${command} needs root or CAP_NET_ADMIN for this (creating or configuring a device: TUNSETIFF, SIOCSIFFLAGS); run it with sudo, or get the device from a vsys helper (allocator: 'vsys').`
  }
  if (e.code === 'ENOENT' && typeof e.syscall === 'string' && e.syscall.startsWith('spawn')) {
    const program = String(e.path ?? '')
    const pkg = PROVIDERS[program]
    if (pkg) return `${prefix}\n  ${command} needs \`${program}\`: install ${pkg} (Debian/Ubuntu: apt-get install ${pkg}).`
  }
  if (e.code === 'ENOENT' && /\/dev\/net\/tun/.test(message)) {
    return `${prefix}\n  /dev/net/tun is missing: load the tun module (modprobe tun), or in a container pass the device (docker run --device /dev/net/tun --cap-add NET_ADMIN).`
  }
  return prefix
}
