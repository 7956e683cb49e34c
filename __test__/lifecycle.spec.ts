import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { Netdev, PltapError } from '../ts/index.ts'
import {
  announceSkips,
  arpFrame,
  DIST_INDEX,
  devSerial,
  devTest,
  fdCount,
  ipLink,
  linkNames,
  quietIpv6,
  ROOT,
  run,
  sleep,
  waitFor,
  withDevice,
} from './support.ts'

announceSkips('lifecycle.spec.ts')

const isClosed = { instanceOf: PltapError, code: 'ERR_PLTAP_CLOSED' } as const

devTest('close() twice: the second resolves; closed flips; the interface goes', async (t) => {
  const dev = await withDevice(t, { name: 'lClose', ifname: 'tLc%d' })
  const name = dev.realName
  t.false(dev.closed)
  const p1 = dev.close()
  t.true(dev.closed, 'closed is set at once')
  await p1
  await t.notThrowsAsync(dev.close())
  t.true(dev.closed)
  t.is(ipLink(name), null)
  t.is(Netdev.get('lClose'), undefined)
})

devTest('concurrent close() calls share one promise, which settles only once the device is gone', async (t) => {
  const dev = await withDevice(t, { name: 'lCloseTwice', ifname: 'tLk%d' })
  const rx = dev.rxOpen()
  const name = dev.realName
  const seen = () => ({ link: ipLink(name), registered: Netdev.get('lCloseTwice') !== undefined, rxClosed: rx.closed })
  const first = dev.close()
  const second = dev.close()
  const disposed = dev[Symbol.asyncDispose]()
  t.is(second, first, 'one promise for every caller')
  t.is(disposed, first, '[Symbol.asyncDispose] joins the same close')
  const atFirstSettled = await Promise.race([second.then(seen), disposed.then(seen), first.then(seen)])
  t.deepEqual(atFirstSettled, { link: null, registered: false, rxClosed: true })
  t.is(dev.close(), first, 'later calls get the settled promise')
})

devTest('Rx: concurrent close() calls share one promise; dropped keeps its count after close', async (t) => {
  const dev = await withDevice(t, { name: 'lRxDropped', ifname: 'tLt%d' })
  quietIpv6(dev.realName)
  await dev.setConfig({ localIp: '198.18.73.1', localNetmask: 24 })
  // The peer's MAC is known: a datagram to it leaves at once as one frame (no ARP).
  execFileSync('ip', ['neigh', 'replace', '198.18.73.2', 'lladdr', '02:00:c6:12:49:02', 'dev', dev.realName, 'nud', 'permanent'])
  const rx = dev.rxOpen()
  // A first frame through the reader thread: it now reads with buffers sized for MTU 1500.
  dev.send(arpFrame(1, 'ff:ff:ff:ff:ff:ff', '02:00:c6:12:49:02', '198.18.73.2', '00:00:00:00:00:00', '198.18.73.1'))
  await rx.read({ signal: AbortSignal.timeout(30_000) })
  // A larger MTU, then a frame that needs it: too big for those buffers, it is dropped and counted.
  dev.setMtu(9000)
  const sock = createSocket('udp4')
  await new Promise<void>((resolve, reject) => sock.send(Buffer.alloc(8000), 9, '198.18.73.2', (err) => (err ? reject(err) : resolve())))
  sock.close()
  await waitFor('the reader to drop the oversized frame', () => rx.dropped > 0)
  const dropped = rx.dropped
  const first = rx.close()
  t.is(rx.close(), first, 'one promise for every caller')
  t.is(rx[Symbol.asyncDispose](), first)
  await first
  t.true(rx.closed)
  t.is(rx.dropped, dropped, 'the truncated frames still count after close')
  await dev.close()
  t.is(rx.dropped, dropped)
})

devTest('[Symbol.asyncDispose] closes, and can be called twice', async (t) => {
  const dev = await withDevice(t, { name: 'lDispose', ifname: 'tLd%d' })
  const rx = dev.rxOpen()
  await dev[Symbol.asyncDispose]()
  t.true(dev.closed)
  t.true(rx.closed, 'closing the Netdev closes its Rx')
  await t.notThrowsAsync(dev[Symbol.asyncDispose]())
  await t.notThrowsAsync(rx[Symbol.asyncDispose]())
  t.is(ipLink(dev.realName), null)

  const dev2 = await Netdev.open({ name: 'lDispose', allocator: 'direct', ifname: 'tLd%d' })
  const rx2 = dev2.rxOpen()
  await rx2[Symbol.asyncDispose]()
  t.true(rx2.closed)
  t.false(dev2.closed)
  await dev2[Symbol.asyncDispose]()
})

devTest('use after close: ERR_PLTAP_CLOSED everywhere', async (t) => {
  const dev = await Netdev.open({ name: 'lUse', allocator: 'direct', ifname: 'tLu%d' })
  const rx = dev.rxOpen()
  await dev.close()
  t.throws(() => dev.send(Buffer.alloc(60)), isClosed)
  t.throws(() => dev.sendBatch([Buffer.alloc(60)]), isClosed)
  // Closed comes before the fast paths for empty input.
  t.throws(() => dev.sendBatch([]), isClosed)
  t.throws(() => dev.sendPacked(Buffer.alloc(0), new Uint32Array(0)), isClosed)
  t.throws(() => dev.sendPacked(Buffer.alloc(60), Uint32Array.of(60)), isClosed)
  t.throws(() => dev.lastError, isClosed)
  t.throws(() => dev.packetInfo, isClosed)
  t.throws(() => dev.usesVsys, isClosed)
  t.throws(() => dev.etheraddr, isClosed)
  t.throws(() => dev.mtu, isClosed)
  t.throws(() => dev.setMtu(1400), isClosed)
  t.throws(() => dev.ifindex, isClosed)
  t.throws(() => dev.flags, isClosed)
  t.throws(() => dev.changeSeq, isClosed)
  t.throws(() => dev.stats(), isClosed)
  t.throws(() => dev.drain(), isClosed)
  t.throws(() => dev.getConfig(), isClosed)
  t.throws(() => dev.rxOpen(), isClosed)
  t.throws(() => dev.mode, isClosed)
  // Promise-returning methods reject (argument checks still throw synchronously).
  await t.throwsAsync(dev.up(), isClosed)
  await t.throwsAsync(dev.down(), isClosed)
  await t.throwsAsync(dev.setPromisc(true), isClosed)
  await t.throwsAsync(dev.setConfig({ localIp: '198.18.70.1', localNetmask: 24 }), isClosed)
  await t.throwsAsync(dev.setEtheraddr('02:00:00:00:00:01'), isClosed)
  await t.throwsAsync(dev.write(Buffer.alloc(60)), isClosed)
  // The Rx was closed with it.
  t.true(rx.closed)
  t.throws(() => rx.recv(), isClosed)
  t.throws(() => rx.drain(), isClosed)
  await t.throwsAsync(rx.read(), isClosed)
  await t.throwsAsync(rx.readBatch(), isClosed)
  await t.throwsAsync(rx.readPacked(), isClosed)
  await t.throwsAsync(dev.setConfig({}), isClosed)
  const e = t.throws(() => dev.send(Buffer.alloc(60)), isClosed)
  t.true(e.message.includes(dev.realName), e.message)
})

devTest('Rx.close() during a pending read(): the read rejects with ERR_PLTAP_CLOSED', async (t) => {
  const dev = await withDevice(t, { name: 'lRxClose', ifname: 'tLr%d' })
  const rx = dev.rxOpen()
  const pending = rx.read()
  const pending2 = rx.readBatch()
  await sleep(50)
  await rx.close()
  await t.throwsAsync(pending, isClosed)
  await t.throwsAsync(pending2, isClosed)
  t.false(dev.closed)
  // The device still works: a new Rx opens.
  const rx2 = dev.rxOpen()
  t.is(rx2.recv(), null)
})

devTest('Netdev.close() during a pending read(): the read rejects with ERR_PLTAP_CLOSED', async (t) => {
  const dev = await withDevice(t, { name: 'lDevClose', ifname: 'tLn%d' })
  const rx = dev.rxOpen()
  const pending = rx.read()
  await sleep(50)
  await dev.close()
  await t.throwsAsync(pending, isClosed)
  t.true(rx.closed)
})

devTest('close() during for await: the loop ends without throwing', async (t) => {
  const dev = await withDevice(t, { name: 'lLoop', ifname: 'tLl%d' })
  const rx = dev.rxOpen()
  let frames = 0
  const loop = (async () => {
    for await (const _ of rx) frames++
    return 'ended'
  })()
  await sleep(50)
  await rx.close()
  t.is(await loop, 'ended')
  t.is(frames, 0)

  const rx2 = dev.rxOpen()
  const loop2 = (async () => {
    for await (const _ of rx2) frames++
    return 'ended'
  })()
  await sleep(50)
  await dev.close()
  t.is(await loop2, 'ended')
})

devTest('breaking out of for await closes the Rx', async (t) => {
  const dev = await withDevice(t, { name: 'lBreak', ifname: 'tLb%d' })
  await dev.up()
  const rx = dev.rxOpen()
  // Any frame will do: loop a frame back by sending it to ourselves is not possible, so
  // ask the kernel something it answers (it sends IPv6/ARP traffic on its own, too).
  const { arpFrame } = await import('./support.ts')
  await dev.setConfig({ localIp: '198.18.71.1', localNetmask: 24 })
  dev.send(arpFrame(1, 'ff:ff:ff:ff:ff:ff', '02:00:c6:12:47:02', '198.18.71.2', '00:00:00:00:00:00', '198.18.71.1'))
  const timer = setTimeout(() => rx.close(), 30_000) // a deadline: ends the loop if no frame comes
  let got = 0
  for await (const _ of rx) {
    got++
    break
  }
  clearTimeout(timer)
  t.is(got, 1)
  t.true(rx.closed)
  t.false(dev.closed)
  await t.throwsAsync(rx.read(), isClosed)
})

devTest('read({ signal }): abort rejects with the reason; an aborted signal rejects at once', async (t) => {
  const dev = await withDevice(t, { name: 'lAbort', ifname: 'tLa%d' })
  const rx = dev.rxOpen()
  const ac = new AbortController()
  const p = rx.read({ signal: ac.signal })
  await sleep(20)
  ac.abort()
  await t.throwsAsync(p, { any: true, name: 'AbortError' })

  const custom = new AbortController()
  const reason = new Error('my reason')
  const p2 = rx.read({ signal: custom.signal })
  custom.abort(reason)
  t.is(await t.throwsAsync(p2), reason)

  await t.throwsAsync(rx.read({ signal: AbortSignal.abort() }), { any: true, name: 'AbortError' })
  await t.throwsAsync(rx.readBatch({ signal: AbortSignal.abort() }), { any: true, name: 'AbortError' })
  await t.throwsAsync(rx.read({ signal: AbortSignal.timeout(30) }), { any: true, name: 'TimeoutError' })
  // Aborted reads leave the Rx usable.
  t.false(rx.closed)
  t.is(rx.recv(), null)
})

devSerial('Netdev.open({ signal }) aborted: rejects, and no device or descriptor is left', async (t) => {
  const fds = fdCount()
  const before = linkNames().filter((n) => n.startsWith('tLo'))
  const ac = new AbortController()
  const p = Netdev.open({ name: 'lOpenAbort', allocator: 'direct', ifname: 'tLo%d', signal: ac.signal })
  ac.abort()
  await t.throwsAsync(p, { any: true, name: 'AbortError' })
  // The native open goes on in the background and is undone when it completes; until then
  // its name stays reserved (an open with it is ERR_PLTAP_NAME_IN_USE). Wait for that.
  const retryOpen = () =>
    Netdev.open({ name: 'lOpenAbort', allocator: 'direct', ifname: 'tLo%d', signal: AbortSignal.abort() }).then(
      () => t.fail('an aborted signal must reject'),
      (err: { name?: string; code?: string }) => err,
    )
  const deadline = Date.now() + 30_000
  for (let e = await retryOpen(); e?.name !== 'AbortError'; e = await retryOpen()) {
    t.is(e?.code, 'ERR_PLTAP_NAME_IN_USE')
    if (Date.now() > deadline) throw new Error('the aborted open was never undone (its name stays reserved)')
    await sleep(20)
  }
  t.is(Netdev.get('lOpenAbort'), undefined)
  t.deepEqual(
    linkNames().filter((n) => n.startsWith('tLo')),
    before,
  )
  t.is(fdCount(), fds)
  // Already aborted: rejects at once (before anything else), and the name is free.
  await t.throwsAsync(Netdev.open({ name: 'lOpenAbort', allocator: 'direct', ifname: 'tLo%d', signal: AbortSignal.abort() }), {
    any: true,
    name: 'AbortError',
  })
  const dev = await Netdev.open({ name: 'lOpenAbort', allocator: 'direct', ifname: 'tLo%d' })
  await dev.close()
  t.is(fdCount(), fds)
})

devTest('a process with an open Netdev and an open Rx exits on its own', async (t) => {
  const script = [
    `import { Netdev } from ${JSON.stringify(DIST_INDEX)}`,
    "const d = await Netdev.open({ name: 'x', allocator: 'direct', ifname: 'tLx%d' })",
    'const rx = d.rxOpen()',
    'rx.recv()',
    "console.log('opened', d.realName)",
  ].join('\n')
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeoutMs: 60_000 })
  t.is(r.signal, null, 'not killed by the 60 s deadline')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^opened tLx\d+\n$/)
  const name = r.stdout.trim().split(' ')[1]!
  t.is(ipLink(name), null, 'the device went with the process')
})

devSerial('no descriptor leaks over 100 open/rxOpen/read/close cycles', async (t) => {
  // Warm up once (lazy loads, thread pools).
  for (let i = 0; i < 2; i++) {
    const d = await Netdev.open({ name: 'lCycle', allocator: 'direct', ifname: 'tLy%d' })
    const rx = d.rxOpen()
    await t.throwsAsync(rx.read({ signal: AbortSignal.timeout(5) }), { any: true })
    await d.close()
  }
  const fds = fdCount()
  for (let i = 0; i < 100; i++) {
    const d = await Netdev.open({ name: 'lCycle', allocator: 'direct', ifname: 'tLy%d' })
    const rx = d.rxOpen()
    if (i % 2 === 0) {
      await t.throwsAsync(rx.read({ signal: AbortSignal.timeout(5) }), { any: true, name: 'TimeoutError' })
    } else {
      t.is(rx.recv(), null)
    }
    await d.close()
  }
  t.is(fdCount(), fds)
  t.deepEqual(
    linkNames().filter((n) => n.startsWith('tLy')),
    [],
  )
})
