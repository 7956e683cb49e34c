// A Netdev acts on its own device only: once the device is deleted or renamed and another
// device takes its name, every link operation of the stale Netdev fails with
// ERR_PLTAP_DEVICE_GONE, and the new owner of the name is left exactly as it was.
import { execFileSync } from 'node:child_process'
import type { ExecutionContext } from 'ava'
import { type Netdev, PltapError } from '../ts/index.ts'
import { announceSkips, devSerial, ipAddr, ipFlags, ipLink, startVsysd, withDevice } from './support.ts'

announceSkips('identity.spec.ts')

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' })
}

/** A persistent tap made by `ip tuntap add`, UP with an address: what a stale operation would change. */
function newOwner(t: ExecutionContext, name: string, address: string): void {
  ip('tuntap', 'add', 'mode', 'tap', 'name', name)
  t.teardown(() => {
    if (ipLink(name) !== null) ip('link', 'del', name)
  })
  ip('addr', 'add', address, 'dev', name)
  ip('link', 'set', name, 'up')
}

/** Everything a link operation could change, as `ip -j` shows it. */
function snapshot(name: string): unknown {
  return [JSON.parse(ip('-j', 'link', 'show', 'dev', name)), JSON.parse(ip('-j', 'addr', 'show', 'dev', name))]
}

function isGone(t: ExecutionContext, err: unknown, device: string, reason: string, renamedTo?: string): void {
  t.true(err instanceof PltapError, String(err))
  const e = err as PltapError
  t.is(e.code, 'ERR_PLTAP_DEVICE_GONE', e.message)
  t.is(e.device, device)
  t.is(e.reason, reason as PltapError['reason'])
  t.is(e.renamedTo, renamedTo)
}

/** setMtu, up, down, setPromisc, setConfig and the getters on a stale Netdev: each fails, typed. */
async function everyOperationFails(t: ExecutionContext, dev: Netdev, device: string, reason: string, renamedTo?: string): Promise<void> {
  for (const op of [() => dev.setMtu(1280), () => dev.mtu, () => dev.ifindex, () => dev.etheraddr, () => dev.stats()]) {
    isGone(t, t.throws(op), device, reason, renamedTo)
  }
  for (const op of [
    () => dev.down(),
    () => dev.up(),
    () => dev.setPromisc(true),
    () => dev.setEtheraddr('02:00:c6:12:00:99'),
    () => dev.setConfig({ localIp: '198.18.112.9', localNetmask: 24 }),
  ]) {
    isGone(t, await t.throwsAsync(op), device, reason, renamedTo)
  }
  t.regex(dev.lastError?.message ?? '', /is gone/)
}

devSerial('a deleted device: its name reused by another, every link operation fails typed and the new one is unchanged', async (t) => {
  const dev = await withDevice(t, { name: 'idDel', ifname: 'jid0' })
  await dev.setConfig({ localIp: '198.18.112.1', localNetmask: 24 })
  const ifindex = dev.ifindex
  ip('link', 'del', 'jid0')
  newOwner(t, 'jid0', '198.18.113.1/24')
  const before = snapshot('jid0')
  t.not((before as [{ ifindex: number }[]])[0][0]!.ifindex, ifindex, 'another device')
  await everyOperationFails(t, dev, 'jid0', 'deleted')
  t.deepEqual(snapshot('jid0'), before, 'the new jid0 is unchanged')
  t.true(ipFlags('jid0').includes('UP'))
  t.false(ipFlags('jid0').includes('PROMISC'))
  await dev.close()
  t.deepEqual(snapshot('jid0'), before, 'close() left it alone too')
})

devSerial('a renamed device: its old name taken by another, both are left alone', async (t) => {
  const dev = await withDevice(t, { name: 'idRen', ifname: 'jid1' })
  await dev.up()
  ip('link', 'set', 'jid1', 'name', 'jid1r')
  newOwner(t, 'jid1', '198.18.114.1/24')
  const [newBefore, oursBefore] = [snapshot('jid1'), snapshot('jid1r')]
  await everyOperationFails(t, dev, 'jid1', 'renamed', 'jid1r')
  t.deepEqual(snapshot('jid1'), newBefore, 'the new jid1 is unchanged')
  t.deepEqual(snapshot('jid1r'), oursBefore, 'the renamed device is unchanged')
})

devSerial('vsys: close() runs no vif_down for a device that is gone, so the next owner of its name keeps its state', async (t) => {
  const own = await startVsysd()
  t.teardown(() => own.stop())
  const dev = await withDevice(t, { name: 'idVsys', allocator: 'vsys', vsysRoot: own.dir })
  await dev.setConfig({ localIp: '198.18.115.1', localNetmask: 24 })
  const name = dev.realName
  t.true(ipFlags(name).includes('UP'))
  // The device goes; another one takes its name and is brought up.
  ip('link', 'del', name)
  newOwner(t, name, '198.18.115.2/24')
  const before = snapshot(name)
  const warnings: Error[] = []
  const onWarning = (w: Error): void => {
    if (w.message.includes(name)) warnings.push(w)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  isGone(t, await t.throwsAsync(dev.setPromisc(true)), name, 'deleted')
  isGone(t, await t.throwsAsync(dev.down()), name, 'deleted')
  await dev.close()
  // emitWarning delivers on the next tick.
  await new Promise((r) => setImmediate(r))
  t.deepEqual(snapshot(name), before, 'the new owner is unchanged: no vif_down, no promisc')
  t.true(ipFlags(name).includes('UP'))
  t.regex(ipAddr(name), /inet 198\.18\.115\.2\/24 /)
  t.false(own.stderr().includes('vif_down ['), own.stderr())
  t.false(own.stderr().includes('promisc ['), own.stderr())
  t.is(warnings.length, 1, warnings.map((w) => w.message).join('; '))
  t.is((warnings[0] as Error & { code?: string }).code, 'PLTAP_VSYS_RELEASE')
  t.regex(warnings[0]!.message, /vif_down on close of .* skipped: device .* is gone: it was deleted/)
})
