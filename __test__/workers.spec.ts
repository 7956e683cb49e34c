import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { announceSkips, devTest, ipAddr, ipFlags, ipLink, waitFor } from './support.ts'

announceSkips('workers.spec.ts')

const FIXTURE = fileURLToPath(new URL('./fixtures/worker-netdev.mjs', import.meta.url))

interface Report {
  ok: boolean
  realName?: string
  flags?: { up: boolean; promisc: boolean; running: boolean }
  config?: { localIp: string; localNetmask: number }
  sameName?: boolean
  error?: string
}

function startWorker(data: { name: string; ifname: string; localIp: string; closeExplicitly: boolean }) {
  // No execArgv: the TypeScript loader ava runs under is not wanted (nor needed) in the workers.
  const worker = new Worker(FIXTURE, { workerData: data, execArgv: [] })
  const report = new Promise<Report>((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before reporting`)))
  })
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  return { worker, report, exited }
}

devTest('two worker threads each open, configure and report their own Netdev; both devices go when the workers exit', async (t) => {
  // The same port name in both: port names are per thread.
  const a = startWorker({ name: 'port', ifname: 'tWa%d', localIp: '198.18.90.1', closeExplicitly: true })
  const b = startWorker({ name: 'port', ifname: 'tWb%d', localIp: '198.18.91.1', closeExplicitly: false })
  t.teardown(async () => {
    await a.worker.terminate()
    await b.worker.terminate()
  })
  const [ra, rb] = await Promise.all([a.report, b.report])
  t.true(ra.ok, ra.error)
  t.true(rb.ok, rb.error)
  t.regex(ra.realName!, /^tWa\d+$/)
  t.regex(rb.realName!, /^tWb\d+$/)
  t.deepEqual(ra.flags, { up: true, promisc: false, running: true })
  t.deepEqual(rb.flags, { up: true, promisc: false, running: true })
  t.deepEqual(ra.config, { localIp: '198.18.90.1', localNetmask: 24 })
  t.deepEqual(rb.config, { localIp: '198.18.91.1', localNetmask: 24 })
  t.true(ra.sameName && rb.sameName)

  // The kernel shows both, as configured.
  t.regex(ipAddr(ra.realName!), /inet 198\.18\.90\.1\/24 /)
  t.regex(ipAddr(rb.realName!), /inet 198\.18\.91\.1\/24 /)
  t.true(ipFlags(ra.realName!).includes('UP'))
  t.true(ipFlags(rb.realName!).includes('UP'))

  a.worker.postMessage('go')
  b.worker.postMessage('go')
  t.is(await a.exited, 0)
  t.is(await b.exited, 0)
  // A closed on its own; B's device must go with its thread.
  await waitFor(
    `${ra.realName} and ${rb.realName} to disappear`,
    () => ipLink(ra.realName!) === null && ipLink(rb.realName!) === null,
    30_000,
  )
  t.is(ipLink(ra.realName!), null)
  t.is(ipLink(rb.realName!), null)
})
