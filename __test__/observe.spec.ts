// Tier (a), pure: Rx.observe and PackedFrames.timestamp (contracts.md, "rxloop"), on an Rx
// whose native reader is a stand-in that delivers bursts when the test says so. The
// stand-in serves both wake modes and passes a realtime (sec, nsec) as a native reader that
// stamps bursts does; an Rx that stamps in JS ignores them.
import test from 'ava'
import type { NativeNetdev } from '../binding.js'
import { type PackedFrames, Rx, type RxOptions } from '../ts/rx.ts'

type Deliver = (err: string | null, frames: Buffer | null, lengths: Uint32Array | null, sec: number | null, nsec: number | null) => void

/** An Rx over a fake reader: `deliver(...)` plays the reader thread's callback. */
function fakeRx(options: { batch?: number; highWaterMark?: number } = {}): { rx: Rx; deliver: (...frames: Buffer[]) => void } {
  let cb: Deliver | undefined
  const reader = { pause() {}, resume() {}, release() {}, close() {}, truncated: 0 }
  const start = (callback: Deliver) => {
    cb = callback
    return reader
  }
  const native = { rxStart: start, rxStartLoop: start } as unknown as NativeNetdev
  // 'thread': the stand-in is a reader thread's callback (an Rx without wake modes ignores it).
  const rx = new Rx({ native, realName: 'fake0', onClose() {} }, { ...options, wake: 'thread' } as RxOptions)
  return {
    rx,
    deliver: (...frames: Buffer[]) => {
      if (cb === undefined) throw new Error('the reader has not started (nobody read yet)')
      const now = Date.now()
      cb(null, Buffer.concat(frames), Uint32Array.from(frames.map((f) => f.length)), Math.floor(now / 1000), (now % 1000) * 1_000_000)
    },
  }
}

const f = (n: number, len = 60): Buffer => Buffer.alloc(len, n)

test('an observer sees every burst, before and besides the readers, with a realtime timestamp', async (t) => {
  const { rx, deliver } = fakeRx()
  const seen: PackedFrames[] = []
  const stop = rx.observe((b) => seen.push(b))
  const first = rx.read() // starts the reader
  const before = BigInt(Date.now()) * 1_000_000n
  deliver(f(1), f(2, 100))
  t.is(seen.length, 1, 'synchronously, as the burst arrives')
  t.deepEqual([...seen[0]!.lengths], [60, 100])
  t.deepEqual(await first, f(1), 'the reader still gets the first frame...')
  t.deepEqual(await rx.read(), f(2, 100), '...and the second')
  deliver(f(3))
  const burst = await rx.readPacked()
  t.is(burst.timestamp, seen[1]!.timestamp, 'readPacked carries the same timestamp the observer saw')
  const after = BigInt(Date.now()) * 1_000_000n
  t.true(seen[0]!.timestamp >= before - 2_000_000n && seen[1]!.timestamp <= after + 2_000_000n)
  t.true(seen[1]!.timestamp >= seen[0]!.timestamp)
  stop()
  stop() // idempotent
  const next = rx.read()
  deliver(f(4))
  await next
  t.is(seen.length, 2, 'unsubscribed')
  await rx.close()
})

test('two observers, one of them throwing: the other and the queue are unaffected; the error surfaces as uncaught', async (t) => {
  const { rx, deliver } = fakeRx()
  const got: number[] = []
  rx.observe(() => {
    throw new Error('observer bug')
  })
  rx.observe((b) => got.push(b.lengths.length))
  const uncaught = new Promise<Error>((resolve) => {
    const listeners = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    process.once('uncaughtException', (e) => {
      for (const l of listeners) process.on('uncaughtException', l)
      resolve(e)
    })
  })
  const first = rx.read()
  deliver(f(1), f(2))
  t.deepEqual(got, [2])
  t.deepEqual(await first, f(1))
  t.is(rx.queued, 1)
  t.is((await uncaught).message, 'observer bug')
  await rx.close()
})

test('observers see the bursts the queue drops past its hard limit', async (t) => {
  const { rx, deliver } = fakeRx({ batch: 1, highWaterMark: 16 })
  let observed = 0
  rx.observe((b) => (observed += b.lengths.length))
  const first = rx.read()
  for (let i = 0; i < 40; i++) deliver(f(i))
  await first
  t.is(observed, 40)
  t.true(rx.dropped > 0, `the queue dropped ${rx.dropped}`)
  t.is(rx.queued + 1 + rx.dropped, 40)
  t.throws(() => rx.observe('nope' as unknown as () => void), { instanceOf: TypeError })
  await rx.close()
})
