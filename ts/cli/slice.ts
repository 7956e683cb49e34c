/**
 * Running the service half of a vsys setup as the slice: an unprivileged uid with no
 * capabilities, started by root with `setpriv`, the way a PlanetLab sliver ran beside
 * the root context. Used by `pltap demo`, and by the test suite for the same purpose.
 * @internal
 * @module
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { chmodSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { vsysdUsage } from '../../binding.js'

/** A uid/gid pair to run as. */
export interface SliceIdentity {
  /** The uid (need not have a passwd entry). */
  uid: number
  /** The primary gid. */
  gid: number
  /** Supplementary groups (default: none). */
  groups?: readonly number[]
}

/**
 * `setpriv` arguments that run `argv` as `who` with every capability dropped (effective,
 * permitted, inheritable, ambient and the bounding set) and no supplementary groups unless
 * asked, dying with its parent.
 */
export function setprivArgs(who: SliceIdentity, argv: readonly string[]): string[] {
  const groups = who.groups && who.groups.length > 0 ? ['--groups', who.groups.join(',')] : ['--clear-groups']
  return [
    '--reuid',
    String(who.uid),
    '--regid',
    String(who.gid),
    ...groups,
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--pdeathsig',
    'SIGKILL',
    '--',
    ...argv,
  ]
}

/** Spawns `argv` as `who` (see {@link setprivArgs}). */
export function spawnAs(who: SliceIdentity, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('setpriv', setprivArgs(who, argv), options)
}

/** Whether every directory on the way to `path` is searchable, and `path` readable, by anyone. */
function readableByOthers(path: string): boolean {
  try {
    if ((statSync(path).mode & 0o004) === 0) return false
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false
      if (dir === dirname(dir)) return true
    }
  } catch {
    return false
  }
}

/** The native addon this process loaded (from /proc/self/maps). */
function loadedAddon(): string | undefined {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const path = line.slice(line.indexOf('/'))
    if (line.includes('/') && /pltap[^/]*\.node$/.test(path)) return path
  }
  return undefined
}

/**
 * The package's runtime (`dist/`, the loader, the addon) as a directory another uid can
 * read. That is the package itself when it is world-readable; otherwise (a checkout under
 * `/root`, say) a copy in a fresh temporary directory, which `dispose()` removes.
 */
export function runtimeForOthers(packageRoot: string): { root: string; dispose(): void } {
  const root = resolve(packageRoot)
  vsysdUsage() // loads the addon if it is not yet (the CLI loads it on first use), so that it is in /proc/self/maps
  const addon = loadedAddon()
  const files = [
    join(root, 'dist', 'index.js'),
    join(root, 'dist', 'cli', 'main.js'),
    join(root, 'binding.js'),
    join(root, 'binding.napi.cjs'),
  ]
  if (addon && [...files, addon].every(readableByOthers)) return { root, dispose() {} }
  const copy = mkdtempSync(join(tmpdir(), 'pltap-runtime-'))
  chmodSync(copy, 0o755)
  for (const entry of ['dist', 'binding.js', 'binding.napi.cjs', 'package.json'])
    cpSync(join(root, entry), join(copy, entry), { recursive: true })
  if (addon) cpSync(addon, join(copy, basename(addon)))
  openUp(copy)
  return { root: copy, dispose: () => rmSync(copy, { recursive: true, force: true }) }
}

/** `chmod -R a+rX`: files readable, directories searchable by anyone. */
function openUp(path: string): void {
  const st = statSync(path)
  chmodSync(path, st.mode | (st.isDirectory() ? 0o555 : 0o444))
  if (st.isDirectory()) for (const entry of readdirSync(path)) openUp(join(path, entry))
}
