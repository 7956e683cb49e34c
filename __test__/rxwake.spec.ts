// The receive wake modes: 'loop' (a libuv poll handle on the owning thread's event loop, the
// burst read in its callback) and 'thread' (a reader thread). The kernel is the peer: it
// answers ARP requests the tests send, and the replies come back through the Rx (its queue,
// or a consumer set with Rx.consume), or are forwarded natively (Rx.forward) into another
// device, whose kernel counters then show them received.

import { execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import test, { type ExecutionContext } from 'ava'
import { openNetdev } from '../binding.js'
import { DEFAULT_WAKE, type ErrorCode, type ForwardCounters, Netdev, PltapError, type Rx, type RxWake } from '../ts/index.ts'
import {
  announceSkips,
  arpFrame,
  DIST_INDEX,
  devSerial,
  devTest,
  ipFlags,
  ipLink,
  parseArp,
  procNetDev,
  quietIpv6,
  ROOT,
  run,
  type Teardown,
  upDevice,
  waitFor,
  withDevice,
} from './support.ts'

announceSkips('rxwake.spec.ts')

const WAKES: RxWake[] = ['loop', 'thread']
const PEER_MAC = '02:00:c6:12:96:02'
const WORKER = fileURLToPath(new URL('./fixtures/worker-rx.mjs', import.meta.url))
const CONSUMER = fileURLToPath(new URL('./fixtures/consume-keepalive.mjs', import.meta.url))
const FORWARDER = fileURLToPath(new URL('./fixtures/forward-keepalive.mjs', import.meta.url))

/** ARP requests "who has 198.18.<net>.1" from `count` senders 198.18.<net>.(10+i): the kernel answers each. */
function requests(net: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    arpFrame(1, 'ff:ff:ff:ff:ff:ff', PEER_MAC, `198.18.${net}.${10 + i}`, '00:00:00:00:00:00', `198.18.${net}.1`),
  )
}

/** Reads until the ARP replies to 198.18.<net>.(10..10+count) all came; returns their target IPs, sorted. */
async function replies(rx: Rx, net: number, count: number): Promise<string[]> {
  const seen = new Set<string>()
  const signal = AbortSignal.timeout(30_000)
  while (seen.size < count) {
    const a = parseArp(await rx.read({ signal }))
    if (a?.op === 2 && a.targetIp.startsWith(`198.18.${net}.`)) seen.add(a.targetIp)
  }
  return [...seen].sort()
}

const expected = (net: number, count: number) => Array.from({ length: count }, (_, i) => `198.18.${net}.${10 + i}`).sort()

test('the default wake mode is loop', (t) => t.is(DEFAULT_WAKE, 'loop'))

devTest('rxOpen rejects a bad wake before any I/O', async (t) => {
  const dev = await withDevice(t, { name: 'kArgs', ifname: 'tKargs' })
  for (const bad of ['Loop', 'threads', '', 'poll']) {
    const e = t.throws(() => dev.rxOpen({ wake: bad as RxWake }), { instanceOf: TypeError }) as TypeError & { code: string }
    t.is(e.code, 'ERR_INVALID_ARG_VALUE')
  }
  for (const bad of [1, null, {}, true]) {
    const e = t.throws(() => dev.rxOpen({ wake: bad as never }), { instanceOf: TypeError }) as TypeError & { code: string }
    t.is(e.code, 'ERR_INVALID_ARG_TYPE')
  }
  t.is(dev.rxOpen().wake, DEFAULT_WAKE)
  t.is(dev.rxOpen({ wake: 'thread' }).wake, 'thread')
  t.is(dev.rxOpen({ wake: 'loop' }).wake, 'loop')
})

for (const [i, wake] of WAKES.entries()) {
  devTest(`${wake}: receives bursts with a timestamp; readPacked, read and observe agree`, async (t) => {
    const net = 150 + i
    const dev = await upDevice(t, net, { name: `kRecv${i}`, ifname: `tKr${i}` })
    const rx = dev.rxOpen({ wake })
    t.is(rx.wake, wake)
    t.is(rx.lastTimestamp, null)
    const observed: { frames: number; timestamp: bigint }[] = []
    const unobserve = rx.observe((b) => observed.push({ frames: b.lengths.length, timestamp: b.timestamp }))
    const before = BigInt(Date.now() - 1) * 1_000_000n
    t.is(dev.sendBatch(requests(net, 3)), 3)
    // The first burst, whole.
    const burst = await rx.readPacked({ signal: AbortSignal.timeout(30_000) })
    const after = BigInt(Date.now() + 1) * 1_000_000n
    t.is(typeof burst.timestamp, 'bigint')
    t.true(burst.timestamp >= before && burst.timestamp <= after, `${before} <= ${burst.timestamp} <= ${after}`)
    t.is(
      burst.lengths.reduce((a, b) => a + b, 0),
      burst.data.length,
    )
    t.is(rx.lastTimestamp !== null && rx.lastTimestamp >= burst.timestamp, true)
    // The rest one by one (other traffic aside), until all three replies came.
    const seen = new Set<string>()
    let offset = 0
    for (const len of burst.lengths) {
      const a = parseArp(burst.data.subarray(offset, offset + len))
      offset += len
      if (a?.op === 2) seen.add(a.targetIp)
    }
    const signal = AbortSignal.timeout(30_000)
    while (seen.size < 3) {
      const a = parseArp(await rx.read({ signal }))
      if (a?.op === 2) seen.add(a.targetIp)
    }
    t.deepEqual([...seen].sort(), expected(net, 3))
    t.true(observed.length >= 1 && observed[0]!.timestamp === burst.timestamp, 'the observer saw the first burst')
    t.true(observed.reduce((n, o) => n + o.frames, 0) >= 3, 'and every frame')
    unobserve()
    unobserve() // idempotent
    t.is(rx.dropped, 0)
  })

  devTest(`${wake}: close ends a pending read; for await ends; the device stays usable`, async (t) => {
    const dev = await withDevice(t, { name: `kClose${i}`, ifname: `tKc${i}` })
    const rx = dev.rxOpen({ wake })
    const pending = rx.read()
    const iter = (async () => {
      for await (const _ of rx) {
      }
      return 'ended'
    })()
    await rx.close()
    const e = await t.throwsAsync(pending, { instanceOf: PltapError })
    t.is(e.code, 'ERR_PLTAP_CLOSED')
    t.is(await iter, 'ended')
    await t.throwsAsync(rx.read(), { instanceOf: PltapError })
    t.throws(() => rx.observe(() => {}), { instanceOf: PltapError })
    // Another Rx on the same device, in the same loop, works.
    const rx2 = dev.rxOpen({ wake })
    await t.throwsAsync(rx2.read({ signal: AbortSignal.timeout(10) }), { any: true, name: 'TimeoutError' })
    await rx2.close()
  })

  devTest(`${wake}: at the high-water mark the reader pauses; reading resumes it; nothing is lost or miscounted`, async (t) => {
    const net = 152 + i
    const dev = await upDevice(t, net, { name: `kHwm${i}`, ifname: `tKh${i}` })
    const count = 48
    const rx = dev.rxOpen({ wake, highWaterMark: 16, batch: 4 })
    rx.observe(() => {}) // starts the reader without taking a frame
    t.is(dev.sendBatch(requests(net, count)), count)
    // The reader fills the queue to the mark and pauses; the rest waits in the kernel.
    await waitFor('the queue to reach its high-water mark', () => rx.queued >= 16)
    const read = dev.stats().port.rxPackets
    t.true(rx.queued <= 16 + 8 * 4, `${rx.queued} queued: within the hard limit`)
    t.is(rx.dropped, 0)
    // Taking frames below a quarter of the mark resumes it; every reply arrives once.
    t.deepEqual(await replies(rx, net, count), expected(net, count))
    t.true(dev.stats().port.rxPackets > read, 'it read again after resuming')
    t.is(rx.dropped, 0, 'nothing was dropped: the pause came in time')
    t.is(dev.stats().port.rxDropped, 0)
  })
}

devTest(
  'loop: an Rx in a worker thread receives on the worker\u2019s loop; the worker exits with it open, or is terminated with a read pending',
  async (t) => {
    for (const [k, then] of (['end', 'pending'] as const).entries()) {
      const net = 154 + k
      const worker = new Worker(WORKER, { workerData: { ifname: `tKw${k}`, net, then }, execArgv: [] })
      t.teardown(() => worker.terminate())
      const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
      const report = await new Promise<{
        ok: boolean
        wake?: string
        realName?: string
        targetIp?: string
        stamped?: boolean
        error?: string
      }>((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      })
      t.true(report.ok, report.error)
      t.is(report.wake, 'loop')
      t.is(report.targetIp, `198.18.${net}.2`)
      t.true(report.stamped)
      if (then === 'pending') await worker.terminate()
      t.is(await exited, then === 'end' ? 0 : 1, `${then}: the worker ended normally (no abort)`)
      await waitFor(`${report.realName} to go with the worker`, () => ipLink(report.realName!) === null)
    }
  },
)

devTest('a process with an open device and a running loop-mode Rx exits on its own', async (t) => {
  const script = [
    `import { Netdev } from ${JSON.stringify(DIST_INDEX)}`,
    "const d = await Netdev.open({ name: 'x', allocator: 'direct', ifname: 'tKx%d' })",
    "const rx = d.rxOpen({ wake: 'loop' })",
    'rx.observe(() => {})', // the poll handle is open and polling
    'await rx.read({ signal: AbortSignal.timeout(50) }).catch(() => {})', // and a read came and went
    "const rx2 = d.rxOpen({ wake: 'thread' })",
    'rx2.observe(() => {})',
    "console.log('opened', d.realName)",
  ].join('\n')
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeoutMs: 60_000 })
  t.is(r.signal, null, 'not killed by the 60 s deadline')
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /^opened tKx\d+\n$/)
  t.is(ipLink(r.stdout.trim().split(' ')[1]!), null, 'the device went with the process')
})

devTest('an idle loop-mode Rx with a pending read costs (almost) no CPU', async (t) => {
  // In a child process, so that nothing else of the test runner counts.
  const script = [
    `import { Netdev } from ${JSON.stringify(DIST_INDEX)}`,
    "const d = await Netdev.open({ name: 'x', allocator: 'direct', ifname: 'tKi%d' })",
    "const rx = d.rxOpen({ wake: 'loop' })",
    'const pending = rx.read().catch(() => {})',
    'await new Promise((r) => setTimeout(r, 200))',
    'const c0 = process.cpuUsage()',
    'const t0 = process.hrtime.bigint()',
    'await new Promise((r) => setTimeout(r, 2000))',
    'const c = process.cpuUsage(c0)',
    'const wall = Number(process.hrtime.bigint() - t0) / 1e3',
    'console.log(JSON.stringify({ cpu: c.user + c.system, wall }))',
    'await d.close()',
    'await pending',
  ].join('\n')
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeoutMs: 60_000 })
  t.is(r.code, 0, r.stderr)
  const { cpu, wall } = JSON.parse(r.stdout.trim()) as { cpu: number; wall: number }
  t.log(`${cpu} µs of CPU over ${Math.round(wall)} µs`)
  // A busy poll would cost the whole window; a generous bound (5 %) for a loaded machine.
  t.true(cpu < wall * 0.05, `${cpu} µs of CPU in ${wall} µs`)
})

devSerial('write() waits on the loop: a writable watch calls back once; a cancelled one never', async (t) => {
  const native = await openNetdev({ allocator: 'direct', mode: 'tap', ifname: 'tKwr' })
  t.teardown(() => native.close())
  native.setDesiredUp(true)
  await native.reconcile()
  let cancelled = 0
  const w1 = native.watchWritable(() => cancelled++)
  w1.cancel()
  w1.cancel() // idempotent
  let calls = 0
  await new Promise<void>((resolve) => {
    native.watchWritable(() => {
      calls++
      resolve()
    })
  })
  // Both watched the same descriptor, ready at once: had the first not been cancelled, it
  // would have been called in the same loop iteration.
  await new Promise((r) => setImmediate(r))
  t.is(calls, 1)
  t.is(cancelled, 0)
})

async function writeAll(dev: Netdev, frames: Buffer[]): Promise<void> {
  for (const f of frames) await dev.write(f)
}

devTest('write() resolves and the kernel answers; a write on a closed device rejects', async (t) => {
  const net = 156
  const dev = await upDevice(t, net, { name: 'kWrite', ifname: 'tKwt' })
  const rx = dev.rxOpen()
  await writeAll(dev, requests(net, 4))
  t.deepEqual(await replies(rx, net, 4), expected(net, 4))
  await dev.close()
  const e = await t.throwsAsync(dev.write(requests(net, 1)[0]!), { instanceOf: PltapError })
  t.is(e.code, 'ERR_PLTAP_CLOSED')
})

for (const [i, wake] of WAKES.entries()) {
  devTest(`${wake}: deleting the device under a pending read fails the read with the OS error`, async (t) => {
    const dev = await withDevice(t, { name: `kGone${i}`, ifname: `tKg${i}` })
    const rx = dev.rxOpen({ wake })
    const pending = rx.read({ signal: AbortSignal.timeout(30_000) })
    execFileSync('ip', ['link', 'del', 'dev', dev.realName])
    const e = await t.throwsAsync(pending, { instanceOf: PltapError })
    t.is(e.code, 'EBADFD', e.message)
    // The failure stays: later reads reject with it at once; close still works.
    t.is((await t.throwsAsync(rx.read(), { instanceOf: PltapError })).code, 'EBADFD')
    await rx.close()
  })
}

for (const [i, wake] of WAKES.entries()) {
  devTest(`${wake}: consume receives the kernel's replies as bursts, nothing queued; after stop a read gets the next`, async (t) => {
    const net = 157 + i
    const dev = await upDevice(t, net, { name: `kCons${i}`, ifname: `tKn${i}` })
    const rx = dev.rxOpen({ wake })
    const seen = new Set<string>()
    let bursts = 0
    let frames = 0
    let maxQueued = 0
    let badLengths = 0
    const ended: unknown[] = []
    const stop = rx.consume(
      (burst) => {
        bursts++
        frames += burst.lengths.length
        maxQueued = Math.max(maxQueued, rx.queued)
        if (burst.lengths.reduce((a, b) => a + b, 0) !== burst.data.length) badLengths++
        let offset = 0
        for (const len of burst.lengths) {
          const a = parseArp(burst.data.subarray(offset, offset + len))
          offset += len
          if (a?.op === 2 && a.targetIp.startsWith(`198.18.${net}.`)) seen.add(a.targetIp)
        }
      },
      { onEnd: (err) => ended.push(err) },
    )
    // A read made while consuming waits: the replies all go to the consumer.
    let settled = false
    const pending = rx.read({ signal: AbortSignal.timeout(30_000) }).finally(() => (settled = true))
    t.is(dev.sendBatch(requests(net, 3)), 3)
    await waitFor('the three replies to reach the consumer', () => seen.size >= 3)
    t.deepEqual([...seen].sort(), expected(net, 3))
    t.true(bursts >= 1 && frames >= 3, `${frames} frames in ${bursts} bursts`)
    t.is(badLengths, 0, 'the lengths of every burst add up to its data')
    t.is(maxQueued, 0, 'nothing was queued while consuming')
    t.is(rx.queued, 0)
    t.false(settled, 'the read still waits')
    t.is(rx.dropped, 0)
    stop()
    stop() // idempotent
    // Now the read gets the next reply.
    const framesWhileConsuming = frames
    t.is(dev.sendBatch(requests(net, 1)), 1)
    const a = parseArp(await pending)
    t.is(a?.op, 2)
    t.is(a?.targetIp, `198.18.${net}.10`)
    t.is(frames, framesWhileConsuming, 'the removed consumer got nothing more')
    t.deepEqual(ended, [], 'no onEnd after stop')
    // A new consumer; closing the Rx ends it with onEnd(undefined).
    const ended2: unknown[] = []
    rx.consume(() => {}, { onEnd: (err) => ended2.push(err) })
    await rx.close()
    t.deepEqual(ended2, [undefined])
    t.deepEqual(ended, [])
  })

  devTest(`${wake}: a consumer keeps the process alive; removing it or closing the device lets the process exit`, async (t) => {
    const ends = ['stop', 'close'] as const
    await Promise.all(
      ends.map(async (end, k) => {
        const child = holdingChild(t, CONSUMER, [`tKk${i}${k}_%d`, wake, end], end)
        await child.alive
        const realName = /^consuming (\S+)\n/.exec(child.stdout())?.[1]
        t.regex(realName ?? '', new RegExp(`^tKk${i}${k}_\\d+$`))
        t.truthy(ipLink(realName!), 'the device is there')
        await child.stop()
        const ending = end === 'close' ? 'ended undefined\n' : ''
        t.regex(child.stdout(), new RegExp(`^consuming ${realName}\\nalive\\n${ending}stopped after \\d+ frames\\n$`))
        await waitFor(`${realName} to go with the process`, () => ipLink(realName!) === null)
      }),
    )
  })
}

/**
 * A child process (`fixture` with `args`) whose event loop only the receive path holds:
 * `alive` resolves once it printed "alive" (it went idle and its unreferenced timer still
 * fired) and fails if it exited first; `stop()` tells it to let go and checks that it then
 * exits 0 by itself (within a 30 s deadline, not a wait: a child still held is killed).
 */
function holdingChild(t: ExecutionContext, fixture: string, args: string[], label: string) {
  const child = spawn(process.execPath, [fixture, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  )
  const alive = Promise.race([
    waitFor(`${label}: the child to print "alive"`, () => stdout.includes('alive\n')),
    exited.then((e) => {
      if (!stdout.includes('alive\n'))
        throw new Error(`${label}: the child exited (${e.code}, ${e.signal}) before "alive": ${stdout} ${stderr}`)
    }),
  ]).then(() => {
    t.is(child.exitCode, null, `${label}: still running`)
    t.is(child.signalCode, null)
  })
  return {
    alive,
    stdout: () => stdout,
    async stop(): Promise<void> {
      child.stdin.write('stop\n')
      const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000)
      const { code, signal } = await exited
      clearTimeout(deadline)
      t.is(signal, null, `${label}: the child did not exit within 30 s of "stop": ${stdout} ${stderr}`)
      t.is(code, 0, stderr)
    },
  }
}

// ---- Rx.forward: native forwarding into another device ------------------------------------

/**
 * A target device: open, IPv6 off and UP with no address, so that its kernel sends nothing
 * and receives only what is written into it.
 */
async function targetDevice(t: Teardown, name: string, ifname: string, queues?: number): Promise<Netdev> {
  const dev = await withDevice(t, { name, ifname, ...(queues === undefined ? {} : { queues }) })
  quietIpv6(dev.realName)
  await dev.up()
  return dev
}

/**
 * What the kernel of `dev` received: the frames written into the device. `stats().kernel` is
 * seen from the port (rx and tx swapped, as in Open vSwitch), so it is the kernel's tx there.
 */
function intoKernel(dev: Netdev): { frames: number; bytes: number } {
  const k = dev.stats().kernel
  if (k === null) throw new Error(`no kernel counters for ${dev.realName}`)
  return { frames: k.txPackets, bytes: k.txBytes }
}

/** The kernel's own receive count of `name` (/proc/net/dev, not swapped). */
function kernelRxPackets(name: string): number {
  const c = procNetDev(name)
  if (c === undefined) throw new Error(`no interface ${name}`)
  return c.rxPackets
}

/** Waits until `rx` forwarded at least `atLeast` frames more than `base`, all of them received by `target`'s kernel. */
async function forwardedInto(
  what: string,
  rx: Rx,
  target: Netdev,
  base: { forwarded: ForwardCounters; into: { frames: number } },
  atLeast: number,
): Promise<ForwardCounters> {
  return waitFor(what, () => {
    const f = rx.forwarded
    const n = f.frames - base.forwarded.frames
    return n >= atLeast && intoKernel(target).frames - base.into.frames === n && f
  })
}

/** How many of a burst's frames are ARP replies to 198.18.<net>.x, added to `seen` by target IP. */
function arpReplies(burst: { data: Buffer; lengths: Uint32Array }, net: number, seen: Set<string>): void {
  let offset = 0
  for (const len of burst.lengths) {
    const a = parseArp(burst.data.subarray(offset, offset + len))
    offset += len
    if (a?.op === 2 && a.targetIp.startsWith(`198.18.${net}.`)) seen.add(a.targetIp)
  }
}

const NO_FORWARDS = { frames: 0, bytes: 0, bursts: 0, dropped: 0, errors: 0 }

/** `fn` throws a PltapError with `code`. */
function throwsCode(t: ExecutionContext, fn: () => unknown, code: ErrorCode, message?: string): void {
  const e = t.throws(fn, { instanceOf: PltapError }, message)
  t.is(e?.code, code, message)
}

for (const [i, wake] of WAKES.entries()) {
  devTest(
    `${wake}: forward writes the kernel's replies into another device natively; observers see them; after stop they queue again`,
    async (t) => {
      const net = 160 + i
      const a = await upDevice(t, net, { name: `kFwdA${i}`, ifname: `tKfa${i}` })
      const b = await targetDevice(t, `kFwdB${i}`, `tKfb${i}`)
      const rx = a.rxOpen({ wake })
      t.deepEqual(rx.forwarded, NO_FORWARDS)
      const procBase = kernelRxPackets(b.realName)
      const base = { forwarded: rx.forwarded, into: intoKernel(b) }

      // Replies queued before the forward are forwarded first, and counted; reads wait behind it.
      rx.observe(() => {})() // starts the reader, takes nothing
      t.is(a.sendBatch(requests(net, 2)), 2)
      await waitFor('two replies to be queued', () => rx.queued >= 2)
      const queuedBefore = rx.queued
      const ended: unknown[] = []
      const stop = rx.forward(b, { onEnd: (err) => ended.push(err) })
      t.is(rx.recv(), null, 'reads wait behind the forward')
      const f0 = await forwardedInto('the queued replies to be forwarded into b', rx, b, base, queuedBefore)
      t.is(f0.frames, queuedBefore, 'each queued frame forwarded once')
      t.is(rx.queued, 0)
      base.forwarded = rx.forwarded
      base.into = intoKernel(b)

      // New replies go into b, counted once each, and reach no JS: no queue, no burst delivered.
      const stamp = rx.lastTimestamp
      let maxQueued = 0
      const watch = setInterval(() => (maxQueued = Math.max(maxQueued, rx.queued)), 5)
      t.teardown(() => clearInterval(watch))
      t.is(a.sendBatch(requests(net, 3)), 3)
      const f1 = await forwardedInto('three replies to be forwarded into b', rx, b, base, 3)
      t.true(f1.bursts >= 1 && f1.bursts <= f1.frames, JSON.stringify(f1))
      t.is(f1.dropped, 0)
      t.is(f1.errors, 0)
      t.is(intoKernel(b).bytes - base.into.bytes, f1.bytes - base.forwarded.bytes, "b's kernel received the bytes forwarded")
      t.is(b.stats().port.txPackets, f1.frames, "b's port wrote them")
      t.is(b.stats().port.txBytes, f1.bytes)
      t.is(rx.queued, 0)
      t.is(rx.recv(), null, 'nothing to read: the replies were forwarded')
      t.is(rx.lastTimestamp, stamp, 'with no observer, no forwarded burst reached JavaScript')

      // An observer added now sees every forwarded burst (and they still go to b, not the queue).
      const seen = new Set<string>()
      let observed = 0
      let badLengths = 0
      const base2 = { forwarded: rx.forwarded, into: intoKernel(b) }
      const unobserve = rx.observe((burst) => {
        observed += burst.lengths.length
        if (burst.lengths.reduce((x, y) => x + y, 0) !== burst.data.length) badLengths++
        arpReplies(burst, net, seen)
      })
      t.is(a.sendBatch(requests(net, 3)), 3)
      await waitFor('the observer to see the three forwarded replies', () => seen.size >= 3)
      t.deepEqual([...seen].sort(), expected(net, 3))
      const f2 = await forwardedInto('the three replies to be forwarded into b', rx, b, base2, 3)
      await waitFor('the observer to see every frame forwarded since it was added', () => observed === f2.frames - base2.forwarded.frames)
      t.is(badLengths, 0)
      t.not(rx.lastTimestamp, stamp, 'the observed bursts reached JavaScript')
      t.is(rx.queued, 0)
      t.is(rx.forwarded.dropped, 0)

      // Removed, it sees nothing more; forwarding goes on.
      unobserve()
      unobserve() // idempotent
      const seenBefore = observed
      const stamp2 = rx.lastTimestamp
      const base3 = { forwarded: rx.forwarded, into: intoKernel(b) }
      t.is(a.sendBatch(requests(net, 3)), 3)
      await forwardedInto('three more replies to be forwarded into b', rx, b, base3, 3)
      t.is(observed, seenBefore, 'the removed observer saw nothing more')
      t.is(rx.lastTimestamp, stamp2, 'with the observer gone, the forwarded bursts no longer reach JavaScript')
      t.is(rx.queued, 0)
      clearInterval(watch)
      t.is(maxQueued, 0, 'nothing was queued while forwarding')

      // After stop, the replies are queued for reads again; nothing more goes to b.
      stop()
      stop() // idempotent
      const final = rx.forwarded
      const intoFinal = intoKernel(b)
      t.is(a.sendBatch(requests(net, 2)), 2)
      t.deepEqual(await replies(rx, net, 2), expected(net, 2), 'after stop the replies are read')
      t.deepEqual(rx.forwarded, final)
      t.deepEqual(intoKernel(b), intoFinal, 'nothing more reached b')
      t.is(kernelRxPackets(b.realName) - procBase, final.frames, "the kernel's own rx count of b: every frame forwarded")
      t.is(final.errors + final.dropped, 0)
      t.is(rx.dropped, 0)
      await rx.close()
      t.deepEqual(ended, [], 'no onEnd after stop')
      t.deepEqual(rx.forwarded, final, 'the counters stay after close')
    },
  )

  devTest(
    `${wake}: forward to a target that is down drops and counts (no errors); to a closed one counts errors; it goes on`,
    async (t) => {
      const net = 162 + i
      const a = await upDevice(t, net, { name: `kFwdDa${i}`, ifname: `tKda${i}` })
      const b = await targetDevice(t, `kFwdDb${i}`, `tKdb${i}`)
      const rx = a.rxOpen({ wake })
      const ended: unknown[] = []
      rx.forward(b, { onEnd: (err) => ended.push(err) })
      const base = { forwarded: rx.forwarded, into: intoKernel(b) }
      t.is(a.sendBatch(requests(net, 1)), 1)
      await forwardedInto('a reply to be forwarded into b', rx, b, base, 1)

      // Down: every frame is dropped (EIO), none an error; none enters the queue.
      const setLink = async (state: 'up' | 'down'): Promise<void> => {
        const r = await run('ip', ['link', 'set', 'dev', b.realName, state])
        t.is(r.code, 0, r.stderr)
        await waitFor(`${b.realName} to be ${state}`, () => ipFlags(b.realName).includes('UP') === (state === 'up'))
      }
      await setLink('down')
      const atDown = rx.forwarded
      const intoAtDown = intoKernel(b)
      t.is(a.sendBatch(requests(net, 3)), 3)
      await waitFor('three replies to be dropped', () => rx.forwarded.dropped - atDown.dropped >= 3)
      const down = rx.forwarded
      t.is(down.frames, atDown.frames, 'nothing was written while b was down')
      t.is(down.bytes, atDown.bytes)
      t.true(down.bursts > atDown.bursts, 'the bursts were tried')
      t.is(down.errors, 0, 'a target that is down is not an error')
      t.deepEqual(intoKernel(b), intoAtDown)
      t.false(ipFlags(b.realName).includes('UP'), 'b is still down')
      t.is(rx.queued, 0, 'the dropped frames did not enter the queue')

      // Up again: forwarding resumes.
      await setLink('up')
      const baseUp = { forwarded: rx.forwarded, into: intoKernel(b) }
      t.is(a.sendBatch(requests(net, 2)), 2)
      const up = await forwardedInto('replies to be forwarded again', rx, b, baseUp, 2)
      t.is(up.errors, 0)
      t.is(up.dropped, down.dropped)

      // The target Netdev closed: each burst is refused and counted as an error; the forward goes on.
      await b.close()
      t.is(a.sendBatch(requests(net, 3)), 3)
      await waitFor('three replies to be refused', () => rx.forwarded.dropped - up.dropped >= 3)
      const closed = rx.forwarded
      t.true(closed.errors > 0, JSON.stringify(closed))
      t.is(closed.errors, closed.bursts - up.bursts, 'every burst since the close was an error')
      t.is(closed.frames, up.frames)
      t.false(rx.closed)
      t.deepEqual(ended, [], 'the forward did not end')
      t.is(a.sendBatch(requests(net, 1)), 1)
      await waitFor('the next reply to be refused too', () => rx.forwarded.dropped > closed.dropped)
      t.is(rx.queued, 0)
      await rx.close()
      t.deepEqual(ended, [undefined])
    },
  )

  devTest(`${wake}: forward to a NetdevQueue: the queue writes, its device's kernel receives; a closed queue counts errors`, async (t) => {
    // 'loop' forwards to queue 0 of a plain device, 'thread' to queue 1 of a 2-queue device.
    const [queues, index] = i === 0 ? ([1, 0] as const) : ([2, 1] as const)
    const net = 165 + i
    const a = await upDevice(t, net, { name: `kFwdQa${i}`, ifname: `tKqa${i}` })
    const b = await targetDevice(t, `kFwdQb${i}`, `tKqb${i}`, queues)
    t.is(b.queueCount, queues)
    const queue = b.queue(index)
    const rx = a.rxOpen({ wake })
    const stop = rx.forward(queue)
    const base = { forwarded: rx.forwarded, into: intoKernel(b) }
    t.is(a.sendBatch(requests(net, 3)), 3)
    const f = await forwardedInto('three replies to be forwarded into the queue', rx, b, base, 3)
    t.is(f.errors + f.dropped, 0)
    t.is(queue.counters().txPackets, f.frames, 'the queue wrote them')
    t.is(queue.counters().txBytes, f.bytes)
    if (index !== 0) t.is(b.queue(0).counters().txPackets, 0, 'not queue 0')
    t.is(rx.queued, 0)
    if (index !== 0) {
      // A queue of its own: closing it closes its descriptor, and the forward counts errors.
      await queue.close()
      t.is(a.sendBatch(requests(net, 2)), 2)
      await waitFor('the replies to be refused by the closed queue', () => rx.forwarded.dropped >= 2)
      t.true(rx.forwarded.errors > 0)
      t.is(rx.forwarded.frames, f.frames)
      stop()
      throwsCode(t, () => rx.forward(queue), 'ERR_PLTAP_CLOSED', 'a closed queue is no target')
    } else {
      stop()
      await b.close()
      t.true(queue.closed)
      throwsCode(t, () => rx.forward(queue), 'ERR_PLTAP_CLOSED', 'the queue of a closed device is no target')
    }
  })

  devTest(`${wake}: a forward on a full, paused queue forwards what waited and reads on`, async (t) => {
    const net = 167 + i
    const a = await upDevice(t, net, { name: `kFwdP${i}`, ifname: `tKpa${i}` })
    const b = await targetDevice(t, `kFwdPb${i}`, `tKpb${i}`)
    const rx = a.rxOpen({ wake, highWaterMark: 16, batch: 4 })
    rx.observe(() => {})() // starts the reader, takes nothing
    t.is(a.sendBatch(requests(net, 40)), 40)
    await waitFor('the queue to fill to its high-water mark', () => rx.queued >= 16)
    const base = { forwarded: rx.forwarded, into: intoKernel(b) }
    rx.forward(b)
    // What waited is forwarded (and the paused reader resumes), then what the kernel still held.
    const f = await forwardedInto('the 40 replies to be forwarded', rx, b, base, 40)
    t.is(f.frames, 40)
    t.is(f.errors + f.dropped, 0)
    t.is(rx.queued, 0)
    t.is(a.sendBatch(requests(net, 5)), 5)
    await forwardedInto('five more', rx, b, base, 45)
  })

  devTest(`${wake}: closing the target queue 0, or transferring it, stops the forward writing through it`, async (t) => {
    const net = 169 + i
    const a = await upDevice(t, net, { name: `kFwdR${i}`, ifname: `tKra${i}` })
    const b = await targetDevice(t, `kFwdRb${i}`, `tKrb${i}`)
    const c = await targetDevice(t, `kFwdRc${i}`, `tKrc${i}`)
    const rx = a.rxOpen({ wake })
    // Closing queue 0 ends its frame I/O (the descriptor is the Netdev's and stays open).
    const stop = rx.forward(b.queue(0))
    const base = { forwarded: rx.forwarded, into: intoKernel(b) }
    t.is(a.sendBatch(requests(net, 2)), 2)
    await forwardedInto('two replies into queue 0', rx, b, base, 2)
    await b.queue(0).close()
    const written = b.stats().port.txPackets
    t.is(a.sendBatch(requests(net, 3)), 3)
    await waitFor('the replies to be refused', () => rx.forwarded.dropped >= 3)
    t.true(rx.forwarded.errors > 0, JSON.stringify(rx.forwarded))
    t.is(rx.forwarded.frames, 2)
    t.is(b.stats().port.txPackets, written, 'nothing more written through the closed queue')
    stop()
    // Transferring c's queue 0 hands its descriptor to another thread: a forward to c stops too.
    rx.forward(c)
    const cBase = { forwarded: rx.forwarded, into: intoKernel(c) }
    t.is(a.sendBatch(requests(net, 2)), 2)
    await forwardedInto('two replies into c', rx, c, cBase, 2)
    c.queue(0).transfer() // never adopted: revoked (its descriptor closed) when c closes
    const cWritten = c.stats().port.txPackets
    const dropped = rx.forwarded.dropped
    t.is(a.sendBatch(requests(net, 3)), 3)
    await waitFor('the replies to be refused after the transfer', () => rx.forwarded.dropped >= dropped + 3)
    t.is(c.stats().port.txPackets, cWritten, 'nothing written through the transferred descriptor')
    throwsCode(t, () => rx.forward(c), 'ERR_PLTAP_CLOSED', 'c, whose frames went with its queue 0, is no target')
  })

  devTest(`${wake}: deleting the device under a forward ends it with onEnd(the OS error); a later forward ends the same way`, async (t) => {
    const a = await withDevice(t, { name: `kFwdG${i}`, ifname: `tKfg${i}` })
    const b = await withDevice(t, { name: `kFwdH${i}`, ifname: `tKfh${i}` })
    const rx = a.rxOpen({ wake })
    const ended: unknown[] = []
    rx.forward(b, { onEnd: (err) => ended.push(err) })
    execFileSync('ip', ['link', 'del', 'dev', a.realName])
    await waitFor('the forward to end', () => ended.length > 0)
    t.is(ended.length, 1)
    t.true(ended[0] instanceof PltapError)
    t.is((ended[0] as PltapError).code, 'EBADFD')
    const again: unknown[] = []
    rx.forward(b, { onEnd: (err) => again.push(err) })
    await waitFor('the second forward to end', () => again.length > 0)
    t.is((again[0] as PltapError).code, 'EBADFD')
    await rx.close()
    t.is(ended.length, 1, 'onEnd once')
    t.is(again.length, 1)
  })

  devTest(`${wake}: a forward keeps the process alive; removing it or closing the device lets the process exit`, async (t) => {
    await Promise.all(
      (['stop', 'close'] as const).map(async (end, k) => {
        const child = holdingChild(t, FORWARDER, [`tKfk${i}${k}_%d`, wake, end], end)
        await child.alive
        const m = /^forwarding (\S+) (\S+)\n/.exec(child.stdout())
        t.truthy(m, child.stdout())
        const [, source, target] = m ?? []
        t.regex(source ?? '', new RegExp(`^tKfk${i}${k}_\\d+$`))
        t.truthy(ipLink(source!), 'the device is there')
        await child.stop()
        const ending = end === 'close' ? 'ended undefined\n' : ''
        t.regex(child.stdout(), new RegExp(`^forwarding ${source} ${target}\\nalive\\n${ending}stopped after \\d+ frames\\n$`))
        await waitFor(`${source} and ${target} to go with the process`, () => ipLink(source!) === null && ipLink(target!) === null)
      }),
    )
  })
}

devTest(
  'forward: bad targets are TypeErrors; forward and consume exclude each other; a closed Rx or target is ERR_PLTAP_CLOSED; onEnd once at close',
  async (t) => {
    const net = 164
    const a = await upDevice(t, net, { name: 'kFwdErrA', ifname: 'tKfe0' })
    const b = await targetDevice(t, 'kFwdErrB', 'tKfe1')
    const rx = a.rxOpen()
    const typeError = (fn: () => unknown, what: string): void => {
      const e = t.throws(fn, { instanceOf: TypeError }, what) as TypeError & { code?: string }
      t.is(e?.code, 'ERR_INVALID_ARG_TYPE', what)
    }
    const bads: [string, unknown][] = [
      ['{}', {}],
      ['null', null],
      ['undefined', undefined],
      ['a string', b.realName],
      ['a number', 3],
      ['an Rx', rx],
      ['a bare Netdev.prototype object', Object.create(Netdev.prototype)],
      ['a look-alike', { name: b.name, realName: b.realName, sendPacked: () => 0 }],
    ]
    for (const [what, bad] of bads) typeError(() => rx.forward(bad as Netdev), what)
    for (const [what, options] of [
      ['options null', null],
      ['options a string', 'x'],
      ['onEnd not a function', { onEnd: 'x' }],
    ] as const) {
      typeError(() => rx.forward(b, options as never), what)
    }
    t.deepEqual(rx.forwarded, NO_FORWARDS)
    rx.consume(() => {})() // nothing was left set by the refused calls

    // A consumer and a forward exclude each other, either way.
    const stopConsume = rx.consume(() => {})
    throwsCode(t, () => rx.forward(b), 'ERR_PLTAP_BUSY', 'forward while consuming')
    stopConsume()
    const ended: unknown[] = []
    const stop = rx.forward(b, { onEnd: (err) => ended.push(err) })
    throwsCode(t, () => rx.consume(() => {}), 'ERR_PLTAP_BUSY', 'consume while forwarding')
    throwsCode(t, () => rx.forward(b), 'ERR_PLTAP_BUSY', 'a second forward')
    throwsCode(t, () => rx.forward(b.queue(0)), 'ERR_PLTAP_BUSY', 'a second forward, to a queue')
    // The refusals left the forward in place.
    const base = { forwarded: rx.forwarded, into: intoKernel(b) }
    t.is(a.sendBatch(requests(net, 3)), 3)
    await forwardedInto('three replies to be forwarded into b', rx, b, base, 3)
    stop()
    rx.consume(() => {})() // free again
    const ended2: unknown[] = []
    rx.forward(b, { onEnd: (err) => ended2.push(err) })
    const counters = rx.forwarded
    t.deepEqual(Object.keys(counters).sort(), ['bursts', 'bytes', 'dropped', 'errors', 'frames'])
    t.true(counters.frames >= 3)

    // Close: onEnd(undefined) once, not for the stopped forward; the counters stay.
    await rx.close()
    await rx.close()
    t.deepEqual(ended2, [undefined])
    t.deepEqual(ended, [], 'no onEnd after stop')
    t.deepEqual(rx.forwarded, counters, 'the counters stay after close')
    throwsCode(t, () => rx.forward(b), 'ERR_PLTAP_CLOSED', 'forward on a closed Rx')
    throwsCode(t, () => rx.forward(b, { onEnd: () => {} }), 'ERR_PLTAP_CLOSED', 'forward with onEnd on a closed Rx')
    typeError(() => rx.forward({} as Netdev), 'a bad target is a TypeError on a closed Rx too')
    t.deepEqual(ended2, [undefined])

    // A closed target (a Netdev, a queue of one) is refused; nothing is left set.
    const rx2 = a.rxOpen()
    const c = await withDevice(t, { name: 'kFwdErrC', ifname: 'tKfe2' })
    const cQueue = c.queue(0)
    await c.close()
    throwsCode(t, () => rx2.forward(c), 'ERR_PLTAP_CLOSED', 'a closed Netdev')
    throwsCode(t, () => rx2.forward(cQueue), 'ERR_PLTAP_CLOSED', "a closed Netdev's queue")
    t.deepEqual(rx2.forwarded, NO_FORWARDS)
    // Closing the Rx's own Netdev ends its forward with onEnd(undefined).
    const ended3: unknown[] = []
    rx2.forward(b, { onEnd: (err) => ended3.push(err) })
    await a.close()
    t.true(rx2.closed)
    t.deepEqual(ended3, [undefined])
  },
)
