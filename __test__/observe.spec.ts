// Tier (a), pure: Rx.observe, Rx.consume and PackedFrames.timestamp (contracts.md, "rxloop"),
// on an Rx whose native reader is a stand-in that delivers bursts (or fails) when the test
// says so. The stand-in serves both wake modes and passes a realtime (sec, nsec) as a native
// reader that stamps bursts does; an Rx that stamps in JS ignores them. Also unpackBurst, the
// views of a burst as the native reader packs it.
import test, { type ExecutionContext } from 'ava'
import type { NativeNetdev } from '../binding.js'
import { PltapError } from '../ts/errors.ts'
import { type BurstCallback, type PackedFrames, Rx, type RxOptions, unpackBurst } from '../ts/rx.ts'

type Deliver = BurstCallback

/**
 * Frames packed as the native reader hands a burst over (PackedLayout: data, padding to 4,
 * u32 lengths, then each frame's 10-byte virtio-net header if `vnet` is given).
 */
function packBurst(frames: Buffer[], vnet?: Buffer): { packed: Uint8Array; dataLength: number } {
  const data = Buffer.concat(frames)
  const lengthsAt = (data.length + 3) & ~3
  const vnetAt = lengthsAt + 4 * frames.length
  const packed = new Uint8Array(vnetAt + (vnet?.length ?? 0))
  packed.set(data)
  new Uint32Array(packed.buffer, lengthsAt, frames.length).set(frames.map((f) => f.length))
  if (vnet !== undefined) packed.set(vnet, vnetAt)
  return { packed, dataLength: data.length }
}

/** What the stand-in reader was asked to do. */
interface FakeReader {
  pause(): void
  resume(): void
  release(bytes: number): void
  close(): void
  truncated: number
  pauses: number
  resumes: number
  released: number
}

/** A native read failure as the reader's callback delivers it (the `\u0001pltap:` wire form errors.ts decodes). */
const EBADFD_WIRE =
  '\u0001pltap:{"code":"EBADFD","message":"read tKfake: EBADFD: File descriptor in bad state","errno":-77,"op":"read tKfake","description":"File descriptor in bad state","syscall":"read"}'

/**
 * An Rx over a fake reader: `deliver(...)` plays the reader thread's callback with a burst,
 * `deliverVnet` with a burst and its virtio-net headers, `fail(wire)` with an error.
 */
function fakeRx(options: { batch?: number; highWaterMark?: number } = {}): {
  rx: Rx
  reader: FakeReader
  deliver: (...frames: Buffer[]) => void
  deliverVnet: (frames: Buffer[], vnet: Buffer) => void
  fail: (wire: string) => void
} {
  let cb: Deliver | undefined
  const reader: FakeReader = {
    pause() {
      this.pauses++
    },
    resume() {
      this.resumes++
    },
    release(bytes: number) {
      this.released += bytes
    },
    close() {},
    truncated: 0,
    pauses: 0,
    resumes: 0,
    released: 0,
  }
  const start = (callback: Deliver) => {
    cb = callback
    return reader
  }
  const native = { rxStart: start, rxStartLoop: start } as unknown as NativeNetdev
  // 'thread': the stand-in is a reader thread's callback (an Rx without wake modes ignores it).
  const rx = new Rx({ native, realName: 'fake0', onClose() {} }, { ...options, wake: 'thread' } as RxOptions)
  const started = (): Deliver => {
    if (cb === undefined) throw new Error('the reader has not started (nobody read yet)')
    return cb
  }
  const send = (frames: Buffer[], vnet?: Buffer): void => {
    const now = Date.now()
    const { packed, dataLength } = packBurst(frames, vnet)
    started()(null, packed, dataLength, frames.length, Math.floor(now / 1000), (now % 1000) * 1_000_000, vnet !== undefined)
  }
  return {
    rx,
    reader,
    deliver: (...frames: Buffer[]) => send(frames),
    deliverVnet: (frames: Buffer[], vnet: Buffer) => send(frames, vnet),
    fail: (wire: string) => started()(wire, null, 0, 0, 0, 0, false),
  }
}

/**
 * The next `count` uncaught exceptions, taken from ava's own listeners meanwhile (which
 * are put back after, or when the test ends). Used by serial tests only, so two captures
 * never overlap.
 */
function nextUncaught(t: ExecutionContext, count = 1): Promise<unknown[]> {
  return new Promise((resolve) => {
    const listeners = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    const got: unknown[] = []
    let restored = false
    const restore = (): void => {
      if (restored) return
      restored = true
      process.off('uncaughtException', onError)
      for (const l of listeners) process.on('uncaughtException', l)
    }
    const onError = (e: unknown): void => {
      got.push(e)
      if (got.length < count) return
      restore()
      resolve(got)
    }
    process.on('uncaughtException', onError)
    t.teardown(restore)
  })
}

/** {@link fakeRx}, closed when the test ends (so that a failed assertion leaves no consumer keeping the process alive). */
function ownedRx(t: ExecutionContext, options: { batch?: number; highWaterMark?: number } = {}): ReturnType<typeof fakeRx> {
  const r = fakeRx(options)
  t.teardown(() => r.rx.close().catch(() => {}))
  return r
}

/** Lets queued microtasks (and the promise reactions they schedule) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r))

/** The frames of a burst, one buffer each. */
function framesOf(burst: PackedFrames): Buffer[] {
  const out: Buffer[] = []
  let offset = 0
  for (const len of burst.lengths) {
    out.push(burst.data.subarray(offset, offset + len))
    offset += len
  }
  return out
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

// ---- Rx.consume -----------------------------------------------------------------------

test('consume hands every burst to fn synchronously as it arrives: nothing is queued, and the reader gets the bytes back', (t) => {
  const { rx, reader, deliver } = ownedRx(t)
  const got: PackedFrames[] = []
  const stop = rx.consume((b) => {
    t.is(rx.queued, 0, 'not queued first')
    got.push(b)
  })
  // consume itself started the reader (deliver throws otherwise).
  const before = BigInt(Date.now()) * 1_000_000n
  deliver(f(1), f(2, 100))
  t.is(got.length, 1, 'synchronously, before the reader callback returns')
  t.deepEqual(framesOf(got[0]!), [f(1), f(2, 100)])
  t.deepEqual([...got[0]!.lengths], [60, 100])
  t.is(got[0]!.vnet, undefined, 'no vnet on a plain device')
  t.true(got[0]!.timestamp >= before - 2_000_000n && got[0]!.timestamp <= BigInt(Date.now()) * 1_000_000n + 2_000_000n)
  t.is(rx.lastTimestamp, got[0]!.timestamp)
  deliver(f(3))
  t.is(got.length, 2)
  t.deepEqual(framesOf(got[1]!), [f(3)])
  t.is(rx.queued, 0)
  t.is(rx.queuedBytes, 0)
  t.is(reader.released, 160 + 60, 'every burst went straight back to the reader')
  stop()
})

test('consume: the bounds of the queue do not apply (no pause, no drop, however many bursts)', (t) => {
  const { rx, reader, deliver } = ownedRx(t, { batch: 1, highWaterMark: 16 })
  let frames = 0
  const stop = rx.consume((b) => (frames += b.lengths.length))
  for (let i = 0; i < 100; i++) deliver(f(i))
  t.is(frames, 100)
  t.is(rx.dropped, 0)
  t.is(reader.pauses, 0)
  t.is(rx.queued, 0)
  stop()
})

test('consume passes the virtio-net headers of a burst along', (t) => {
  const { rx, deliverVnet } = ownedRx(t)
  const got: PackedFrames[] = []
  const stop = rx.consume((b) => got.push(b))
  const vnet = Buffer.from(Array.from({ length: 30 }, (_, k) => k + 1))
  deliverVnet([f(1, 61), f(2, 70), f(3, 99)], vnet)
  t.deepEqual(framesOf(got[0]!), [f(1, 61), f(2, 70), f(3, 99)])
  t.deepEqual(got[0]!.vnet, vnet)
  stop()
})

test('bursts queued before consume go to fn first, in order, from a microtask; then new bursts', async (t) => {
  const { rx, reader, deliver } = ownedRx(t, { batch: 1, highWaterMark: 16 })
  rx.observe(() => {}) // starts the reader without taking a frame
  for (let i = 0; i < 20; i++) deliver(f(i))
  t.is(rx.queued, 20)
  t.is(reader.pauses, 1, 'the queue reached its high-water mark')
  const got: number[] = []
  const stop = rx.consume((b) => {
    for (const frame of framesOf(b)) got.push(frame[0]!)
  })
  t.deepEqual(got, [], 'not from inside consume()')
  await Promise.resolve()
  t.deepEqual(
    got,
    Array.from({ length: 20 }, (_, k) => k),
    'all of them, in order, at the next microtask',
  )
  t.is(rx.queued, 0)
  t.is(rx.queuedBytes, 0)
  t.is(reader.resumes, 1, 'taking them resumed the reader')
  deliver(f(20))
  t.is(got.at(-1), 20)
  t.is(rx.queued, 0)
  stop()
})

test('a partly read burst goes to the consumer from its next frame', async (t) => {
  const { rx, deliver } = ownedRx(t)
  const first = rx.read()
  deliver(f(1), f(2), f(3))
  t.deepEqual(await first, f(1))
  const got: Buffer[][] = []
  const stop = rx.consume((b) => got.push(framesOf(b)))
  await Promise.resolve()
  t.deepEqual(got, [[f(2), f(3)]])
  stop()
})

test('stopping inside fn, or before the microtask, leaves the rest of the queue to reads', async (t) => {
  const { rx, deliver } = ownedRx(t)
  rx.observe(() => {})
  deliver(f(1))
  deliver(f(2))
  deliver(f(3))
  const got: number[] = []
  const stop = rx.consume((b) => {
    got.push(b.data[0]!)
    stop()
  })
  await Promise.resolve()
  t.deepEqual(got, [1], 'only the first burst: fn stopped the consumer')
  t.is(rx.queued, 2)
  t.deepEqual(await rx.read(), f(2))
  const stop2 = rx.consume(() => got.push(-1))
  stop2() // before its microtask ran
  await Promise.resolve()
  t.deepEqual(got, [1])
  t.deepEqual(await rx.read(), f(3))
})

test('while consuming, reads wait; after stop they get the next frames', async (t) => {
  const { rx, deliver } = ownedRx(t)
  const got: number[] = []
  const stop = rx.consume((b) => got.push(b.data[0]!))
  let settled = false
  const pending = rx.read().finally(() => (settled = true))
  const batch = rx.readBatch()
  deliver(f(1))
  deliver(f(2))
  await settle()
  t.deepEqual(got, [1, 2], 'the consumer got both')
  t.false(settled, 'the read still waits')
  stop()
  t.false(settled, 'stop alone gives the read nothing')
  deliver(f(3), f(4))
  t.deepEqual(await pending, f(3))
  t.deepEqual(await batch, [f(4)])
  t.deepEqual(got, [1, 2], 'nothing more for the removed consumer')
  await rx.close()
})

// A read made while a consumer is set, before its microtask took the queued bursts, waits too.
test('a read right after consume() waits: the queued frames all go to the consumer', async (t) => {
  const { rx, deliver } = ownedRx(t)
  rx.observe(() => {})
  deliver(f(1), f(2))
  const got: Buffer[] = []
  const stop = rx.consume((b) => got.push(...framesOf(b)))
  let settled = false
  const pending = rx.read().finally(() => (settled = true))
  await settle()
  t.deepEqual(got, [f(1), f(2)])
  t.false(settled)
  stop()
  deliver(f(3))
  t.deepEqual(await pending, f(3))
})

test('stop is idempotent; a second consumer is ERR_PLTAP_BUSY until the first is removed', (t) => {
  const { rx, deliver } = ownedRx(t)
  const a: number[] = []
  const b: number[] = []
  const stopA = rx.consume((x) => a.push(x.data[0]!))
  const busy = t.throws(() => rx.consume(() => {}), { instanceOf: PltapError })
  t.is(busy.code, 'ERR_PLTAP_BUSY')
  t.regex(busy.message, /fake0/)
  deliver(f(1))
  stopA()
  stopA()
  const stopB = rx.consume((x) => b.push(x.data[0]!))
  stopA() // a stale stop must not remove the new consumer
  deliver(f(2))
  t.deepEqual(a, [1])
  t.deepEqual(b, [2])
  stopB()
  t.notThrows(() => rx.consume(() => {})())
})

test('consume rejects bad arguments with TypeError before anything starts', (t) => {
  const { rx, deliver } = ownedRx(t)
  const bad = (fn: () => unknown) =>
    t.is((t.throws(fn, { instanceOf: TypeError }) as TypeError & { code: string }).code, 'ERR_INVALID_ARG_TYPE')
  for (const fn of [undefined, null, 'fn', 1, {}]) bad(() => rx.consume(fn as never))
  for (const options of [null, 'x', 1, true, [], () => {}]) bad(() => rx.consume(() => {}, options as never))
  for (const onEnd of [null, 'x', 1, {}]) bad(() => rx.consume(() => {}, { onEnd } as never))
  t.throws(() => deliver(f(1)), { message: /has not started/ }, 'the reader did not start')
  // None of them left a consumer behind.
  const stop = rx.consume(() => {}, { onEnd: undefined })
  stop()
})

test('consume after close is ERR_PLTAP_CLOSED', async (t) => {
  const { rx } = ownedRx(t)
  await rx.close()
  const e = t.throws(() => rx.consume(() => {}), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_CLOSED')
})

test('onEnd(undefined), once, when the Rx closes; later bursts are not delivered', async (t) => {
  const { rx, deliver } = ownedRx(t)
  const ended: unknown[] = []
  let bursts = 0
  rx.consume(() => bursts++, { onEnd: (err) => ended.push(err) })
  deliver(f(1))
  await rx.close()
  await rx.close()
  t.deepEqual(ended, [undefined])
  t.is(ended.length, 1)
  deliver(f(2)) // a late burst of the reader
  t.is(bursts, 1)
})

test('onEnd(err) when the reader fails: the decoded OS error; pending reads reject with it; later consumes end from a microtask', async (t) => {
  const { rx, fail } = ownedRx(t)
  const ended: unknown[] = []
  rx.consume(() => {}, { onEnd: (err) => ended.push(err) })
  const pending = rx.read()
  fail(EBADFD_WIRE)
  t.is(ended.length, 1, 'synchronously, once')
  const err = ended[0]
  t.true(err instanceof PltapError)
  t.like(err as PltapError, { code: 'EBADFD', errno: -77, syscall: 'read' })
  t.regex((err as PltapError).message, /^EBADFD: File descriptor in bad state, read \(read tKfake\)$/)
  t.is(await t.throwsAsync(pending), err as Error, 'the pending read got the same error')
  // The Rx stays failed: the consumer slot is free, but a new consumer ends at once.
  const again: unknown[] = []
  t.notThrows(() => rx.consume(() => {}, { onEnd: (e) => again.push(e) }))
  t.deepEqual(again, [], 'not from inside consume()...')
  await settle()
  t.deepEqual(again, [err], '...but from a microtask')
  await rx.close()
  t.is(ended.length, 1, 'not again on close')
  t.is(again.length, 1)
})

test('onEnd is not called after stop, neither on close nor on failure', async (t) => {
  const closing = ownedRx(t)
  const failing = ownedRx(t)
  const ended: unknown[] = []
  closing.rx.consume(() => {}, { onEnd: (e) => ended.push(['closing', e]) })()
  failing.rx.consume(() => {}, { onEnd: (e) => ended.push(['failing', e]) })()
  await closing.rx.close()
  failing.fail(EBADFD_WIRE)
  await settle()
  t.deepEqual(ended, [])
  await failing.rx.close()
})

test('observers see every burst before the consumer', (t) => {
  const { rx, deliver } = ownedRx(t)
  const order: string[] = []
  rx.observe((b) => order.push(`observer ${b.data[0]}`))
  const stop = rx.consume((b) => order.push(`consumer ${b.data[0]}`))
  rx.observe((b) => order.push(`late observer ${b.data[0]}`))
  deliver(f(1))
  deliver(f(2))
  t.deepEqual(order, ['observer 1', 'late observer 1', 'consumer 1', 'observer 2', 'late observer 2', 'consumer 2'])
  stop()
})

test.serial('an exception thrown by fn is rethrown as an uncaught exception; the next burst still reaches fn', async (t) => {
  const { rx, deliver } = ownedRx(t)
  const got: number[] = []
  const stop = rx.consume((b) => {
    got.push(b.data[0]!)
    if (b.data[0] === 1) throw new Error('consumer bug')
  })
  const uncaught = nextUncaught(t)
  deliver(f(1))
  t.deepEqual(got, [1])
  deliver(f(2))
  t.deepEqual(got, [1, 2], 'still the consumer')
  t.is(rx.queued, 0, 'and nothing went to the queue')
  const [e] = await uncaught
  t.is((e as Error).message, 'consumer bug')
  stop()
  await rx.close()
})

test.serial('an exception thrown by fn on a queued burst is rethrown; the other queued bursts still reach fn', async (t) => {
  const { rx, deliver } = ownedRx(t)
  rx.observe(() => {})
  deliver(f(1))
  deliver(f(2))
  const got: number[] = []
  const uncaught = nextUncaught(t)
  const stop = rx.consume((b) => {
    got.push(b.data[0]!)
    if (b.data[0] === 1) throw new Error('queued consumer bug')
  })
  const [e] = await uncaught
  t.is((e as Error).message, 'queued consumer bug')
  t.deepEqual(got, [1, 2])
  t.is(rx.queued, 0)
  stop()
  await rx.close()
})

test.serial('a reader failure with no onEnd is rethrown as an uncaught exception', async (t) => {
  const { rx, fail } = ownedRx(t)
  rx.consume(() => {})
  const uncaught = nextUncaught(t)
  fail(EBADFD_WIRE)
  const [e] = await uncaught
  t.true(e instanceof PltapError)
  t.is((e as PltapError).code, 'EBADFD')
  // A close then is no failure: nothing more is thrown (a second capture would see it first).
  await rx.close()
})

test.serial('closing with a consumer but no onEnd throws nothing', async (t) => {
  const { rx, deliver } = ownedRx(t)
  const errors: unknown[] = []
  const listeners = process.listeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  const onError = (e: unknown) => errors.push(e)
  process.on('uncaughtException', onError)
  try {
    rx.consume(() => {})
    deliver(f(1))
    await rx.close()
    await settle()
  } finally {
    process.off('uncaughtException', onError)
    for (const l of listeners) process.on('uncaughtException', l)
  }
  t.deepEqual(errors, [])
})

// onEnd's exception is rethrown asynchronously, as fn's: close() still completes and tells the owner.
test.serial('an onEnd that throws does not break close(); its exception is rethrown as uncaught', async (t) => {
  const uncaught = nextUncaught(t)
  let onClose = 0
  const start = () => ({ pause() {}, resume() {}, release() {}, close() {}, truncated: 0 })
  const native = { rxStart: start, rxStartLoop: start } as unknown as NativeNetdev
  const rx = new Rx({ native, realName: 'fake0', onClose: () => onClose++ }, { wake: 'thread' })
  rx.consume(() => {}, {
    onEnd: () => {
      throw new Error('onEnd bug')
    },
  })
  await t.notThrowsAsync(rx.close())
  t.is(onClose, 1)
  const [e] = await uncaught
  t.is((e as Error).message, 'onEnd bug')
})

// ---- unpackBurst ----------------------------------------------------------------------

test('unpackBurst: views of data, lengths and vnet headers, without a copy when the lengths are aligned', (t) => {
  const frames = [f(1, 61), f(2, 70), f(3, 99)] // 230 bytes: the lengths start at 232
  const vnet = Buffer.from(Array.from({ length: 30 }, (_, k) => 0x80 + k))
  const { packed, dataLength } = packBurst(frames, vnet)
  t.is(dataLength, 230)
  for (const at of [0, 4, 8]) {
    const big = new Uint8Array(packed.length + at + 3)
    big.set(packed, at)
    const view = big.subarray(at, at + packed.length)
    const u = unpackBurst(view, dataLength, 3, true)
    t.deepEqual([...u.lengths], [61, 70, 99], `at ${at}`)
    t.deepEqual(u.data, Buffer.concat(frames))
    t.deepEqual(u.vnet, vnet)
    t.is(u.data.buffer, big.buffer, 'data is a view')
    t.is(u.data.byteOffset, at)
    t.is(u.lengths.buffer, big.buffer, 'the lengths are a view')
    t.is(u.lengths.byteOffset, at + 232)
    t.is(u.vnet!.buffer, big.buffer, 'vnet is a view')
    t.is(u.vnet!.byteOffset, at + 232 + 12)
  }
  const plain = unpackBurst(packed, dataLength, 3, false)
  t.is(plain.vnet, null)
  t.deepEqual([...plain.lengths], [61, 70, 99])
})

test('unpackBurst copies the lengths when they are misaligned (a view at an odd byteOffset)', (t) => {
  const frames = [f(1, 61), f(2, 70), f(3, 99)]
  const vnet = Buffer.from(Array.from({ length: 30 }, (_, k) => 0x80 + k))
  const { packed, dataLength } = packBurst(frames, vnet)
  for (const at of [1, 2, 3, 5]) {
    const big = new Uint8Array(packed.length + at + 4)
    big.set(packed, at)
    const view = big.subarray(at, at + packed.length)
    const u = unpackBurst(view, dataLength, 3, true)
    t.deepEqual([...u.lengths], [61, 70, 99], `at ${at}`)
    t.is(u.lengths.length, 3)
    t.not(u.lengths.buffer, big.buffer, 'the lengths are a copy')
    t.deepEqual(u.data, Buffer.concat(frames))
    t.is(u.data.buffer, big.buffer, 'data is still a view')
    t.is(u.data.byteOffset, at)
    t.deepEqual(u.vnet, vnet, 'the vnet headers are where they belong')
    t.is(u.vnet!.byteOffset, at + 232 + 12)
    // The copy is the lengths' own: changing the packed bytes afterwards leaves it alone.
    big.fill(0xff, at + 232, at + 244)
    t.deepEqual([...u.lengths], [61, 70, 99])
    const plain = unpackBurst(view, dataLength, 3, false)
    t.is(plain.vnet, null)
    t.deepEqual([...plain.lengths], [0xffffffff, 0xffffffff, 0xffffffff])
  }
})
