/**
 * A `pltap bridge --queues N` worker: adopts queue i of both devices (handed over with
 * `NetdevQueue.transfer()`), forwards between them into the shared counters, and closes
 * both queues when the main thread posts `'stop'`.
 * @internal
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as pkg from '../index.js'
import type { NetdevQueue } from '../netdev/queue.js'
import type { Rx, RxOptions } from '../rx.js'
import type { BridgeEngine } from './bridge.js'
import { forwardPump, pump, type SendPacked } from './bridge-pump.js'

/** The part of the multi-queue API (issue 8 item 3) a worker uses. */
interface AdoptedQueue {
  rxOpen(options?: RxOptions): Rx
  sendPacked(data: Buffer, lengths: Uint32Array, vnet?: Uint8Array): number
  close(): unknown
}
type QueueCtor = { adopt(t: unknown): AdoptedQueue }

const {
  a: ta,
  b: tb,
  counters,
  rxOptions,
  engine,
  intervalMs,
} = workerData as {
  a: unknown
  b: unknown
  counters: Float64Array
  index: number
  rxOptions: RxOptions
  engine: BridgeEngine
  intervalMs: number | undefined
}
const port = parentPort!

async function main(): Promise<void> {
  const NetdevQueue = (pkg as unknown as { NetdevQueue: QueueCtor }).NetdevQueue
  const qa = NetdevQueue.adopt(ta)
  const qb = NetdevQueue.adopt(tb)
  const rxA = qa.rxOpen(rxOptions)
  const rxB = qb.rxOpen(rxOptions)
  const send =
    (q: AdoptedQueue): SendPacked =>
    (d, l, v) =>
      v === undefined ? q.sendPacked(d, l) : q.sendPacked(d, l, v)
  const pumps =
    engine === 'native'
      ? [
          forwardPump(rxA, qb as unknown as NetdevQueue, counters, 0, intervalMs),
          forwardPump(rxB, qa as unknown as NetdevQueue, counters, 1, intervalMs),
        ]
      : [pump(rxA, send(qb), counters, 0), pump(rxB, send(qa), counters, 1)]
  port.once('message', async () => {
    await Promise.all([rxA.close(), rxB.close()])
    await Promise.all(pumps)
    await Promise.all([qa.close(), qb.close()])
    port.postMessage({ type: 'stopped' })
    port.close()
  })
  port.postMessage({ type: 'ready' })
}

main().catch((err: unknown) => {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) })
  port.close()
})
