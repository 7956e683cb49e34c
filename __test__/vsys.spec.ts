import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { Netdev, PltapError } from '../ts/index.ts'
import {
  announceSkips,
  arpFrame,
  checkPromiscThenDown,
  devSerial,
  hasNetAdmin,
  ipAddr,
  ipFlags,
  ipLink,
  linkNames,
  OUTSIDER,
  procNetDev,
  RemoteFailure,
  SLICE,
  type SliceService,
  startSlice,
  startVsysd,
  type Vsysd,
  waitFor,
  withDevice,
} from './support.ts'

announceSkips('vsys.spec.ts')

// One helper for the file (the tests that stop a helper start their own).
let helper: Vsysd | undefined
test.before(async () => {
  if (hasNetAdmin) helper = await startVsysd()
})
test.after.always(async () => {
  await helper?.stop()
})

/** The slice's service half, stopped when the test ends. */
async function slice(t: { teardown(fn: () => unknown): void }, who = SLICE): Promise<SliceService> {
  const s = await startSlice(who)
  t.teardown(() => s.stop())
  return s
}

/** The MAC the kernel has for `ip` on `dev`, from `ip -j neigh`. */
function neighbour(dev: string, ip: string): string | undefined {
  const out = execFileSync('ip', ['-j', 'neigh', 'show', ip, 'dev', dev], { encoding: 'utf8' })
  return (JSON.parse(out) as Array<{ lladdr?: string }>)[0]?.lladdr
}

devSerial('the slice (uid 1000, no capabilities) opens, configures and uses its device through the helper', async (t) => {
  const s = await slice(t)
  const me = await s.call<{ uid: number; gid: number; groups: number[]; capEff: string; capPrm: string; capBnd: string }>('whoami')
  t.deepEqual([me.uid, me.gid, me.groups], [SLICE.uid, SLICE.gid, []])
  t.is(BigInt(`0x${me.capEff}`), 0n, 'no effective capabilities')
  t.is(BigInt(`0x${me.capPrm}`), 0n, 'no permitted capabilities')
  t.is(BigInt(`0x${me.capBnd}`), 0n, 'an empty bounding set')

  const opened = await s.call<{ realName: string; packetInfo: boolean; usesVsys: boolean; etheraddr: string }>('open', {
    name: 'sMain',
    vsysRoot: helper!.dir,
  })
  t.regex(opened.realName, /^tap1000-\d+$/)
  t.true(opened.packetInfo)
  t.true(opened.usesVsys)
  const dev = opened.realName

  t.deepEqual(await s.call('setConfig', { localIp: '198.18.82.1', localNetmask: 24 }), { localIp: '198.18.82.1', localNetmask: 24 })
  t.regex(ipAddr(dev), /inet 198\.18\.82\.1\/24 /)
  t.true(ipFlags(dev).includes('UP'))

  // The kernel's ARP request reaches the slice; the slice's reply teaches the kernel.
  const pinger = spawn('ping', ['-c', '30', '-i', '0.2', '-W', '1', '-n', '198.18.82.2'], { stdio: 'ignore' })
  t.teardown(() => pinger.kill())
  const req = await s.call<{ senderMac: string; senderIp: string }>('readArp', '198.18.82.2')
  t.is(req.senderIp, '198.18.82.1')
  t.is(req.senderMac, opened.etheraddr)
  const peerMac = '02:00:c6:12:52:02'
  await s.call('send', arpFrame(2, req.senderMac, peerMac, '198.18.82.2', req.senderMac, '198.18.82.1').toString('hex'))
  await waitFor('the kernel to learn the ARP reply', () => neighbour(dev, '198.18.82.2') === peerMac)

  const on = await s.call<{ promisc: boolean }>('setPromisc', true)
  t.true(on.promisc)
  t.true(ipFlags(dev).includes('PROMISC'))
  const off = await s.call<{ promisc: boolean }>('setPromisc', false)
  t.false(off.promisc)
  t.false(ipFlags(dev).includes('PROMISC'))

  await s.call('close')
  t.is(ipLink(dev), null, 'the device goes when the slice closes its descriptor')
  await waitFor('the helper to log vif_down', () => helper!.stderr().includes(`vif_down [${dev}]`))
})

devSerial('uid 1001 is refused: by the directory modes, and by the peer-credential check when given the group', async (t) => {
  const before = linkNames()
  const outsider = await slice(t, OUTSIDER)
  const e1 = await t.throwsAsync(outsider.call('open', { name: 'sOut1', vsysRoot: helper!.dir, timeoutMs: 5000 }), {
    instanceOf: RemoteFailure,
  })
  t.is(e1.remote.code, 'EACCES', e1.message)
  t.is(e1.remote.errno, -13)
  t.is(e1.remote.syscall, 'connect')

  const grouped = await slice(t, { ...OUTSIDER, groups: [SLICE.gid] })
  const e2 = await t.throwsAsync(grouped.call('open', { name: 'sOut2', vsysRoot: helper!.dir, timeoutMs: 5000 }), {
    instanceOf: RemoteFailure,
  })
  t.is(e2.remote.code, 'ERR_VSYS_REFUSED', e2.message)
  t.regex(e2.remote.message, /1001/, 'the refusal names the uid')
  await waitFor('the helper to log the refusal', () => /refus/i.test(helper!.stderr()) && helper!.stderr().includes('1001'))
  // Only the helper's names count: other spec files create their own devices meanwhile.
  t.deepEqual(
    linkNames().filter((n) => !before.includes(n) && /^t(ap|un)1000-\d+$/.test(n)),
    [],
    'no device was created for the outsider',
  )

  // The helper still serves the slice.
  const s = await slice(t)
  const ok = await s.call<{ realName: string }>('open', { name: 'sAfter', vsysRoot: helper!.dir })
  t.regex(ok.realName, /^tap1000-\d+$/)
  await s.call('close')
})

devSerial(
  'the slice (uid 1000, no capabilities) gets an offload device through the helper; an outsider asking for one is refused',
  async (t) => {
    const s = await slice(t)
    const opened = await s.call<{ realName: string; packetInfo: boolean; offload: { headerSize: number; rx: { tso4: boolean } } | null }>(
      'open',
      {
        name: 'sVnet',
        vsysRoot: helper!.dir,
        offload: true,
      },
    )
    t.regex(opened.realName, /^tap1000-\d+$/)
    t.true(opened.packetInfo, 'vsys devices keep tun_pi')
    t.is(opened.offload?.headerSize, 10, 'the unprivileged client set the header size itself')
    t.true(opened.offload?.rx.tso4, 'and negotiated TSO itself')
    const details = execFileSync('ip', ['-d', 'link', 'show', 'dev', opened.realName], { encoding: 'utf8' })
    t.regex(details, /vnet_hdr/, 'the kernel shows the descriptor with IFF_VNET_HDR')
    // The vnet framing works end to end for the slice: the kernel's ARP request arrives whole.
    await s.call('setConfig', { localIp: '198.18.83.1', localNetmask: 24 })
    const pinger = spawn('ping', ['-c', '30', '-i', '0.2', '-W', '1', '-n', '198.18.83.2'], { stdio: 'ignore' })
    t.teardown(() => pinger.kill())
    const req = await s.call<{ senderIp: string }>('readArp', '198.18.83.2')
    t.is(req.senderIp, '198.18.83.1')
    await s.call('close')

    // uid 1001 with the slice's group passes the directory modes; the extension does not get it past the peer-credential check.
    const before = linkNames()
    const grouped = await slice(t, { ...OUTSIDER, groups: [SLICE.gid] })
    const e = await t.throwsAsync(grouped.call('open', { name: 'sVnetOut', vsysRoot: helper!.dir, offload: true, timeoutMs: 5000 }), {
      instanceOf: RemoteFailure,
    })
    t.is(e.remote.code, 'ERR_VSYS_REFUSED', e.message)
    t.deepEqual(
      linkNames().filter((n) => !before.includes(n) && /^t(ap|un)1000-\d+$/.test(n)),
      [],
      'no device was created for the outsider',
    )
  },
)

devSerial('the slice: down and up again keep the address; two devices get distinct names', async (t) => {
  const s = await slice(t)
  const a = await s.call<{ realName: string }>('open', { name: 'sA', vsysRoot: helper!.dir })
  await s.call('setConfig', { localIp: '198.18.80.1', localNetmask: 24 })
  const down = await s.call<{ up: boolean }>('down')
  t.false(down.up)
  t.false(ipFlags(a.realName).includes('UP'))
  const up = await s.call<{ up: boolean }>('up')
  t.true(up.up)
  t.true(ipFlags(a.realName).includes('UP'))
  t.regex(ipAddr(a.realName), /inet 198\.18\.80\.1\/24 /)
  t.is((await s.call<{ lastError: string | null }>('state')).lastError, null)

  const other = await slice(t)
  const b = await other.call<{ realName: string }>('open', { name: 'sB', vsysRoot: helper!.dir })
  t.regex(b.realName, /^tap1000-\d+$/)
  t.not(a.realName, b.realName)
})

devSerial('the slice (uid 1000, no capabilities) forwards natively between two devices it got from the helper', async (t) => {
  const s = await slice(t)
  const a = await s.call<{ realName: string }>('open', { name: 'sFwdA', vsysRoot: helper!.dir })
  await s.call('setConfig', { localIp: '198.18.87.1', localNetmask: 24 })
  t.regex(a.realName, /^tap1000-\d+$/)
  const b = await s.call<{ realName: string; packetInfo: boolean }>('openPeer', {
    name: 'sFwdB',
    vsysRoot: helper!.dir,
    config: { localIp: '198.18.88.1', localNetmask: 24 },
  })
  t.true(b.packetInfo, 'both devices carry tun_pi, as vsys devices do')
  t.true(ipFlags(b.realName).includes('UP'))
  await s.call('forward')
  // The kernel asks for 198.18.87.2 on A; the slice's forward writes each request into B.
  const before = procNetDev(b.realName)!.rxPackets
  const pinger = spawn('ping', ['-c', '30', '-i', '0.2', '-W', '1', '-n', '198.18.87.2'], { stdio: 'ignore' })
  t.teardown(() => pinger.kill())
  type Counters = { frames: number; bytes: number; bursts: number; dropped: number; errors: number }
  // Asked again after each answer (an event, not a clock); ping's 30 requests bound it.
  let f = await s.call<Counters>('forwarded')
  while (!(f.frames >= 2 && procNetDev(b.realName)!.rxPackets - before >= f.frames)) {
    if (pinger.exitCode !== null) throw new Error(`ping ended before two requests were forwarded: ${JSON.stringify(f)}`)
    await new Promise((r) => setTimeout(r, 50))
    f = await s.call<Counters>('forwarded')
  }
  t.is(f.errors, 0)
  t.true(f.bytes >= f.frames * 42, JSON.stringify(f))
  pinger.kill()
  const end = await s.call<Counters>('stopForward')
  t.true(end.frames >= f.frames)
  t.is(end.errors, 0)
})

devSerial('close() runs vif_down for a device that vif_up brought up, and only then (A11)', async (t) => {
  // A helper of its own, so that its log holds only this test's requests.
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const downs = (): number =>
    own
      .stderr()
      .split('\n')
      .filter((l) => l.includes('vif_down [')).length

  const never = await slice(t)
  await never.call('open', { name: 'vNoRelease', vsysRoot: own.dir })
  await never.call('close')
  const s = await slice(t)
  const up = await s.call<{ realName: string }>('open', { name: 'vRelease', vsysRoot: own.dir })
  await s.call('setConfig', { localIp: '198.18.81.1', localNetmask: 24 })
  await waitFor('the helper to log vif_up', () => own.stderr().includes('vif_up ['))
  t.is(downs(), 0, 'no vif_down for the device that was never brought up')
  await s.call('close')
  // The helper logs after replying; its stderr reaches us a moment later.
  await waitFor('the helper to log vif_down', () => downs() === 1)
  t.regex(own.stderr(), new RegExp(`vif_down \\[${up.realName}\\]`))
  // One more request through the same helper: once its reply is logged, a second vif_down
  // for the closed device would have been logged before it.
  const probe = await slice(t)
  await probe.call('open', { name: 'vProbe', vsysRoot: own.dir })
  await probe.call('setConfig', { localIp: '198.18.84.1', localNetmask: 24 })
  await probe.call('setPromisc', true)
  await waitFor('the helper to log promisc', () => own.stderr().includes('promisc ['))
  t.is(downs(), 1, 'exactly once')
})

devSerial('two close() calls at once share one promise: neither settles before vif_down ran and the device is gone', async (t) => {
  // A helper of its own, so that its log holds only this test's requests.
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const s = await slice(t)
  const dev = await s.call<{ realName: string }>('open', { name: 'vCloseTwice', vsysRoot: own.dir })
  await s.call('setConfig', { localIp: '198.18.86.1', localNetmask: 24 }) // so close() runs vif_down
  const r = await s.call<{ samePromise: boolean; order: { which: string; closed: boolean; registered: boolean; linkGone: boolean }[] }>(
    'closeTwice',
  )
  t.true(r.samePromise, 'both calls return one promise')
  t.deepEqual(
    r.order.map((o) => o.which),
    ['second', 'first'],
    'each settled (in the order its handler was attached)',
  )
  for (const o of r.order) t.deepEqual(o, { which: o.which, closed: true, registered: false, linkGone: true }, o.which)
  t.is(ipLink(dev.realName), null)
  await waitFor('the helper to log vif_down', () => own.stderr().includes(`vif_down [${dev.realName}]`))
})

devSerial('up() before setConfig rejects with ERR_PLTAP_NOT_CONFIGURED', async (t) => {
  const s = await slice(t)
  const dev = await s.call<{ realName: string }>('open', { name: 'vNoCfg', vsysRoot: helper!.dir })
  const e = await t.throwsAsync(s.call('up'), { instanceOf: RemoteFailure })
  t.is(e.remote.code, 'ERR_PLTAP_NOT_CONFIGURED')
  t.is(e.remote.name, 'PltapError')
  t.false((await s.call<{ flags: { up: boolean } }>('state')).flags.up)
  t.false(ipFlags(dev.realName).includes('UP'))
})

devSerial('a script failure rejects with ERR_VSYS_SCRIPT and the reply (address outside the vnet)', async (t) => {
  const s = await slice(t)
  const dev = await s.call<{ realName: string }>('open', { name: 'vOut', vsysRoot: helper!.dir })
  const e = await t.throwsAsync(s.call('setConfig', { localIp: '198.19.0.1', localNetmask: 24 }), { instanceOf: RemoteFailure })
  t.is(e.remote.code, 'ERR_VSYS_SCRIPT')
  t.is(typeof e.remote.reply, 'string')
  t.true(e.remote.reply!.includes('not in netblock'), e.remote.reply)
  t.is(e.remote.script, 'vif_up')
  const state = await s.call<{ flags: { up: boolean }; lastError: string | null }>('state')
  t.false(state.flags.up)
  t.is(ipAddr(dev.realName).trim(), '')
  t.true(typeof state.lastError === 'string' && state.lastError.length > 0)
  // A good address then works, and clears lastError.
  await s.call('setConfig', { localIp: '198.18.81.1' })
  t.regex(ipAddr(dev.realName), /inet 198\.18\.81\.1\/24 /)
  t.is((await s.call<{ lastError: string | null }>('state')).lastError, null)
})

devSerial('root can still use the helper (and the slice after it: no lock file stands in the way)', async (t) => {
  const dev = await withDevice(t, { name: 'vRoot', allocator: 'vsys', vsysRoot: helper!.dir })
  await dev.setConfig({ localIp: '198.18.83.1', localNetmask: 24 })
  await checkPromiscThenDown(t, dev)
  const s = await slice(t)
  await s.call('open', { name: 'vAfterRoot', vsysRoot: helper!.dir })
  await s.call('setConfig', { localIp: '198.18.85.1', localNetmask: 24 })
  const flags = await s.call<{ promisc: boolean }>('setPromisc', true)
  t.true(flags.promisc)
})

devSerial('a stopped helper: open fails with ENOENT (its socket is gone)', async (t) => {
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const dev = await Netdev.open({ name: 'vStop1', allocator: 'vsys', vsysRoot: own.dir })
  await dev.close()
  t.true(existsSync(join(own.dir, 'fd_tuntap.control')))
  own.child.kill('SIGTERM')
  await new Promise((r) => own.child.once('exit', r))
  t.false(
    existsSync(join(own.dir, 'fd_tuntap.control')),
    `the helper removed its socket (exit ${own.child.exitCode}/${own.child.signalCode}; ${own.stderr()})`,
  )
  const e = await t.throwsAsync(Netdev.open({ name: 'vStop2', allocator: 'vsys', vsysRoot: own.dir }), { instanceOf: PltapError })
  t.true(['ENOENT', 'ECONNREFUSED'].includes(e.code), e.code)
  t.is(e.code, 'ENOENT')
  t.is(e.syscall, 'connect')
})

/** A fake helper listening on <dir>/fd_tuntap.control. */
async function fakeHelper(t: { teardown(fn: () => unknown): void }, onConnection: (s: Socket) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pltap-test-fake-vsys-'))
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    onConnection(s)
  })
  await new Promise<void>((r) => server.listen(join(dir, 'fd_tuntap.control'), r))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

test('a helper that closes without sending a descriptor: ERR_VSYS_REFUSED', async (t) => {
  let got = Buffer.alloc(0)
  const dir = await fakeHelper(t, (s) => {
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (got.length >= 4) s.end()
    })
  })
  const e = await t.throwsAsync(Netdev.open({ name: 'vRefused', allocator: 'vsys', vsysRoot: dir, timeoutMs: 30_000 }), {
    instanceOf: PltapError,
  })
  t.is(e.code, 'ERR_VSYS_REFUSED')
  t.true(got.length >= 4, 'the client sent its request')
  t.is(Netdev.get('vRefused'), undefined)
})

test('a helper that never answers: ERR_VSYS_TIMEOUT after timeoutMs', async (t) => {
  let connected = 0
  const dir = await fakeHelper(t, () => {
    connected++ // accept and say nothing
  })
  const started = Date.now()
  const e = await t.throwsAsync(Netdev.open({ name: 'vSilent', allocator: 'vsys', vsysRoot: dir, timeoutMs: 300 }), {
    instanceOf: PltapError,
  })
  t.is(e.code, 'ERR_VSYS_TIMEOUT')
  t.true(connected >= 1)
  t.true(Date.now() - started >= 250, 'it waited for the deadline')
})
