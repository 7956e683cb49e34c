/**
 * Network configuration through rtnetlink and the kernel-driven link state, each read back
 * from the kernel with `ip -j`: IPv4/IPv6 addresses, routes, namespace moves, persistent
 * devices with an owner, carrier, txqueuelen, MTU; changes made by others seen without a
 * listener and without a timer; the error paths.
 */

import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync } from 'node:fs'
import { Netdev, PltapError } from '../ts/index.ts'
import { announceSkips, DIST_INDEX, devSerial, devTest, quietIpv6, waitFor, withDevice } from './support.ts'

announceSkips('netlink.spec.ts')

/** `ip -j ARGS`, parsed. */
function ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' })) as T
}

interface IpAddrInfo {
  family: string
  local: string
  prefixlen: number
}

/** `ip -j addr show dev NAME` as `addr/len` strings (in namespace `ns` if given). */
function kernelAddresses(name: string, ns?: string): string[] {
  const pre = ns ? ['-n', ns] : []
  const [link] = ipJson<{ addr_info: IpAddrInfo[] }[]>(...pre, 'addr', 'show', 'dev', name)
  return (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)
}

/** `ip -j link show dev NAME`, or null if there is none (in namespace `ns` if given). */
function kernelLink(name: string, ns?: string): Record<string, unknown> | null {
  try {
    const pre = ns ? ['-n', ns] : []
    const out = execFileSync('ip', ['-j', ...pre, 'link', 'show', 'dev', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    return (JSON.parse(out) as Record<string, unknown>[])[0] ?? null
  } catch {
    return null
  }
}

/** A child network namespace with a unique name, deleted when the test ends, pass or fail. */
function childNetns(t: { teardown(fn: () => void): void }): string {
  const name = `pltap-nl-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  execFileSync('ip', ['netns', 'add', name])
  t.teardown(() => {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
    } catch {
      // already gone
    }
  })
  return name
}

/** The shape of an OS failure: code, negative errno, syscall. */
function isSystemError(
  t: { is(a: unknown, b: unknown, m?: string): void; true(v: boolean, m?: string): void },
  e: unknown,
  code: string,
  errno: number,
  syscall: string,
): void {
  t.true(e instanceof PltapError, 'a PltapError')
  const err = e as PltapError
  t.is(err.code, code)
  t.is(err.errno, -errno)
  t.is(err.syscall, syscall)
}

devTest('IPv6 and second IPv4 addresses: added, listed, removed, as ip -j shows them', async (t) => {
  const dev = await withDevice(t, { name: 'nAddr', ifname: 'tNa%d' })
  await dev.setConfig({ localIp: '198.18.20.1', localNetmask: 24 })
  await dev.addAddress('198.18.21.1/24')
  await dev.addAddress('2001:db8:20::1/64')
  const kernel = kernelAddresses(dev.realName)
  for (const a of ['198.18.20.1/24', '198.18.21.1/24', '2001:db8:20::1/64']) {
    t.true(kernel.includes(a), `ip -j shows ${a}: ${kernel.join(' ')}`)
    t.true(dev.addresses.includes(a), `dev.addresses has ${a}`)
  }
  t.is(dev.addresses[0], '198.18.20.1/24', 'IPv4 first, the primary first')
  t.deepEqual(dev.getConfig(), { localIp: '198.18.20.1', localNetmask: 24 }, "setConfig's contract is unchanged")
  await dev.removeAddress('198.18.21.1/24')
  await dev.removeAddress('2001:db8:20::1/64')
  const after = kernelAddresses(dev.realName)
  t.false(after.includes('198.18.21.1/24'))
  t.false(after.includes('2001:db8:20::1/64'))
  t.true(after.includes('198.18.20.1/24'))
})

devTest('routes through the device: IPv4 via a gateway with a metric, IPv6 on-link; removed', async (t) => {
  const dev = await withDevice(t, { name: 'nRoute', ifname: 'tNr%d' })
  await dev.setConfig({ localIp: '198.18.22.1', localNetmask: 24 })
  await dev.addAddress('2001:db8:22::1/64')
  await dev.addRoute({ to: '198.18.23.0/24', via: '198.18.22.254', metric: 42 })
  await dev.addRoute({ to: '2001:db8:23::/48' })
  const v4 = ipJson<{ dst: string; gateway?: string; metric?: number; dev: string }[]>('route', 'show', 'dev', dev.realName)
  const r4 = v4.find((r) => r.dst === '198.18.23.0/24')
  t.truthy(r4, JSON.stringify(v4))
  t.is(r4?.gateway, '198.18.22.254')
  t.is(r4?.metric, 42)
  const v6 = ipJson<{ dst: string }[]>('-6', 'route', 'show', 'dev', dev.realName)
  t.truthy(
    v6.find((r) => r.dst === '2001:db8:23::/48'),
    JSON.stringify(v6),
  )
  const dup = await t.throwsAsync(dev.addRoute({ to: '198.18.23.0/24', via: '198.18.22.254', metric: 42 }))
  isSystemError(t, dup, 'EEXIST', 17, 'rtnetlink(RTM_NEWROUTE)')
  await dev.removeRoute({ to: '198.18.23.0/24', via: '198.18.22.254', metric: 42 })
  await dev.removeRoute({ to: '2001:db8:23::/48' })
  t.falsy(ipJson<{ dst: string }[]>('route', 'show', 'dev', dev.realName).find((r) => r.dst === '198.18.23.0/24'))
  t.falsy(ipJson<{ dst: string }[]>('-6', 'route', 'show', 'dev', dev.realName).find((r) => r.dst === '2001:db8:23::/48'))
  const none = await t.throwsAsync(dev.removeRoute({ to: '198.18.23.0/24' }))
  isSystemError(t, none, 'ESRCH', 3, 'rtnetlink(RTM_DELROUTE)')
})

devTest('moveToNetns by path and by fd: the device is there, the Netdev follows it, stats().kernel works', async (t) => {
  const ns = childNetns(t)
  const dev = await withDevice(t, { name: 'nMove', ifname: 'tNm%d' })
  const name = dev.realName
  let removed = false
  dev.on('removed', () => {
    removed = true
  })
  await dev.moveToNetns(`/run/netns/${ns}`)
  t.is(kernelLink(name), null, 'gone from here')
  t.truthy(kernelLink(name, ns), 'ip -n X -j link shows it')
  t.is(dev.netns, `/run/netns/${ns}`)
  // Everything goes on working in the new namespace.
  await dev.setConfig({ localIp: '198.18.24.1', localNetmask: 24 })
  await dev.addAddress('198.18.25.1/24')
  t.true(kernelAddresses(name, ns).includes('198.18.24.1/24'))
  t.true(kernelAddresses(name, ns).includes('198.18.25.1/24'))
  t.true(dev.flags.up)
  const kernel = dev.stats().kernel
  t.not(kernel, null, 'the kernel counters are read in the new namespace')
  t.is(typeof kernel?.rxPackets, 'number')
  t.is(dev.ifindex, (kernelLink(name, ns) as { ifindex: number }).ifindex)
  // An external change in the new namespace is seen too.
  execFileSync('ip', ['-n', ns, 'link', 'set', name, 'down'])
  await waitFor('flags to show the external down in the new namespace', () => !dev.flags.up)
  // Back by descriptor.
  const fd = openSync('/proc/self/ns/net', 'r')
  t.teardown(() => closeSync(fd))
  await dev.moveToNetns({ fd })
  t.is(dev.netns, fd)
  t.truthy(kernelLink(name), 'back here')
  t.is(kernelLink(name, ns), null)
  t.false(removed, "a move through moveToNetns is followed, not a 'removed'")
  t.is(dev.removed, null)
})

devTest('moved out by someone else: removed with reason moved, without a listener', async (t) => {
  const ns = childNetns(t)
  const dev = await withDevice(t, { name: 'nMovedOut', ifname: 'tNo%d' })
  execFileSync('ip', ['link', 'set', dev.realName, 'netns', ns])
  await waitFor("'removed' state", () => dev.removed)
  t.is(dev.removed, 'moved')
  t.false(dev.flags.up)
  const e = t.throws(() => dev.mtu, { instanceOf: PltapError })
  t.is(e?.code, 'ERR_PLTAP_DEVICE_GONE')
})

devTest('persist with owner and group: after close the device stays, owned; persist:false then deletes it', async (t) => {
  const dev = await Netdev.open({ name: 'nPersist', allocator: 'direct', ifname: 'tNp%d', persist: true, owner: 1000, group: 1000 })
  const name = dev.realName
  t.teardown(() => {
    try {
      execFileSync('ip', ['link', 'delete', name], { stdio: 'ignore' })
    } catch {
      // already gone
    }
  })
  await dev.close()
  const [link] = ipJson<{ linkinfo?: { info_kind: string; info_data: Record<string, unknown> } }[]>('-d', 'link', 'show', 'dev', name)
  t.is(link?.linkinfo?.info_kind, 'tun')
  const data = link?.linkinfo?.info_data ?? {}
  t.true(data.persist === true, JSON.stringify(data))
  t.true(data.user === 1000 || data.user === 'cloudsdk', `owner 1000: ${JSON.stringify(data)}`)
  t.true(data.group === 1000 || data.group === 'cloudsdk', `group 1000: ${JSON.stringify(data)}`)
  // Reopen by name with persist: false, close: the device goes.
  const again = await Netdev.open({ name: 'nPersist2', allocator: 'direct', ifname: name, persist: false })
  await again.close()
  t.is(kernelLink(name), null, 'gone after persist:false and close')
})

devTest('carrier off and on, txqueuelen and MTU, as ip -j shows them', async (t) => {
  const dev = await withDevice(t, { name: 'nCarrier', ifname: 'tNc%d' })
  await dev.setConfig({ localIp: '198.18.26.1', localNetmask: 24 })
  t.true(dev.carrier)
  await dev.setCarrier(false)
  let link = kernelLink(dev.realName) as { flags: string[]; operstate: string; txqlen: number; mtu: number }
  t.true(link.flags.includes('NO-CARRIER'), link.flags.join(','))
  t.is(link.operstate, 'DOWN')
  t.false(dev.carrier)
  await dev.setCarrier(true)
  link = kernelLink(dev.realName) as typeof link
  t.false(link.flags.includes('NO-CARRIER'))
  await dev.setTxQueueLen(4321)
  t.is((kernelLink(dev.realName) as typeof link).txqlen, 4321)
  t.is(dev.txQueueLen, 4321)
  await dev.setMtu(1400)
  t.is((kernelLink(dev.realName) as typeof link).mtu, 1400)
  t.is(dev.mtu, 1400)
})

devTest("external ip link set down and ip addr add are seen without a listener; 'change' carries them", async (t) => {
  const dev = await withDevice(t, { name: 'nExt', ifname: 'tNe%d' })
  quietIpv6(dev.realName)
  await dev.setConfig({ localIp: '198.18.27.1', localNetmask: 24 })
  t.is(dev.listenerCount('change'), 0)
  execFileSync('ip', ['link', 'set', dev.realName, 'down'])
  await waitFor('flags.up to go false with no listener', () => !dev.flags.up)
  t.is(dev.listenerCount('change'), 0)
  // With a listener: an address added by another process is announced.
  const seen = once(dev, 'change', { signal: AbortSignal.timeout(20_000) })
  execFileSync('ip', ['addr', 'add', '198.18.28.1/24', 'dev', dev.realName])
  const [change] = (await seen) as [{ addresses: string[] }]
  t.true(change.addresses.includes('198.18.28.1/24'), change.addresses.join(' '))
})

devTest("external ip link delete: 'removed' with reason deleted, flags all false, without a listener first", async (t) => {
  const dev = await withDevice(t, { name: 'nDel', ifname: 'tNd%d' })
  await dev.setConfig({ localIp: '198.18.29.1', localNetmask: 24 })
  t.true(dev.flags.up)
  execFileSync('ip', ['link', 'delete', dev.realName])
  await waitFor("'removed' state with no listener", () => dev.removed)
  t.is(dev.removed, 'deleted')
  t.deepEqual(dev.flags, { up: false, promisc: false, running: false })

  const dev2 = await withDevice(t, { name: 'nDel2', ifname: 'tNd%d' })
  const removed = once(dev2, 'removed', { signal: AbortSignal.timeout(20_000) })
  execFileSync('ip', ['link', 'delete', dev2.realName])
  const [r] = (await removed) as [{ reason: string; error: PltapError }]
  t.is(r.reason, 'deleted')
  t.is(r.error.code, 'ERR_PLTAP_DEVICE_GONE')
})

devSerial('no timer is armed: opening, listening and changes leave no Timeout; a child with an open Netdev exits on its own', async (t) => {
  const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timeouts()
  const dev = await withDevice(t, { name: 'nTimer', ifname: 'tNt%d' })
  dev.on('change', () => {})
  await dev.setConfig({ localIp: '198.18.30.1', localNetmask: 24 })
  t.is(timeouts(), before, 'no timer for link state')
  const script = `
    import { Netdev } from ${JSON.stringify(DIST_INDEX)}
    const dev = await Netdev.open({ name: 'child', allocator: 'direct', ifname: 'tNk%d' })
    dev.on('change', () => {})
    await dev.setConfig({ localIp: '198.18.31.1', localNetmask: 24 })
    console.log('ready', process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  const [code] = (await once(child, 'exit', { signal: AbortSignal.timeout(30_000) })) as [number]
  t.is(code, 0)
  t.is(out.trim(), 'ready 0', 'the child ran, armed no timer, and exited by itself')
})

devTest('argument errors before any I/O: bad CIDR, bad prefix, bad route, bad target', async (t) => {
  const dev = await withDevice(t, { name: 'nArgs', ifname: 'tNg%d' })
  t.throws(() => dev.addAddress('198.18.0.1'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => dev.addAddress('198.18.0.300/24'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => dev.addAddress(42 as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => dev.addAddress('198.18.0.1/33'), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => dev.removeAddress('2001:db8::1/129'), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => dev.addRoute({ to: '198.18.0.0/24', via: '2001:db8::1' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => dev.addRoute({ to: '198.18.0.0/24', metric: -1 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => dev.addRoute({ to: '198.18.0.0/24', gw: 'x' } as never), { instanceOf: TypeError })
  t.throws(() => dev.moveToNetns(''), { instanceOf: TypeError })
  t.throws(() => dev.moveToNetns({ fd: -1 }), { instanceOf: RangeError })
  t.throws(() => dev.setCarrier('on' as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => dev.setTxQueueLen(-1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => Netdev.open({ name: 'x', allocator: 'vsys', persist: true }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => Netdev.open({ name: 'x', allocator: 'direct', owner: -1 }), { instanceOf: RangeError })
  t.throws(() => Netdev.open({ name: 'x', allocator: 'direct', persist: 1 as never }), { instanceOf: TypeError })
})

devTest('OS errors in SystemError shape: duplicate address, unreachable gateway, missing namespace, unknown address', async (t) => {
  const dev = await withDevice(t, { name: 'nErr', ifname: 'tNx%d' })
  await dev.setConfig({ localIp: '198.18.32.1', localNetmask: 24 })
  await dev.addAddress('198.18.33.1/24')
  isSystemError(t, await t.throwsAsync(dev.addAddress('198.18.33.1/24')), 'EEXIST', 17, 'rtnetlink(RTM_NEWADDR)')
  isSystemError(
    t,
    await t.throwsAsync(dev.addRoute({ to: '198.18.34.0/24', via: '198.19.99.1' })),
    'ENETUNREACH',
    101,
    'rtnetlink(RTM_NEWROUTE)',
  )
  isSystemError(t, await t.throwsAsync(dev.removeAddress('198.18.35.1/24')), 'EADDRNOTAVAIL', 99, 'rtnetlink(RTM_DELADDR)')
  const missing = await t.throwsAsync(dev.moveToNetns('/run/netns/pltap-no-such-netns'))
  isSystemError(t, missing, 'ENOENT', 2, 'open')
  t.regex((missing as Error).message, /pltap-no-such-netns/)
  t.truthy(kernelLink(dev.realName), 'still here')
  // A path that is not a network namespace.
  isSystemError(t, await t.throwsAsync(dev.moveToNetns('/proc/self/ns/uts')), 'EINVAL', 22, 'rtnetlink(RTM_SETLINK)')
})
