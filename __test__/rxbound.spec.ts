// The receive queue is bounded in bytes as well as in frames: a flood of 64 KiB frames that
// nobody reads costs at most highWaterMarkBytes in the process; the rest waits in the kernel's
// queue or is dropped there, and every frame is accounted for.

import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { announceSkips, devTest, quietIpv6, waitFor, withDevice } from './support.ts'

announceSkips('rxbound.spec.ts')

const PEER_MAC = '02:00:c6:12:45:02'
const PAYLOAD = 65_000 // one UDP datagram, one frame: 14 + 20 + 8 + 65000 bytes
const FRAME = 14 + 20 + 8 + PAYLOAD
const DEFAULT_BOUND = 4 * 1024 * 1024

/** Sends `count` datagrams of PAYLOAD bytes to `peer`; resolves with how many the kernel took. */
async function flood(peer: string, count: number, onEach: () => void): Promise<number> {
  const sock = createSocket('udp4')
  const payload = Buffer.alloc(PAYLOAD, 0x5a)
  let sent = 0
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve) => {
        sock.send(payload, 9, peer, (err) => {
          if (!err) sent++
          resolve()
        })
      })
      onEach()
    }
  } finally {
    sock.close()
  }
  return sent
}

// Both wake modes: the loop stops polling, the thread stops reading, at the same bound.
for (const [wake, net] of [
  ['loop', 69],
  ['thread', 72],
] as const) {
  const PEER = `198.18.${net}.2`
  devTest(
    `${wake}: a flood of 64 KiB frames that is never read stays within highWaterMarkBytes; the rest is dropped and counted`,
    async (t) => {
      const dev = await withDevice(t, { name: `bFlood${net}`, ifname: `tB${net}` })
      quietIpv6(dev.realName)
      dev.setMtu(65521)
      // A kernel queue of 100 frames: the first wave fits in it, the second overflows it.
      execFileSync('ip', ['link', 'set', 'dev', dev.realName, 'txqueuelen', '100'])
      await dev.setConfig({ localIp: `198.18.${net}.1`, localNetmask: 24 })
      // The peer's MAC is known: every datagram leaves at once as one frame (no ARP).
      execFileSync('ip', ['neigh', 'replace', PEER, 'lladdr', PEER_MAC, 'dev', dev.realName, 'nud', 'permanent'])

      const rx = dev.rxOpen({ wake }) // default bounds: 2048 frames, 4 MiB
      // Start the reader thread without taking a frame: a read that is given up at once.
      const ac = new AbortController()
      const started = rx.read({ signal: ac.signal })
      ac.abort()
      await t.throwsAsync(started, { any: true, name: 'AbortError' })

      const droppedBefore = dev.stats().kernel!.rxDropped
      let maxQueued = 0
      const sample = (): void => {
        maxQueued = Math.max(maxQueued, rx.queuedBytes)
      }
      // Wave 1: 100 frames (6.5 MB), all kept by the kernel until the reader takes them. The
      // reader takes what fits under the bound and then waits: no room for another frame, and
      // everything it read has reached the queue.
      let sent = await flood(PEER, 100, sample)
      t.is(sent, 100)
      const state = () => ({ queued: rx.queued, queuedBytes: rx.queuedBytes, dropped: rx.dropped, read: dev.stats().port.rxPackets })
      await waitFor(
        'the reader to fill the byte bound',
        () => rx.queuedBytes + 65_535 > DEFAULT_BOUND && dev.stats().port.rxPackets === rx.queued + rx.dropped,
        30_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(state())}`)
      })
      sample()
      const firstRead = dev.stats().port.rxPackets
      // Wave 2: 200 more while the reader waits: they fill the kernel's queue, which drops the rest.
      sent += await flood(PEER, 200, sample)
      t.is(sent, 300)
      t.is(dev.stats().port.rxPackets, firstRead, 'the reader read nothing more while the queue was full')
      t.true(maxQueued <= DEFAULT_BOUND, `at most ${DEFAULT_BOUND} bytes were ever queued (${maxQueued})`)
      t.is(rx.queuedBytes, rx.queued * FRAME)
      t.true(rx.queued < 2048, 'the byte bound, not the frame bound, stopped the reader')
      t.is(rx.dropped, 0, 'nothing was read only to be thrown away')

      // Every frame is accounted for: queued, still in the kernel's queue, or dropped by the kernel.
      const inKernel = dev.drain()
      const droppedByKernel = dev.stats().kernel!.rxDropped - droppedBefore
      t.is(inKernel, 100, "the kernel's queue was full")
      t.true(droppedByKernel > 0, 'the flood overflowed the kernel queue while the reader waited')
      t.is(rx.queued + rx.dropped + inKernel + droppedByKernel, sent)

      // Taking frames gives the room back: the reader reads again.
      const queued = rx.queued
      const taken = await rx.readBatch({ max: 4096 })
      t.is(taken.length, queued)
      t.true(taken.every((f) => f.length === FRAME))
      t.is(rx.queuedBytes, 0)
      const more = await flood(PEER, 3, () => {})
      t.is(more, 3)
      const frames = await rx.readBatch({ max: 16, signal: AbortSignal.timeout(30_000) })
      t.true(frames.length >= 1 && frames.every((f) => f.length === FRAME))
    },
  )
}

devTest('rxOpen validates highWaterMarkBytes', async (t) => {
  const dev = await withDevice(t, { name: 'bArgs', ifname: 'tB70' })
  for (const bad of [65_535, 2 ** 30 + 1, 1.5, Number.NaN]) {
    t.is(
      (t.throws(() => dev.rxOpen({ highWaterMarkBytes: bad }), { instanceOf: RangeError }) as RangeError & { code: string }).code,
      'ERR_OUT_OF_RANGE',
    )
  }
  t.is(
    (t.throws(() => dev.rxOpen({ highWaterMarkBytes: '4M' as never }), { instanceOf: TypeError }) as TypeError & { code: string }).code,
    'ERR_INVALID_ARG_TYPE',
  )
  t.is(dev.rxOpen({ highWaterMarkBytes: 65_536 }).queuedBytes, 0)
})
