import { Netdev, type NetdevChange, PltapError } from '../ts/index.ts'
import {
  announceSkips,
  arpFrame,
  checkPromiscThenDown,
  devTest,
  ipAddr,
  ipFlags,
  ipLink,
  quietIpv6,
  waitFor,
  withDevice,
} from './support.ts'

announceSkips('direct.spec.ts')

devTest('open a TAP from a template: realName, mode, packetInfo, usesVsys, Netdev.get', async (t) => {
  const dev = await withDevice(t, { name: 'dTap', ifname: 'tDa%d' })
  t.regex(dev.realName, /^tDa\d+$/)
  t.is(dev.name, 'dTap')
  t.is(dev.mode, 'tap')
  t.false(dev.packetInfo)
  t.false(dev.usesVsys)
  t.false(dev.closed)
  t.is(Netdev.get('dTap'), dev)
  t.not(ipLink(dev.realName), null)
  t.true(ipLink(dev.realName)!.includes('link/ether'))
  await dev.close()
  t.is(Netdev.get('dTap'), undefined)
  t.is(ipLink(dev.realName), null, 'the interface is gone after close')
})

devTest('open a TUN from a template, with packetInfo', async (t) => {
  const dev = await withDevice(t, { name: 'dTun', mode: 'tun', ifname: 'tDu%d', packetInfo: true })
  t.regex(dev.realName, /^tDu\d+$/)
  t.is(dev.mode, 'tun')
  t.true(dev.packetInfo)
  t.true(ipLink(dev.realName)!.includes('link/none'))
  t.is(Netdev.get('dTun'), dev)
})

devTest('an exact ifname is used as is', async (t) => {
  const dev = await withDevice(t, { name: 'dExact', ifname: 'tDexact' })
  t.is(dev.realName, 'tDexact')
})

devTest('a second open with the same port name is ERR_PLTAP_NAME_IN_USE; the name is free again after close', async (t) => {
  const dev = await withDevice(t, { name: 'dDup', ifname: 'tDd%d' })
  const e = await t.throwsAsync(Netdev.open({ name: 'dDup', allocator: 'direct', ifname: 'tDd%d' }), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_NAME_IN_USE')
  t.is(Netdev.get('dDup'), dev)
  // Two concurrent opens with one name: exactly one wins.
  await dev.close()
  const results = await Promise.allSettled([
    Netdev.open({ name: 'dDup', allocator: 'direct', ifname: 'tDd%d' }),
    Netdev.open({ name: 'dDup', allocator: 'direct', ifname: 'tDd%d' }),
  ])
  const ok = results.filter((r) => r.status === 'fulfilled')
  const bad = results.filter((r) => r.status === 'rejected')
  t.is(ok.length, 1)
  t.is(bad.length, 1)
  t.is(((bad[0] as PromiseRejectedResult).reason as PltapError).code, 'ERR_PLTAP_NAME_IN_USE')
  await (ok[0] as PromiseFulfilledResult<Netdev>).value.close()
})

devTest('etheraddr reads the MAC; setEtheraddr changes it (descriptor and kernel agree)', async (t) => {
  const dev = await withDevice(t, { name: 'dMac', ifname: 'tDm%d' })
  const before = dev.etheraddr
  t.regex(before, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
  t.true(ipLink(dev.realName)!.includes(`link/ether ${before}`))
  const mac = before === '02:00:c6:12:00:42' ? '02:00:c6:12:00:43' : '02:00:c6:12:00:42'
  await dev.setEtheraddr(mac)
  t.is(dev.etheraddr, mac)
  t.true(ipLink(dev.realName)!.includes(`link/ether ${mac}`))
  await dev.setEtheraddr('02:00:C6:12:00:44') // upper case accepted, read back in lower case
  t.is(dev.etheraddr, '02:00:c6:12:00:44')
})

devTest('setEtheraddr on a TUN rejects with ENOTSUP', async (t) => {
  const dev = await withDevice(t, { name: 'dTunMac', ifname: 'tDt%d', mode: 'tun' })
  const p = dev.setEtheraddr('02:00:00:00:00:01')
  t.true(p instanceof Promise)
  const e = await t.throwsAsync(p, { instanceOf: PltapError })
  t.is(e.code, 'ENOTSUP')
  t.true(e.errno! < 0)
})

devTest('mtu and setMtu', async (t) => {
  const dev = await withDevice(t, { name: 'dMtu', ifname: 'tDmtu%d' })
  t.is(dev.mtu, 1500)
  dev.setMtu(1400)
  t.is(dev.mtu, 1400)
  t.regex(ipLink(dev.realName)!, /mtu 1400 /)
  dev.setMtu(9000)
  t.is(dev.mtu, 9000)
})

devTest('ifindex matches the index printed by ip -o link', async (t) => {
  const dev = await withDevice(t, { name: 'dIdx', ifname: 'tDi%d' })
  const m = /^(\d+): /.exec(ipLink(dev.realName)!)
  t.truthy(m)
  t.is(dev.ifindex, Number(m![1]))
  t.true(dev.ifindex > 1)
})

devTest('up(), down() and setPromisc() settle with the kernel showing the change', async (t) => {
  const dev = await withDevice(t, { name: 'dFlags', ifname: 'tDf%d' })
  t.deepEqual(dev.flags, { up: false, promisc: false, running: false })
  t.false(ipFlags(dev.realName).includes('UP'))

  await dev.up()
  t.true(dev.flags.up)
  t.true(dev.flags.running) // an attached tap is carrier-on
  t.true(ipFlags(dev.realName).includes('UP'))

  await checkPromiscThenDown(t, dev)
  t.is(dev.lastError, null)
})

devTest('setConfig brings the device up with the address; getConfig returns exactly what was set', async (t) => {
  const dev = await withDevice(t, { name: 'dCfg', ifname: 'tDc%d' })
  t.deepEqual(dev.getConfig(), {})
  await dev.setConfig({ localIp: '198.18.40.1' })
  // Only half configured: nothing applied yet.
  t.false(dev.flags.up)
  t.deepEqual(dev.getConfig(), { localIp: '198.18.40.1' })

  await dev.setConfig({ localNetmask: 24 })
  t.deepEqual(dev.getConfig(), { localIp: '198.18.40.1', localNetmask: 24 })
  t.is(typeof dev.getConfig().localNetmask, 'number')
  t.true(dev.flags.up)
  t.true(ipFlags(dev.realName).includes('UP'))
  t.regex(ipAddr(dev.realName), /inet 198\.18\.40\.1\/24 /)

  // getConfig hands out a copy.
  const c = dev.getConfig()
  c.localIp = '198.18.99.99'
  t.is(dev.getConfig().localIp, '198.18.40.1')

  // Changing the address of an UP device re-applies it.
  await dev.setConfig({ localIp: '198.18.41.7' })
  const addr = ipAddr(dev.realName)
  t.regex(addr, /inet 198\.18\.41\.7\/24 /)
  t.notRegex(addr, /198\.18\.40\.1/)
  t.deepEqual(dev.getConfig(), { localIp: '198.18.41.7', localNetmask: 24 })

  // And the prefix.
  await dev.setConfig({ localNetmask: 25 })
  t.regex(ipAddr(dev.realName), /inet 198\.18\.41\.7\/25 /)
  t.deepEqual(dev.getConfig(), { localIp: '198.18.41.7', localNetmask: 25 })
  t.is(dev.lastError, null)
})

devTest('changeSeq increases and "change" events carry the new flags and address', async (t) => {
  const dev = await withDevice(t, { name: 'dChg', ifname: 'tDe%d' })
  const events: NetdevChange[] = []
  dev.on('change', (c) => events.push(c))
  const seq0 = dev.changeSeq
  t.true(seq0 > 0)

  await dev.setConfig({ localIp: '198.18.42.1', localNetmask: 24 })
  const seq1 = dev.changeSeq
  t.true(seq1 > seq0)
  await waitFor('a change event for UP', () => events.find((e) => e.flags.up))
  const up = events.find((e) => e.flags.up)!
  t.is(up.address, '198.18.42.1/24')
  t.true(up.changeSeq > seq0)

  await dev.setPromisc(true)
  t.true(dev.changeSeq > seq1)
  const pe = await waitFor('a change event for PROMISC', () => events.find((e) => e.flags.promisc))
  t.deepEqual(pe.flags, { up: true, promisc: true, running: true })
  t.is(pe.changeSeq, dev.changeSeq)

  // A change made behind the library's back is picked up by the polling of 'change' listeners.
  const { execFileSync } = await import('node:child_process')
  const n = events.length
  execFileSync('ip', ['link', 'set', 'dev', dev.realName, 'promisc', 'off'])
  const ext = await waitFor('a change event for an external change', () => events.length > n && events[events.length - 1])
  t.false(ext.flags.promisc)
  // Sequence numbers of events strictly increase.
  for (let i = 1; i < events.length; i++) t.true(events[i]!.changeSeq > events[i - 1]!.changeSeq)
  dev.removeAllListeners('change')
})

devTest('stats(): port counters count sends and receives; kernel counters are present', async (t) => {
  const dev = await withDevice(t, { name: 'dStats', ifname: 'tDs%d' })
  quietIpv6(dev.realName)
  const zero = { rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0, txPackets: 0, txBytes: 0, txErrors: 0, txDropped: 0 }
  const s0 = dev.stats()
  t.deepEqual(s0.port, zero)
  t.truthy(s0.kernel)
  t.deepEqual(Object.keys(s0.kernel!).sort(), Object.keys(zero).sort())

  await dev.setConfig({ localIp: '198.18.43.1', localNetmask: 24 })
  const rx = dev.rxOpen()
  const mac = '02:00:c6:12:2b:02'
  // Ask the kernel who has its own address: it answers, so one frame each way.
  const req = arpFrame(1, 'ff:ff:ff:ff:ff:ff', mac, '198.18.43.2', '00:00:00:00:00:00', '198.18.43.1')
  t.true(dev.send(req))
  let reply: Buffer
  do reply = await rx.read({ signal: AbortSignal.timeout(30_000) })
  while (reply.readUInt16BE(12) !== 0x0806)
  const s1 = dev.stats()
  t.is(s1.port.txPackets, 1)
  t.is(s1.port.txBytes, 42)
  t.true(s1.port.rxPackets >= 1)
  t.true(s1.port.rxBytes >= 42)
  // The kernel's view, swapped to the port's side: it received what the port sent.
  t.true(s1.kernel!.txPackets >= 1)
  t.true(s1.kernel!.rxPackets >= 1)
  t.is(dev.lastError, null)
})

devTest('lastError is null while link changes succeed', async (t) => {
  const dev = await withDevice(t, { name: 'dLastErr', ifname: 'tDl%d' })
  t.is(dev.lastError, null)
  await dev.up()
  t.is(dev.lastError, null)
  await dev.down()
  t.is(dev.lastError, null)
})

devTest('an interface renamed behind the Netdev: link changes and ioctls reject with ERR_PLTAP_DEVICE_GONE', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const dev = await withDevice(t, { name: 'dRenamed', ifname: 'tDr%d' })
  execFileSync('ip', ['link', 'set', 'dev', dev.realName, 'name', 'tDrGone'])
  t.teardown(() => {
    try {
      execFileSync('ip', ['link', 'set', 'dev', 'tDrGone', 'name', dev.realName])
    } catch {
      // already closed (the interface went with its descriptor)
    }
  })
  const e = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_DEVICE_GONE')
  t.is(e.reason, 'renamed')
  t.is(e.renamedTo, 'tDrGone')
  t.is(t.throws(() => dev.mtu, { instanceOf: PltapError }).code, 'ERR_PLTAP_DEVICE_GONE')
  t.is(t.throws(() => dev.etheraddr, { instanceOf: PltapError }).code, 'ERR_PLTAP_DEVICE_GONE')
  // Given its name back, it is the Netdev's own again.
  execFileSync('ip', ['link', 'set', 'dev', 'tDrGone', 'name', dev.realName])
  await dev.up()
  t.true(dev.flags.up)
})
