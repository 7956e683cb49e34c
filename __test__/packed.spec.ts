// Bulk frame I/O without an object per frame: Rx.readPacked and Netdev.sendPacked.
import { PltapError } from '../ts/index.ts'
import { announceSkips, arpFrame, devTest, parseArp, procNetDev, upDevice, waitFor } from './support.ts'

announceSkips('packed.spec.ts')

const PEER_MAC = '02:00:c6:12:00:fd'

/** ARP requests for the device's own address from `count` different peers, packed. */
function packedRequests(net: number, count: number): { data: Buffer; lengths: Uint32Array } {
  const frames = Array.from({ length: count }, (_, i) =>
    arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.${net}.${10 + i}`, '00:00:00:00:00:00', `198.18.${net}.1`),
  )
  return { data: Buffer.concat(frames), lengths: Uint32Array.from(frames, (f) => f.length) }
}

devTest('sendPacked writes every frame of a packed buffer with one call; the kernel receives each', async (t) => {
  const dev = await upDevice(t, 96, { name: 'pSend', ifname: 'tP96' })
  const before = procNetDev(dev.realName)!.rxPackets
  const { data, lengths } = packedRequests(96, 5)
  t.is(dev.sendPacked(data, lengths), 5)
  await waitFor('the kernel to count 5 frames', () => procNetDev(dev.realName)!.rxPackets - before >= 5)
  t.is(procNetDev(dev.realName)!.rxPackets - before, 5)
  t.is(dev.stats().port.txPackets, 5)
  t.is(dev.stats().port.txBytes, data.length)
  t.is(dev.sendPacked(Buffer.alloc(0), new Uint32Array(0)), 0)
})

devTest('readPacked returns whole bursts: data and lengths agree, and every frame is intact', async (t) => {
  const dev = await upDevice(t, 97, { name: 'pRead', ifname: 'tP97' })
  const rx = dev.rxOpen()
  const { data, lengths } = packedRequests(97, 6)
  // Start the reader thread before the kernel answers.
  const first = rx.readPacked({ signal: AbortSignal.timeout(30_000) })
  t.is(dev.sendPacked(data, lengths), 6)
  const replies: string[] = []
  let burst = await first
  for (;;) {
    t.is(
      burst.data.length,
      burst.lengths.reduce((a, b) => a + b, 0),
      'lengths add up to data',
    )
    let offset = 0
    for (const len of burst.lengths) {
      const arp = parseArp(burst.data.subarray(offset, offset + len))
      if (arp?.op === 2) {
        t.is(len, 42)
        replies.push(arp.targetIp)
      }
      offset += len
    }
    if (replies.length >= 6) break
    burst = await rx.readPacked({ signal: AbortSignal.timeout(30_000) })
  }
  t.deepEqual(replies.sort(), Array.from({ length: 6 }, (_, i) => `198.18.97.${10 + i}`).sort())
})

devTest('read and readPacked share one queue: readPacked returns what read left of a burst', async (t) => {
  const dev = await upDevice(t, 98, { name: 'pMixed', ifname: 'tP98' })
  const rx = dev.rxOpen({ batch: 64 })
  const first = rx.read({ signal: AbortSignal.timeout(30_000) }) // starts the reader thread
  const { data, lengths } = packedRequests(98, 4)
  dev.sendPacked(data, lengths)
  await first
  await waitFor('more frames to queue', () => rx.queued > 0, 30_000)
  const queued = rx.queued
  const rest = await rx.readPacked()
  t.true(rest.lengths.length >= 1 && rest.lengths.length <= queued)
  t.is(rx.queued, queued - rest.lengths.length)
  t.is(
    rest.data.length,
    rest.lengths.reduce((a, b) => a + b, 0),
  )
})

devTest('sendPacked and readPacked reject bad arguments before any I/O', async (t) => {
  const dev = await upDevice(t, 99, { name: 'pArgs', ifname: 'tP99' })
  const tx = dev.stats().port.txPackets
  t.is(
    (t.throws(() => dev.sendPacked(Buffer.alloc(60), Uint32Array.of(59)), { instanceOf: RangeError }) as RangeError & { code: string })
      .code,
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    (t.throws(() => dev.sendPacked(Buffer.alloc(60), Uint32Array.of(0, 60)), { instanceOf: RangeError }) as RangeError & { code: string })
      .code,
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    (
      t.throws(() => dev.sendPacked(Buffer.alloc(70000), Uint32Array.of(70000)), { instanceOf: RangeError }) as RangeError & {
        code: string
      }
    ).code,
    'ERR_OUT_OF_RANGE',
  )
  t.is(
    (
      t.throws(() => dev.sendPacked(Buffer.alloc(60), [60] as unknown as Uint32Array), { instanceOf: TypeError }) as TypeError & {
        code: string
      }
    ).code,
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(
    (t.throws(() => dev.sendPacked('x' as unknown as Buffer, Uint32Array.of(1)), { instanceOf: TypeError }) as TypeError & { code: string })
      .code,
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(dev.stats().port.txPackets, tx, 'nothing was sent')
  const rx = dev.rxOpen()
  t.throws(() => rx.readPacked({ signal: 'no' as unknown as AbortSignal }), { instanceOf: TypeError })
  await rx.close()
  const e = await t.throwsAsync(rx.readPacked(), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_CLOSED')
})
