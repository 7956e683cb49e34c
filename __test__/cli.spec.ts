import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import {
  announceSkips,
  CLI,
  devTest,
  ipFlags,
  ipLink,
  procNetDev,
  quietIpv6,
  run,
  type Spawned,
  spawnCollecting,
  waitFor,
} from './support.ts'

announceSkips('cli.spec.ts')

const node = process.execPath

test('pltap --help prints the usage and exits 0', async (t) => {
  const r = await run(node, [CLI, '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^Usage: pltap <command>/)
  for (const cmd of ['demo', 'bridge', 'vsysd']) t.true(r.stdout.includes(cmd), cmd)
})

test('pltap with no command prints the usage on stderr and exits 2', async (t) => {
  const r = await run(node, [CLI])
  t.is(r.code, 2)
  t.regex(r.stderr, /Usage: pltap/)
})

test('demo --help', async (t) => {
  const r = await run(node, [CLI, 'demo', '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^Usage: pltap demo/)
})

test('bridge --help', async (t) => {
  const r = await run(node, [CLI, 'bridge', '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^Usage: pltap bridge \[options\] <ifA> <ifB>/)
})

test('vsysd --help', async (t) => {
  const r = await run(node, [CLI, 'vsysd', '--help'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /usage: pltap-vsysd --dir <path>/)
  t.true(r.stdout.includes('--vnet'))
})

test('an unknown command exits 2 with a message on stderr', async (t) => {
  const r = await run(node, [CLI, 'frobnicate'])
  t.is(r.code, 2)
  t.regex(r.stderr, /unknown command "frobnicate"/)
})

test('bridge with one argument exits 2', async (t) => {
  const r = await run(node, [CLI, 'bridge', 'brX0'])
  t.is(r.code, 2)
  t.regex(r.stderr, /expected two interface names/)
  t.is(ipLink('brX0'), null, 'nothing was created')
})

test('vsysd with a bad flag exits 2 and prints its usage', async (t) => {
  const r = await run(node, [CLI, 'vsysd', '--dir', '/tmp/x', '--vnet', 'nonsense'])
  t.is(r.code, 2)
  t.regex(r.stderr, /usage: pltap-vsysd/)
})

/** `pltap vsysd --dir <dir> --slice-uid 1000` as a child. */
function spawnVsysd(dir: string): Spawned {
  return spawnCollecting(node, [CLI, 'vsysd', '--dir', dir, '--slice-uid', '1000'])
}

function workDir(t: { teardown(fn: () => void): void }): string {
  const work = mkdtempSync(join(tmpdir(), 'pltap-test-cli-vsysd-'))
  chmodSync(work, 0o755)
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  return work
}

devTest('vsysd removes its entries on SIGHUP, like SIGTERM and SIGINT', async (t) => {
  for (const sig of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) {
    const dir = join(workDir(t), 'vsys')
    const h = spawnVsysd(dir)
    t.teardown(() => void (h.child.exitCode === null && h.child.kill('SIGKILL')))
    await waitFor('"serving"', () => h.stdout().includes('pltap-vsysd: serving'), 15_000)
    t.is(statSync(dir).mode & 0o7777, 0o750, 'D is root:slice 0750')
    t.true(existsSync(join(dir, 'fd_tuntap.control')))
    h.child.kill(sig)
    t.is((await h.closed).code, 0, `${sig}: ${h.stderr()}`)
    t.true(h.stderr().includes(`stopping (${sig})`), h.stderr())
    t.false(existsSync(dir), `${sig} removed the entries and the directory`)
  }
})

devTest('vsysd removes its entries on a SIGTERM that arrives while it starts', async (t) => {
  // SIGTERM as soon as the helper has created anything (its lock file comes first),
  // which is before or just after it prints "serving": either way nothing is left.
  for (let round = 0; round < 3; round++) {
    const dir = join(workDir(t), 'vsys')
    const h = spawnVsysd(dir)
    t.teardown(() => void (h.child.exitCode === null && h.child.kill('SIGKILL')))
    await waitFor('the helper to take its lock', () => existsSync(join(dir, '.pltap-vsysd.lock')) || h.child.exitCode !== null, 15_000)
    h.child.kill('SIGTERM')
    t.is((await h.closed).code, 0, h.stderr())
    t.false(existsSync(dir), `round ${round}: entries left behind: ${existsSync(dir) ? readdirSync(dir).join(' ') : ''}`)
  }
})

devTest('vsysd refuses an unsafe directory and a directory another helper serves (exit 1)', async (t) => {
  const work = workDir(t)
  const open = join(work, 'open')
  mkdirSync(open)
  chmodSync(open, 0o777)
  const r = await run(node, [CLI, 'vsysd', '--dir', open])
  t.is(r.code, 1, r.stderr)
  t.true(r.stderr.includes(`refusing to serve ${open}: it is writable by everyone (mode 0777)`), r.stderr)
  t.false(r.stderr.includes('usage:'), 'no usage text for a refusal')
  t.deepEqual(readdirSync(open), [])

  const dir = join(work, 'vsys')
  const first = spawnVsysd(dir)
  t.teardown(() => void (first.child.exitCode === null && first.child.kill('SIGKILL')))
  await waitFor('"serving"', () => first.stdout().includes('pltap-vsysd: serving'), 15_000)
  const before = readdirSync(dir).sort()
  const second = await run(node, [CLI, 'vsysd', '--dir', dir])
  t.is(second.code, 1, second.stderr)
  t.regex(second.stderr, /another pltap-vsysd \(pid \d+\) already serves it/)
  t.deepEqual(readdirSync(dir).sort(), before, "the first helper's entries are intact")
  first.child.kill('SIGTERM')
  t.is((await first.closed).code, 0, first.stderr())
  t.false(existsSync(dir))
})

devTest('bridge forwards frames between its two TAPs and prints counters on SIGTERM', async (t) => {
  const { child, stdout, stderr, closed } = spawnCollecting(node, [CLI, 'bridge', 'brA%d', 'brB%d'])
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await closed
  })
  const m = await waitFor(
    'the bridge to start',
    () => {
      if (child.exitCode !== null) throw new Error(`the bridge exited (${child.exitCode}): ${stderr()}`)
      return /forwarding between (\S+) and (\S+)/.exec(stderr())
    },
    30_000,
  )
  const [, a, b] = m
  t.regex(a!, /^brA\d+$/)
  t.regex(b!, /^brB\d+$/)
  t.true(ipFlags(a!).includes('UP'))
  t.true(ipFlags(b!).includes('UP'))
  quietIpv6(a!)
  quietIpv6(b!)

  // The kernel sends an ARP request out of brA (ping needs the peer's MAC); the bridge must
  // write it into brB, where the kernel counts it as received.
  execFileSync('ip', ['addr', 'add', '198.18.95.1/24', 'dev', a!])
  const before = procNetDev(b!)!.rxPackets
  const pinged = await run('/usr/bin/ping', ['-n', '-c', '1', '-W', '1', '198.18.95.2'])
  t.is(pinged.code, 1, 'nobody answers the ping (brB has no address)')
  await waitFor('brB to receive the forwarded frame', () => procNetDev(b!)!.rxPackets > before, 30_000)
  t.true(procNetDev(b!)!.rxPackets > before)

  child.kill('SIGTERM')
  t.is((await closed).code, 0, stderr())
  const json = JSON.parse(stdout()) as {
    forwarded: number
    dropped: number
    ports: Record<string, { rxPackets: number; txPackets: number }>
  }
  t.true(json.forwarded >= 1)
  t.is(json.dropped, 0)
  t.true(json.ports[a!]!.rxPackets >= 1, 'the bridge read from brA')
  t.true(json.ports[b!]!.txPackets >= 1, 'and wrote into brB')
  t.is(ipLink(a!), null)
  t.is(ipLink(b!), null)
})
