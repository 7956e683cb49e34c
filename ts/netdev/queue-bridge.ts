/**
 * A multi-queue bridge: queue *i* of device A forwarded to and from queue *i* of device B,
 * one `worker_thread` per queue pair. Since the kernel sends a flow to the queue that last
 * wrote it, pairing the queues this way keeps each flow on one thread in both directions.
 *
 * - {@link bridgeQueues}: the pump, for any two queues on one thread (what each worker runs).
 * - {@link startQueueBridge}: transfers the queue pairs of two {@link Netdev}s to one worker
 *   each (running `queue-bridge-worker.js`) and collects their counters when stopped.
 * @module
 */

import { Worker } from 'node:worker_threads'
import { PltapError } from '../errors.js'
import type { Netdev } from '../netdev.js'
import type { RxOptions } from '../rx.js'
import { NetdevQueue, type QueueTransfer } from './queue.js'

/**
 * What one direction of a bridge forwarded.
 *
 * @example
 * ```ts
 * const { aToB } = await bridgeQueues(qa, qb, { signal })
 * console.log(`${aToB.frames} frames, ${aToB.dropped} dropped`)
 * ```
 */
export interface QueuePumpCounters {
  /** Frames written to the other side. */
  frames: number
  /** Their bytes. */
  bytes: number
  /** Frames read but not written because the other side's kernel queue was full. */
  dropped: number
  /** Frames the other side refused (e.g. `EIO` while it is down); they are dropped too. */
  errors: number
}

/**
 * Both directions of a bridge.
 *
 * @example
 * ```ts
 * const c: QueueBridgeCounters = await bridgeQueues(qa, qb, { signal })
 * ```
 */
export interface QueueBridgeCounters {
  /** From A to B. */
  aToB: QueuePumpCounters
  /** From B to A. */
  bToA: QueuePumpCounters
}

/**
 * Options of {@link bridgeQueues} and {@link startQueueBridge}.
 *
 * @example
 * ```ts
 * const opts: QueueBridgeOptions = { rx: { batch: 128 } }
 * ```
 */
export interface QueueBridgeOptions {
  /** Stops the pump: it returns its counters (see {@link bridgeQueues}). */
  signal?: AbortSignal
  /** The receive queue of each side. */
  rx?: RxOptions
}

const zero = (): QueuePumpCounters => ({ frames: 0, bytes: 0, dropped: 0, errors: 0 })

function isEnd(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err instanceof PltapError && err.code === 'ERR_PLTAP_CLOSED')
}

async function pump(from: NetdevQueue, to: NetdevQueue, c: QueuePumpCounters, options: QueueBridgeOptions): Promise<void> {
  await using rx = from.rxOpen(options.rx)
  for (;;) {
    let burst: Awaited<ReturnType<typeof rx.readPacked>>
    try {
      burst = await rx.readPacked({ signal: options.signal })
    } catch (err) {
      if (isEnd(err, options.signal)) return
      throw err
    }
    const { data, lengths } = burst
    let sent: number
    try {
      sent = to.sendPacked(data, lengths)
    } catch (err) {
      if (isEnd(err, options.signal)) return
      // The first frame was refused: drop the burst and go on, as a switch would. A port
      // that is down (EIO) is a drop, not an error.
      if ((err as { code?: unknown } | null)?.code === 'EIO') c.dropped++
      else c.errors++
      c.dropped += lengths.length - 1
      continue
    }
    let bytes = 0
    for (let i = 0; i < sent; i++) bytes += lengths[i]!
    c.frames += sent
    c.bytes += bytes
    c.dropped += lengths.length - sent
  }
}

/**
 * Forwards frames both ways between queue `a` and queue `b` on this thread (one `Rx` per
 * side, bursts forwarded with one `sendPacked` each) until `options.signal` aborts or a
 * side is closed; resolves with what each direction forwarded. Frames the other side
 * cannot take now (its kernel queue is full) are dropped and counted, as a switch would.
 * Rejects on any other receive failure (e.g. the device was deleted).
 *
 * @example
 * ```ts
 * // In a worker that was handed two transfers:
 * const qa = NetdevQueue.adopt(workerData.a)
 * const qb = NetdevQueue.adopt(workerData.b)
 * const stop = new AbortController()
 * parentPort!.once('message', () => stop.abort())
 * const counters = await bridgeQueues(qa, qb, { signal: stop.signal })
 * ```
 */
export async function bridgeQueues(a: NetdevQueue, b: NetdevQueue, options: QueueBridgeOptions = {}): Promise<QueueBridgeCounters> {
  const counters = { aToB: zero(), bToA: zero() }
  await Promise.all([pump(a, b, counters.aToB, options), pump(b, a, counters.bToA, options)])
  return counters
}

/** What {@link startQueueBridge} passes to each worker. @internal */
export interface QueueBridgeWorkerData {
  a: QueueTransfer
  b: QueueTransfer
  rx?: RxOptions
}

/** A message from a bridge worker. @internal */
export type QueueBridgeMessage =
  | { type: 'ready' }
  | { type: 'done'; counters: QueueBridgeCounters }
  | { type: 'error'; message: string; code?: string }

/**
 * The body of a bridge worker (`queue-bridge-worker.js` runs it): adopts the two queues in
 * `workerData` ({@link QueueBridgeWorkerData}), posts `{ type: 'ready' }`, bridges them
 * until any message arrives from the parent, then closes both queues and posts
 * `{ type: 'done', counters }` (or `{ type: 'error' }`). @internal
 */
export async function runQueueBridgeWorker(data: QueueBridgeWorkerData, port: import('node:worker_threads').MessagePort): Promise<void> {
  const stop = new AbortController()
  const onStop = (): void => stop.abort()
  port.once('message', onStop)
  let qa: NetdevQueue | undefined
  let qb: NetdevQueue | undefined
  try {
    qa = NetdevQueue.adopt(data.a)
    qb = NetdevQueue.adopt(data.b)
    port.postMessage({ type: 'ready' } satisfies QueueBridgeMessage)
    const counters = await bridgeQueues(qa, qb, { signal: stop.signal, rx: data.rx })
    await qa.close()
    await qb.close()
    port.postMessage({ type: 'done', counters } satisfies QueueBridgeMessage)
  } catch (err) {
    await qa?.close()
    await qb?.close()
    const e = err as { message?: string; code?: string }
    port.postMessage({ type: 'error', message: String(e?.message ?? err), code: e?.code } satisfies QueueBridgeMessage)
  } finally {
    port.off('message', onStop)
  }
}

/**
 * A running multi-queue bridge ({@link startQueueBridge}).
 *
 * @example
 * ```ts
 * const bridge = startQueueBridge(a, b, { worker })
 * await bridge.ready
 * const perWorker = await bridge.stop()
 * ```
 */
export interface QueueBridge {
  /** One worker per queue pair; worker `i` bridges queue `i` of A and queue `i` of B. */
  readonly workers: readonly Worker[]
  /** Resolves once every worker adopted its queues; rejects if one failed to. */
  readonly ready: Promise<void>
  /** Stops every worker and resolves with their counters, in queue order. Idempotent. */
  stop(): Promise<QueueBridgeCounters[]>
}

/**
 * Bridges two multi-queue devices with one `worker_thread` per queue pair: queue *i* of `a`
 * with queue *i* of `b` in worker *i*, for `queues` pairs (default: the smaller
 * {@link Netdev.queueCount}). Every queue used is transferred ({@link NetdevQueue.transfer}),
 * so both Netdevs stop doing frame I/O themselves; their link operations keep working.
 * Close the Netdevs after {@link QueueBridge.stop}.
 *
 * `worker` is the worker script: `queue-bridge-worker.js` next to this module by default
 * (in the built package); pass it when running from the TypeScript sources.
 *
 * @throws `RangeError` for a `queues` larger than either device has.
 * @example
 * ```ts
 * const a = await Netdev.open({ name: 'a', allocator: 'direct', ifname: 'bra', queues: 2 })
 * const b = await Netdev.open({ name: 'b', allocator: 'direct', ifname: 'brb', queues: 2 })
 * const bridge = startQueueBridge(a, b)
 * await bridge.ready
 * process.once('SIGINT', async () => console.log(await bridge.stop()))
 * ```
 */
export function startQueueBridge(
  a: Netdev,
  b: Netdev,
  options: { queues?: number; worker?: string | URL; rx?: RxOptions } = {},
): QueueBridge {
  const n = options.queues ?? Math.min(a.queueCount, b.queueCount)
  if (!Number.isInteger(n) || n < 1 || n > a.queueCount || n > b.queueCount) {
    throw Object.assign(
      new RangeError(`The "queues" option must be an integer >= 1 and <= ${Math.min(a.queueCount, b.queueCount)}. Received ${n}`),
      {
        code: 'ERR_OUT_OF_RANGE',
      },
    )
  }
  const script = options.worker ?? (typeof __dirname === 'string' ? `${__dirname}/queue-bridge-worker.js` : undefined)
  if (script === undefined) throw new TypeError('startQueueBridge: pass options.worker (the path of queue-bridge-worker.js)')
  const workers: Worker[] = []
  const readies: Promise<void>[] = []
  const results: Promise<QueueBridgeCounters>[] = []
  for (let i = 0; i < n; i++) {
    const workerData: QueueBridgeWorkerData = { a: a.queue(i).transfer(), b: b.queue(i).transfer(), rx: options.rx }
    const w = new Worker(script, { workerData, execArgv: [] })
    workers.push(w)
    let onReady!: () => void
    let onFail!: (e: Error) => void
    readies.push(
      new Promise<void>((resolve, reject) => {
        onReady = resolve
        onFail = reject
      }),
    )
    results.push(
      new Promise<QueueBridgeCounters>((resolve, reject) => {
        const fail = (e: Error): void => {
          onFail(e)
          reject(e)
        }
        w.on('message', (m: QueueBridgeMessage) => {
          if (m.type === 'ready') onReady()
          else if (m.type === 'done') resolve(m.counters)
          else fail(Object.assign(new Error(`bridge worker ${i}: ${m.message}`), { code: m.code }))
        })
        w.once('error', fail)
        w.once('exit', (code) => fail(new Error(`bridge worker ${i} exited (${code}) before reporting`)))
      }),
    )
  }
  for (const r of results) r.catch(() => {}) // observed through ready/stop
  let stopping: Promise<QueueBridgeCounters[]> | undefined
  return {
    workers,
    ready: Promise.all(readies).then(() => {}),
    stop() {
      stopping ??= (async () => {
        for (const w of workers) w.postMessage('stop')
        try {
          return await Promise.all(results)
        } finally {
          await Promise.all(workers.map((w) => w.terminate().catch(() => 0)))
        }
      })()
      return stopping
    },
  }
}
