import test from 'ava'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { type Server, type Socket, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Netdev, PltapError } from '../ts/index.ts'
import { type Vsysd, announceSkips, checkPromiscThenDown, devSerial, hasNetAdmin, ipAddr, ipFlags, ipLink, startVsysd, waitFor } from './support.ts'

announceSkips('vsys.spec.ts')

// One helper for the file (the tests that stop a helper start their own).
let helper: Vsysd | undefined
test.before(async () => {
  if (hasNetAdmin) helper = await startVsysd()
})
test.after.always(async () => {
  await helper?.stop()
})

devSerial('open through the helper: tap1000-N, packetInfo, usesVsys; setConfig, promisc, down, up', async (t) => {
  const dev = await Netdev.open({ name: 'vMain', allocator: 'vsys', vsysRoot: helper!.dir })
  t.teardown(() => dev.close())
  t.regex(dev.realName, /^tap1000-\d+$/)
  t.is(dev.mode, 'tap')
  t.true(dev.packetInfo)
  t.true(dev.usesVsys)
  t.not(ipLink(dev.realName), null)
  t.regex(dev.etheraddr, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)

  await dev.setConfig({ localIp: '198.18.80.1', localNetmask: 24 })
  t.deepEqual(dev.getConfig(), { localIp: '198.18.80.1', localNetmask: 24 })
  t.regex(ipAddr(dev.realName), /inet 198\.18\.80\.1\/24 /)
  t.true(ipFlags(dev.realName).includes('UP'))
  t.true(dev.flags.up)
  t.is(dev.lastError, null)

  await checkPromiscThenDown(t, dev)
  await dev.up()
  t.true(dev.flags.up)
  t.regex(ipAddr(dev.realName), /inet 198\.18\.80\.1\/24 /)

  const name = dev.realName
  await dev.close()
  t.is(ipLink(name), null, 'the helper-made device goes when our descriptor closes')
})

devSerial('close() runs vif_down for a device that vif_up brought up, and only then (A11)', async (t) => {
  // A helper of its own, so that its log holds only this test's requests.
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const downs = (): number => own.stderr().split('\n').filter((l) => l.includes('vif_down [')).length

  const never = await Netdev.open({ name: 'vNoRelease', allocator: 'vsys', vsysRoot: own.dir })
  await never.close()
  const up = await Netdev.open({ name: 'vRelease', allocator: 'vsys', vsysRoot: own.dir })
  await up.setConfig({ localIp: '198.18.81.1', localNetmask: 24 })
  await waitFor('the helper to log vif_up', () => own.stderr().includes('vif_up ['), 30_000)
  t.is(downs(), 0, 'no vif_down for the device that was never brought up')
  await up.close()
  // The helper logs after replying; its stderr reaches us a moment later.
  await waitFor('the helper to log vif_down', () => downs() === 1, 30_000)
  t.regex(own.stderr(), new RegExp(`vif_down \\[${up.realName}\\]`))
  await new Promise((r) => setTimeout(r, 200))
  t.is(downs(), 1, 'exactly once')
})

devSerial('two vsys devices get distinct names', async (t) => {
  const a = await Netdev.open({ name: 'vA', allocator: 'vsys', vsysRoot: helper!.dir })
  t.teardown(() => a.close())
  const b = await Netdev.open({ name: 'vB', allocator: 'vsys', vsysRoot: helper!.dir })
  t.teardown(() => b.close())
  t.regex(b.realName, /^tap1000-\d+$/)
  t.not(a.realName, b.realName)
})

devSerial('up() before setConfig rejects with ERR_PLTAP_NOT_CONFIGURED', async (t) => {
  const dev = await Netdev.open({ name: 'vNoCfg', allocator: 'vsys', vsysRoot: helper!.dir })
  t.teardown(() => dev.close())
  const e = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_NOT_CONFIGURED')
  t.false(dev.flags.up)
  t.false(ipFlags(dev.realName).includes('UP'))
})

devSerial('a script failure rejects with ERR_VSYS_SCRIPT and the reply (address outside the vnet)', async (t) => {
  const dev = await Netdev.open({ name: 'vOut', allocator: 'vsys', vsysRoot: helper!.dir })
  t.teardown(() => dev.close())
  const e = await t.throwsAsync(dev.setConfig({ localIp: '198.19.0.1', localNetmask: 24 }), { instanceOf: PltapError })
  t.is(e.code, 'ERR_VSYS_SCRIPT')
  t.is(typeof e.reply, 'string')
  t.true(e.reply!.includes('not in netblock'), e.reply)
  t.is(e.script, 'vif_up')
  t.false(dev.flags.up)
  t.is(ipAddr(dev.realName).trim(), '')
  t.is(typeof dev.lastError, 'string')
  t.true(dev.lastError!.length > 0)
  // A good address then works, and clears lastError.
  await dev.setConfig({ localIp: '198.18.81.1' })
  t.regex(ipAddr(dev.realName), /inet 198\.18\.81\.1\/24 /)
  t.is(dev.lastError, null)
})

devSerial('a stopped helper: open fails with ENOENT (its socket is gone)', async (t) => {
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const dev = await Netdev.open({ name: 'vStop1', allocator: 'vsys', vsysRoot: own.dir })
  await dev.close()
  t.true(existsSync(join(own.dir, 'fd_tuntap.control')))
  own.child.kill('SIGTERM')
  await new Promise((r) => own.child.once('exit', r))
  t.false(existsSync(join(own.dir, 'fd_tuntap.control')), `the helper removed its socket (exit ${own.child.exitCode}/${own.child.signalCode}; ${own.stderr()})`)
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
