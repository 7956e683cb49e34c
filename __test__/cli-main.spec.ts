// The CLI's conventions (ts/cli/main.ts): usage errors, --version, help without the native
// addon, what it says when something is missing, and a demo that never outlives its reader.
import { execFileSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { vsysdUsage } from '../binding.js'
import { describeError } from '../ts/cli/hints.ts'
import { HELPER_USAGE } from '../ts/cli/vsysd.ts'
import { announceSkips, CLI, devTest, ROOT, run } from './support.ts'

announceSkips('cli-main.spec.ts')

const node = process.execPath
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** A temporary directory anyone can traverse, removed after the test. */
function tempDir(t: { teardown(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The package's runtime without its native addon: what a consumer has with the platform package missing. */
function withoutNative(t: { teardown(fn: () => void): void }): string {
  const dir = tempDir(t, 'pltap-test-nonative-')
  for (const entry of ['dist', 'binding.js', 'binding.napi.cjs', 'package.json'])
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  return dir
}

test('--version prints the package version; --version --json is data', async (t) => {
  const r = await run(node, [CLI, '--version'])
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout.trim(), VERSION)
  const j = await run(node, [CLI, '--version', '--json'])
  t.is(j.code, 0, j.stderr)
  t.like(JSON.parse(j.stdout), { pltap: VERSION, node: process.versions.node, platform: 'linux' })
})

for (const argv of [
  ['--foo'],
  ['demo', '--foo'],
  ['demo', 'extra'],
  ['demo', '--service'],
  ['demo', '--probe'],
  ['bridge', '--foo', 'a', 'b'],
  ['--json'],
]) {
  test(`usage error: pltap ${argv.join(' ')} exits 2 with the usage on stderr`, async (t) => {
    const r = await run(node, [CLI, ...argv])
    t.is(r.code, 2, r.stderr)
    t.regex(r.stderr, /Usage: pltap/)
    t.is(r.stdout, '')
  })
}

test('vsysd --die-with-parent refuses a stdin that is not a pipe (exit 2)', async (t) => {
  const r = await run(node, [CLI, 'vsysd', '--dir', '/tmp/pltap-never', '--die-with-parent'])
  t.is(r.code, 2)
  t.regex(r.stderr, /--die-with-parent needs stdin to be a pipe/)
  t.false(existsSync('/tmp/pltap-never'))
})

test("the CLI's copy of the helper's usage is the helper's", (t) => {
  t.is(HELPER_USAGE, vsysdUsage())
})

test('help and --version work without the native addon; a command that needs it names the platform package', async (t) => {
  const dir = withoutNative(t)
  const cli = join(dir, 'dist', 'cli', 'main.js')
  for (const argv of [['--help'], ['--version'], ['demo', '--help'], ['bridge', '--help'], ['vsysd', '--help']]) {
    const without = await run(node, [cli, ...argv])
    const withNative = await run(node, [CLI, ...argv])
    t.is(without.code, 0, `${argv.join(' ')}: ${without.stderr}`)
    t.is(without.stdout, withNative.stdout, argv.join(' '))
  }
  const r = await run(node, [cli, 'bridge', 'nnA0', 'nnB0'])
  t.is(r.code, 1)
  t.regex(r.stderr, /the package pltap-linux-x64-gnu is not installed/)
  t.regex(r.stderr, /npm run build/)
  t.notRegex(r.stderr, /npm has a bug|wasi|\n\s+at /, 'no napi headline, no WASI noise, no stack trace')
})

test("import 'pltap' without the native addon fails at once with ERR_PLTAP_NATIVE_MISSING", async (t) => {
  const dir = withoutNative(t)
  const script = `try { require(${JSON.stringify(join(dir, 'dist', 'index.js'))}); process.exit(3) } catch (e) {
    console.log(JSON.stringify({ code: e.code, name: e.name, pkg: e.platformPackage, cause: e.cause instanceof Error, msg: e.message })) }`
  const r = await run(node, ['-e', script])
  t.is(r.code, 0, r.stderr)
  const e = JSON.parse(r.stdout) as { code: string; name: string; pkg: string; cause: boolean; msg: string }
  t.like(e, { code: 'ERR_PLTAP_NATIVE_MISSING', name: 'PltapError', pkg: 'pltap-linux-x64-gnu', cause: true })
  t.regex(e.msg, /optional dependencies/)
})

test('describeError: EPERM says which privilege, spawn ENOENT which package', (t) => {
  const eperm = Object.assign(new Error('EPERM: Operation not permitted, ioctl (TUNSETIFF tap%d)'), { code: 'EPERM', syscall: 'ioctl' })
  t.regex(describeError(eperm, 'pltap bridge'), /needs root or CAP_NET_ADMIN/)
  const noIp = Object.assign(new Error('spawn ip ENOENT'), { code: 'ENOENT', syscall: 'spawn ip', path: 'ip' })
  t.regex(describeError(noIp), /install iproute2/)
  t.notRegex(describeError(new Error('plain')), /\n/)
})

test('demo without `ip` on PATH says to install iproute2 (and changes nothing)', async (t) => {
  const bin = tempDir(t, 'pltap-test-bin-')
  for (const p of ['unshare', 'setpriv', 'ping', 'sh']) {
    const at = execFileSync('sh', ['-c', `command -v ${p} || true`], { encoding: 'utf8' }).trim()
    if (at) symlinkSync(at, join(bin, p))
  }
  const r = await run(node, [CLI, 'demo'], { env: { ...process.env, PATH: bin, PLTAP_PRIVATE_NETNS: '' } })
  t.is(r.code, 1)
  t.regex(r.stderr, /needs `ip`.*install iproute2/)
})

devTest('demo as an unprivileged uid says it needs root', async (t) => {
  const dir = withoutNative(t) // the check runs before anything loads the addon
  const r = await run(
    'setpriv',
    [
      '--reuid=1000',
      '--regid=1000',
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--',
      node,
      join(dir, 'dist', 'cli', 'main.js'),
      'demo',
    ],
    { env: { ...process.env, PLTAP_PRIVATE_NETNS: '' } },
  )
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /pltap demo needs root \(or CAP_SYS_ADMIN and CAP_NET_ADMIN\)/)
})

devTest('bridge as an unprivileged uid: EPERM with the privilege it needs, no stack trace', async (t) => {
  const dir = tempDir(t, 'pltap-test-runtime-')
  for (const entry of ['dist', 'binding.js', 'binding.napi.cjs', 'package.json', 'pltap.linux-x64-gnu.node'])
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true })
  execFileSync('chmod', ['-R', 'a+rX', dir])
  const r = await run('setpriv', [
    '--reuid=1000',
    '--regid=1000',
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
    node,
    join(dir, 'dist', 'cli', 'main.js'),
    'bridge',
    'epA0',
    'epB0',
  ])
  t.is(r.code, 1, r.stderr)
  t.regex(r.stderr, /EPERM|EACCES/)
  t.regex(r.stderr, /needs root or CAP_NET_ADMIN/)
  t.notRegex(r.stderr, /\n\s+at /)
})

devTest('demo | head -1 leaves no helper, no service half and no files behind', async (t) => {
  // Everything the demo creates is under this TMPDIR, and every process it starts names it.
  const tmp = tempDir(t, 'pltap-test-head-')
  const r = await run('sh', ['-c', `"${node}" "${CLI}" demo | head -1`], { env: { ...process.env, TMPDIR: tmp }, timeoutMs: 120_000 })
  // sh returns once both ends of the pipe exited, and the demo exits only after its
  // helper and service half did: so nothing may be left now.
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^\[demo\] vsys helper serving /)
  t.is(r.stdout.split('\n').filter(Boolean).length, 1)
  t.notRegex(r.stderr, /\n\s+at |Unhandled 'error'/, 'no stack trace on EPIPE')
  const pgrep = await run('pgrep', ['-af', '--', tmp]) // pgrep never lists itself
  const left = pgrep.stdout.trim()
  t.is(left, '', 'processes left behind')
  t.deepEqual(readdirSync(tmp), [], 'files left behind')
})

devTest('demo --json: the outcome as one JSON object on stdout, the log on stderr', async (t) => {
  const tmp = tempDir(t, 'pltap-test-json-')
  const r = await run(node, [CLI, 'demo', '--json'], { env: { ...process.env, TMPDIR: tmp }, timeoutMs: 120_000 })
  t.is(r.code, 0, r.stderr)
  const lines = r.stdout.split('\n').filter(Boolean)
  t.is(lines.length, 1, 'only the outcome on stdout')
  const outcome = JSON.parse(lines[0]!) as { ok: boolean; failed: string[]; pings: { sent: number; received: number } }
  t.like(outcome, { ok: true, failed: [], pings: { sent: 5, received: 5 } })
  t.regex(r.stderr, /\[demo\] vsys helper serving/)
  t.deepEqual(readdirSync(tmp), [], 'files left behind')
})
