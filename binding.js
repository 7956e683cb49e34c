// The native addon. Hand-written (unlike binding.napi.cjs, napi-rs's generated loader, and
// binding.d.ts, which types this module); it only
//  - replaces napi's generic "Cannot find native binding" error with one that names the
//    platform package that is missing and what to do (code ERR_PLTAP_NATIVE_MISSING, a
//    PltapError by its brand; napi's error is its `cause`);
//  - loads the addon at once (`import 'pltap'` fails early, with that message), except under
//    the pltap CLI (ts/cli/main.ts), where it loads on first use, so that `--help` and
//    `--version` work without it.
'use strict'

let binding
let failure

/** napi-rs's name for this platform: `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, ... */
function platformKey() {
  const { platform, arch } = process
  if (platform !== 'linux') return `${platform}-${arch}`
  if (arch === 'arm') return 'linux-arm-gnueabihf'
  let glibc = true
  try {
    glibc = Boolean(process.report.getReport().header.glibcVersionRuntime)
  } catch {}
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

/** The loader's reasons, one line each, without napi's generic headline and the WASI fallbacks pltap does not ship. */
function causes(err) {
  const lines = []
  for (let e = err, depth = 0; e && depth < 8; e = e.cause, depth++) {
    const all = Array.isArray(e.errors) ? e.errors : [e]
    for (const inner of all) {
      const line = String(inner?.message).split('\n')[0]
      if (!line.startsWith('Cannot find native binding.') && !/wasi/i.test(line)) lines.push(`    ${line}`)
    }
  }
  return lines
}

function missingNative(cause) {
  const pkg = require('./package.json')
  const key = platformKey()
  const name = `${pkg.name}-${key}`
  const prebuilt = Object.keys(pkg.optionalDependencies || {}).map((n) => n.slice(pkg.name.length + 1))
  let installed = false
  try {
    require.resolve(`${name}/package.json`)
    installed = true
  } catch {}
  const fromSource = `build it from source: in a clone of the pltap repository, "npm ci && npm run build" (needs Rust >= 1.88 and a C toolchain)`
  let lines
  if (!prebuilt.includes(key)) {
    lines = [
      `pltap: no prebuilt native addon for ${key} (pltap runs on Linux; prebuilt: ${prebuilt.join(', ')}).`,
      `  On Linux, ${fromSource}.`,
    ]
  } else if (installed) {
    lines = [
      `pltap: the native addon in ${name} is installed but failed to load (below).`,
      `  Reinstall pltap (rm -rf node_modules && npm install), or ${fromSource}.`,
    ]
  } else {
    lines = [
      `pltap: the native addon for ${key} is missing: the package ${name} is not installed.`,
      `  It is an optional dependency of pltap that npm installs on ${key} only. Install pltap with its`,
      '  optional dependencies (not --omit=optional, --no-optional or --ignore-optional); if node_modules',
      '  or package-lock.json came from another platform, delete both and run npm install again.',
      `  Or ${fromSource}.`,
    ]
  }
  const err = new Error([...lines, '  Loader errors:', ...causes(cause)].join('\n'), { cause })
  err.name = 'PltapError'
  err.code = 'ERR_PLTAP_NATIVE_MISSING'
  err.platformPackage = name
  Object.defineProperty(err, Symbol.for('pltap.error'), { value: true })
  return err
}

function load() {
  if (binding !== undefined) return binding
  if (failure !== undefined) throw failure
  try {
    binding = require('./binding.napi.cjs')
  } catch (err) {
    failure = missingNative(err)
    throw failure
  }
  return binding
}

const LAZY = Symbol.for('pltap.cli.lazyNative')
if (globalThis[LAZY] !== true) load()

module.exports = new Proxy(
  {},
  {
    get: (_target, prop) => load()[prop],
    has: (_target, prop) => prop in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor(_target, prop) {
      const d = Reflect.getOwnPropertyDescriptor(load(), prop)
      return d && { ...d, configurable: true }
    },
  },
)

// For ESM importers: Node reads the export names of a CommonJS module from its source
// (cjs-module-lexer), which finds them through this re-export. It never runs.
// biome-ignore lint/correctness/noConstantCondition: a hint for the lexer only
if (false) module.exports = require('./binding.napi.cjs')
