/**
 * The worker script of {@link startQueueBridge}: bridges the two queues in `workerData`
 * until the parent posts any message (see `runQueueBridgeWorker` in `queue-bridge.ts`).
 * @module
 */

import { parentPort, workerData } from 'node:worker_threads'
import { type QueueBridgeWorkerData, runQueueBridgeWorker } from './queue-bridge.js'

if (parentPort !== null) void runQueueBridgeWorker(workerData as QueueBridgeWorkerData, parentPort)
