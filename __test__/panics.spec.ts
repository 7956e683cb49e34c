// The native addon never aborts the process: inputs another thread changes behind its
// back are snapshotted before they are checked, and a panic anywhere in the addon (entry
// points, the reader thread, thread-safe-function callbacks) becomes a typed JS error.
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { openNetdev } from '../binding.js'
import { fromNative } from '../ts/errors.ts'
import { PltapError } from '../ts/index.ts'
import { announceSkips, devSerial, run, withDevice } from './support.ts'

announceSkips('panics.spec.ts')

const MUTATOR = fileURLToPath(new URL('./fixtures/sab-mutator.mjs', import.meta.url))
const PANIC_CHILD = fileURLToPath(new URL('./fixtures/panic-child.mjs', import.meta.url))
const FRAMES = 16

/** Starts a worker that rewrites `lengths` (on a SharedArrayBuffer) in a tight loop. */
async function mutate(lengths: Uint32Array): Promise<() => Promise<void>> {
  const control = new SharedArrayBuffer(8)
  const ctl = new Int32Array(control)
  const worker = new Worker(MUTATOR, { workerData: { lengths, control } })
  const failed = new Promise<never>((_, reject) => worker.once('error', reject))
  // Wait until it is running (Atomics.wait is not allowed here on the main thread).
  while (Atomics.load(ctl, 1) === 0) await Promise.race([new Promise((r) => setTimeout(r, 5)), failed])
  return async () => {
    Atomics.store(ctl, 0, 1)
    await worker.terminate()
  }
}

/** Runs the panic child with PLTAP_TEST_PANIC=point; resolves with how it ended and its output. */
function runChild(point: string, wake = ''): ReturnType<typeof run> {
  return run(process.execPath, [PANIC_CHILD], {
    env: { ...process.env, PLTAP_TEST_PANIC: point, PLTAP_TEST_WAKE: wake },
    timeoutMs: 60_000,
  })
}

function sharedLengths(): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(4 * FRAMES)).fill(60)
}

/** Calls `send` many times while the lengths change under it; every failure must be typed. */
async function hammer(t: import('ava').ExecutionContext, send: () => number): Promise<void> {
  const outcomes = { sent: 0, rangeErrors: 0, pltapErrors: 0 }
  const until = Date.now() + 2_000
  for (let i = 0; i < 200_000 && Date.now() < until; i++) {
    try {
      outcomes.sent += send()
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) outcomes.rangeErrors++
      else if (err instanceof PltapError) {
        t.true(['ERR_INVALID_ARG_VALUE', 'EIO', 'EMSGSIZE'].includes(err.code), `${err.code}: ${err.message}`)
        outcomes.pltapErrors++
      } else t.fail(`untyped error: ${String(err)}`)
    }
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r)) // let the worker's errors surface
  }
  t.log(outcomes)
  t.true(outcomes.sent + outcomes.rangeErrors + outcomes.pltapErrors > 0)
}

devSerial('sendPacked with lengths on a SharedArrayBuffer that a worker rewrites: typed errors, never an abort', async (t) => {
  const dev = await withDevice(t, { name: 'sabFacade', ifname: 'sab0' })
  await dev.up()
  const data = Buffer.alloc(60 * FRAMES)
  const lengths = sharedLengths()
  const stop = await mutate(lengths)
  t.teardown(stop)
  await hammer(t, () => dev.sendPacked(data, lengths))
  await stop()
  // Still alive and working.
  t.is(dev.sendPacked(data, new Uint32Array(FRAMES).fill(60)), FRAMES)
})

devSerial('the addon itself snapshots lengths: its own checks hold for what it sends (no facade in between)', async (t) => {
  const native = await openNetdev({ allocator: 'direct', mode: 'tap', ifname: 'sab1' })
  t.teardown(() => native.close())
  native.setDesiredUp(true)
  await native.reconcile()
  const data = Buffer.alloc(60 * FRAMES)
  const lengths = sharedLengths()
  const stop = await mutate(lengths)
  t.teardown(stop)
  await hammer(t, () => {
    try {
      return native.sendPacked(data, lengths)
    } catch (err) {
      throw fromNative(err)
    }
  })
  await stop()
  lengths.fill(60)
  t.is(native.sendPacked(data, lengths), FRAMES)
})

// The receive points in both wake modes (the reader thread's start and its callback; the
// loop's start and its poll callback).
const points = ['open', 'send_packed', 'sync', ...['rx_reader', 'rx_callback'].flatMap((p) => [`${p}`, `${p}:thread`])]
for (const spec of points) {
  const [point, wake] = spec.split(':') as [string, string | undefined]
  devSerial(`a panic in the addon (${spec}) becomes ERR_PLTAP_INTERNAL and the process lives on`, async (t) => {
    const r = await runChild(point, wake)
    t.is(r.signal, null, `the child was killed by ${r.signal}: ${r.stderr}`)
    t.is(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      point: string
      caught: { name: string; code: string; message: string } | null
    }
    t.is(out.point, point)
    t.truthy(out.caught, `no error reached JS: ${r.stdout} ${r.stderr}`)
    t.is(out.caught!.name, 'PltapError')
    t.is(out.caught!.code, 'ERR_PLTAP_INTERNAL')
    t.regex(out.caught!.message, new RegExp(`panicked: PLTAP_TEST_PANIC=${point}`))
  })
}
