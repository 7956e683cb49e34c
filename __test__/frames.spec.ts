import { spawn } from 'node:child_process'
import { runInNewContext } from 'node:vm'
import { PltapError, type Rx } from '../ts/index.ts'
import { announceSkips, arpFrame, devTest, icmpEchoReply, parseArp, upDevice, waitFor, withDevice } from './support.ts'

announceSkips('frames.spec.ts')

const PEER_MAC = '02:00:c6:12:00:fe'

/** Reads until `pick` accepts a frame (other traffic is skipped). */
async function readUntil<T>(rx: Rx, pick: (f: Buffer) => T | null, ms = 30_000): Promise<T> {
  const signal = AbortSignal.timeout(ms)
  for (;;) {
    const v = pick(await rx.read({ signal }))
    if (v !== null) return v
  }
}

function ping(ip: string, waitS = 1): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/ping', ['-n', '-c', '1', '-W', String(waitS), ip], { stdio: 'ignore' })
    p.once('error', reject)
    p.once('exit', (code) => resolve(code))
  })
}

devTest('a full ping answered from JS by the CLI packet helpers: ARP request, ARP reply, echo request, echo reply', async (t) => {
  const dev = await upDevice(t, 60, { name: 'fPing', ifname: 'tF60' })
  const rx = dev.rxOpen()
  const pinged = ping('198.18.60.2', 30) // ping's own deadline for the answer: generous, the machine may be loaded

  const arpReq = await readUntil(rx, (f) => (parseArp(f)?.op === 1 ? f : null))
  t.is(arpReq.length, 42)
  const arp = parseArp(arpReq)!
  t.is(arp.targetIp, '198.18.60.2')
  t.is(arp.senderIp, '198.18.60.1')
  t.is(arp.senderMac, dev.etheraddr)
  t.true(arpReq.subarray(0, 6).equals(Buffer.alloc(6, 0xff)), 'broadcast')

  t.true(dev.send(arpFrame(2, dev.etheraddr, PEER_MAC, '198.18.60.2', dev.etheraddr, '198.18.60.1')))

  const echo = await readUntil(rx, (f) => icmpEchoReply(f, '198.18.60.2'))
  t.true(dev.send(echo))
  t.is(await pinged, 0, 'ping got its answer')
  const s = dev.stats().port
  t.true(s.txPackets >= 2)
  t.true(s.rxPackets >= 2)
})

devTest('recv() returns null when nothing is queued and a frame when one is', async (t) => {
  const dev = await upDevice(t, 61, { name: 'fRecv', ifname: 'tF61' })
  const rx = dev.rxOpen()
  dev.drain()
  t.is(rx.recv(), null)
  t.is(rx.recv(), null)
  const pinged = ping('198.18.61.2')
  const f = await waitFor('a frame from recv()', () => rx.recv())
  t.true(Buffer.isBuffer(f))
  t.is(parseArp(f)?.targetIp, '198.18.61.2')
  await pinged
})

devTest('send(): the kernel answers an ARP request for its own address; kernel counters move', async (t) => {
  const dev = await upDevice(t, 62, { name: 'fSend', ifname: 'tF62' })
  const rx = dev.rxOpen()
  const before = dev.stats()
  const req = arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, '198.18.62.2', '00:00:00:00:00:00', '198.18.62.1')
  t.true(dev.send(req))
  const reply = await readUntil(rx, (f) => (parseArp(f)?.op === 2 ? f : null))
  // The kernel's reply, byte for byte.
  t.deepEqual(reply, arpFrame(2, PEER_MAC, dev.etheraddr, '198.18.62.1', PEER_MAC, '198.18.62.2'))
  const after = dev.stats()
  t.is(after.port.txPackets - before.port.txPackets, 1)
  t.is(after.port.txBytes - before.port.txBytes, 42)
  t.true(after.kernel!.txPackets - before.kernel!.txPackets >= 1, 'the kernel counted what it received from the port')
  t.true(after.kernel!.rxPackets - before.kernel!.rxPackets >= 1, 'the kernel counted what it sent to the port')
})

devTest('send() on a DOWN interface throws PltapError EIO', async (t) => {
  const dev = await withDevice(t, { name: 'fDown', ifname: 'tFdown' })
  const e = t.throws(() => dev.send(Buffer.alloc(60)), { instanceOf: PltapError })
  t.is(e.code, 'EIO')
  t.is(e.errno, -5)
  t.is(e.syscall, 'write')
  t.is(t.throws(() => dev.sendBatch([Buffer.alloc(60)]), { instanceOf: PltapError }).code, 'EIO')
  t.is(dev.stats().port.txPackets, 0)
  t.true(dev.stats().port.txErrors >= 1)
})

devTest('sendBatch() returns the count; write() resolves; the kernel answers each', async (t) => {
  const dev = await upDevice(t, 63, { name: 'fBatch', ifname: 'tF63' })
  const rx = dev.rxOpen()
  const req = (n: number) => arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.63.${10 + n}`, '00:00:00:00:00:00', '198.18.63.1')
  t.is(dev.sendBatch([req(0), req(1), req(2)]), 3)
  t.is(dev.sendBatch([]), 0)
  await t.notThrowsAsync(dev.write(req(3)))
  t.is(dev.stats().port.txPackets, 4)
  const answered = new Set<string>()
  while (answered.size < 4) {
    const r = await readUntil(rx, (f) => parseArp(f))
    if (r.op === 2) answered.add(String(r.targetIp))
  }
  t.deepEqual([...answered].sort(), ['198.18.63.10', '198.18.63.11', '198.18.63.12', '198.18.63.13'])
})

devTest('drain() on the Netdev and on the Rx discards queued frames', async (t) => {
  const dev = await upDevice(t, 64, { name: 'fDrain', ifname: 'tF64' })
  const rx = dev.rxOpen()
  dev.drain()
  const req = (n: number) => arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.64.${10 + n}`, '00:00:00:00:00:00', '198.18.64.1')
  t.is(dev.sendBatch([req(0), req(1), req(2)]), 3)
  // The kernel answers each request (in softirq context, which a loaded machine may defer);
  // the replies then wait in the tap's queue, and the kernel counts them as sent only once
  // they are read, so the counters cannot tell when they are there: drain until all three
  // have been discarded.
  let drained = 0
  await waitFor('drain() to discard the three replies', () => {
    drained += dev.drain()
    return drained >= 3
  })
  t.true(drained >= 3)
  t.is(rx.recv(), null)

  // Through the Rx: frames already pulled into JS count too.
  t.is(dev.sendBatch([req(3), req(4)]), 2)
  const first = await readUntil(rx, (f) => parseArp(f)) // starts the reader thread
  t.is(first.op, 2)
  await waitFor('the second reply in the JS queue', () => rx.queued >= 1)
  t.true(rx.drain() >= 1)
  t.is(rx.queued, 0)
})

devTest('for await receives frames', async (t) => {
  const dev = await upDevice(t, 65, { name: 'fIter', ifname: 'tF65' })
  const rx = dev.rxOpen({ batch: 4 })
  const req = (n: number) => arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.65.${10 + n}`, '00:00:00:00:00:00', '198.18.65.1')
  dev.sendBatch([req(0), req(1), req(2)])
  const seen: string[] = []
  const timer = setTimeout(() => rx.close(), 30_000) // a deadline: ends the loop if the frames never come
  for await (const f of rx) {
    const a = parseArp(f)
    if (a?.op === 2) seen.push(a.targetIp)
    if (seen.length === 3) break
  }
  clearTimeout(timer)
  t.deepEqual(seen.sort(), ['198.18.65.10', '198.18.65.11', '198.18.65.12'])
  t.true(rx.closed, 'break closes the Rx')
})

devTest('packetInfo true and false give identical frames (no tun_pi bytes leak either way)', async (t) => {
  const mac = '02:00:c6:12:00:66'
  const results: Buffer[] = []
  for (const [packetInfo, net] of [
    [false, 66],
    [true, 67],
  ] as const) {
    const dev = await upDevice(t, net, { name: `fPi${packetInfo}`, ifname: `tF${net}`, packetInfo })
    t.is(dev.packetInfo, packetInfo)
    await dev.setEtheraddr(mac)
    const rx = dev.rxOpen()
    t.true(dev.send(arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.${net}.2`, '00:00:00:00:00:00', `198.18.${net}.1`)))
    const reply = await readUntil(rx, (f) => (parseArp(f)?.op === 2 ? f : null))
    t.deepEqual(reply, arpFrame(2, PEER_MAC, mac, `198.18.${net}.1`, PEER_MAC, `198.18.${net}.2`))
    // Normalise the bytes that differ (the third octet of both addresses).
    const norm = Buffer.from(reply)
    norm[30] = 0
    norm[40] = 0
    results.push(norm)
    t.is(dev.stats().port.txBytes, 42, 'tun_pi is not counted as frame bytes')
  }
  t.deepEqual(results[0], results[1])
})

devTest('frames from another realm, and any ArrayBufferView, are accepted by send, sendBatch, sendPacked and write', async (t) => {
  const dev = await upDevice(t, 68, { name: 'fRealm', ifname: 'tF68' })
  const rx = dev.rxOpen()
  const req = (n: number) => arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.68.${10 + n}`, '00:00:00:00:00:00', '198.18.68.1')
  /** A copy of `f` in a Uint8Array of a fresh vm context (not `instanceof Uint8Array` here). */
  const foreign = (f: Buffer): Uint8Array => {
    const u = runInNewContext(`new Uint8Array(${f.length})`) as Uint8Array
    u.set(f)
    return u
  }
  t.false(foreign(req(0)) instanceof Uint8Array, 'the test really uses another realm')

  // send: a foreign Uint8Array, a DataView, a Uint16Array over the frame's bytes.
  t.true(dev.send(foreign(req(0))))
  const dv = req(1)
  t.true(dev.send(new DataView(dv.buffer, dv.byteOffset, dv.length)))
  const u16 = Buffer.from(req(2)) // own, aligned ArrayBuffer
  t.true(dev.send(new Uint16Array(u16.buffer, u16.byteOffset, u16.length / 2)))
  // sendBatch: foreign frames in separate buffers (packed by copy) and back to back in one (a view).
  t.is(dev.sendBatch([foreign(req(3)), foreign(req(4))]), 2)
  const both = foreign(Buffer.concat([req(5), req(6)]))
  t.is(dev.sendBatch([both.subarray(0, 42), both.subarray(42)]), 2)
  // sendPacked: foreign data and foreign lengths.
  const lengths = runInNewContext('Uint32Array.of(42, 42)') as Uint32Array
  t.false(lengths instanceof Uint32Array)
  t.is(dev.sendPacked(foreign(Buffer.concat([req(7), req(8)])), lengths), 2)
  // write.
  await dev.write(foreign(req(9)))
  t.is(dev.stats().port.txPackets, 10)
  t.is(dev.stats().port.txBytes, 420)

  // The kernel got each frame intact: it answers every request.
  const answered = new Set<string>()
  while (answered.size < 10) {
    const r = await readUntil(rx, (f) => parseArp(f))
    if (r.op === 2) answered.add(r.targetIp)
  }
  t.deepEqual([...answered].sort(), Array.from({ length: 10 }, (_, i) => `198.18.68.${10 + i}`).sort())

  // Still refused: what is not a view, and views of a bad length.
  t.throws(() => dev.send(runInNewContext('new ArrayBuffer(60)') as never), { instanceOf: TypeError })
  t.throws(() => dev.send(runInNewContext('[1, 2, 3]') as never), { instanceOf: TypeError })
  t.throws(() => dev.send(foreign(Buffer.alloc(0))), { instanceOf: RangeError })
  t.throws(() => dev.sendPacked(foreign(Buffer.alloc(60)), runInNewContext('Uint32Array.of(59)') as Uint32Array), {
    instanceOf: RangeError,
  })
  t.throws(() => dev.sendPacked(Buffer.alloc(60), runInNewContext('Int32Array.of(60)') as never), { instanceOf: TypeError })
})
