/**
 * Link options under vsys: MTU and txqueuelen go through `vif_up`'s `mtu=` / `txqueuelen=`
 * options (the helper's scripts offer nothing else), and the rtnetlink-only operations fail
 * with `ENOTSUP`, saying why. Root opens through the test helper, so an ioctl would have
 * worked: the MTU staying put until `vif_up` runs shows the option path is the one taken.
 */

import { execFileSync } from 'node:child_process'
import test from 'ava'
import { PltapError } from '../ts/index.ts'
import { announceSkips, devTest, hasNetAdmin, startVsysd, type Vsysd, withDevice } from './support.ts'

announceSkips('netlink-vsys.spec.ts')

let helper: Vsysd | undefined
test.before(async () => {
  if (hasNetAdmin) helper = await startVsysd()
})
test.after.always(async () => {
  await helper?.stop()
})

function link(name: string): { mtu: number; txqlen: number } {
  return (
    JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', name], { encoding: 'utf8' })) as { mtu: number; txqlen: number }[]
  )[0]!
}

devTest('under vsys, setMtu and setTxQueueLen become vif_up options; addresses, routes and moves are ENOTSUP', async (t) => {
  const dev = await withDevice(t, { name: 'nvLink', allocator: 'vsys', vsysRoot: helper!.dir })
  const before = link(dev.realName).mtu
  await dev.setMtu(1400) // not up through vif_up yet: remembered for it
  t.is(link(dev.realName).mtu, before, 'no ioctl: the MTU waits for vif_up')
  await dev.setConfig({ localIp: '198.18.90.1', localNetmask: 24 }) // vif_up ... mtu=1400
  t.is(link(dev.realName).mtu, 1400)
  await dev.setTxQueueLen(500) // up: vif_up runs again with both options
  t.deepEqual(link(dev.realName), { ...link(dev.realName), mtu: 1400, txqlen: 500 })
  t.is(dev.txQueueLen, 500)
  t.throws(() => dev.setTxQueueLen(10001), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })

  for (const [what, call, syscall] of [
    ['addAddress', () => dev.addAddress('198.18.91.1/24'), 'rtnetlink(RTM_NEWADDR)'],
    ['removeAddress', () => dev.removeAddress('198.18.90.1/24'), 'rtnetlink(RTM_DELADDR)'],
    ['addRoute', () => dev.addRoute({ to: '198.18.92.0/24' }), 'rtnetlink(RTM_NEWROUTE)'],
    ['moveToNetns', () => dev.moveToNetns('/proc/self/ns/net'), 'rtnetlink(RTM_SETLINK)'],
  ] as const) {
    const e = await t.throwsAsync(call(), { instanceOf: PltapError }, what)
    t.is(e?.code, 'ENOTSUP', what)
    t.is(e?.errno, -95, what)
    t.is(e?.syscall, syscall, what)
    t.regex(e?.message ?? '', /vsys helper's scripts/, what)
  }
  // The carrier is set on the descriptor, which the port holds: it works under vsys too.
  await dev.setCarrier(false)
  t.false(dev.carrier)
  await dev.setCarrier(true)
  t.true(dev.addresses.includes('198.18.90.1/24'), 'listing works under vsys')
})
