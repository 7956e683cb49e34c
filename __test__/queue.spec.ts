import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import test from 'ava'
import { MAX_QUEUES, Netdev, NetdevQueue, PltapError, type QueueTransfer, startQueueBridge } from '../ts/index.ts'
import { announceSkips, devSerial, devTest, fdCount, quietIpv6, ROOT, run, waitFor, withDevice } from './support.ts'

announceSkips('queue.spec.ts')

const WORKER = fileURLToPath(new URL('./fixtures/queue-worker.mjs', import.meta.url))
const BRIDGE_WORKER = join(ROOT, 'dist', 'netdev', 'queue-bridge-worker.js')
const FLOWS = 32

test('queue options are checked before anything is opened', async (t) => {
  const open = (extra: object) => Netdev.open({ name: 'qOpt', allocator: 'direct', ...extra })
  for (const queues of [0, MAX_QUEUES + 1, 1.5, -1]) {
    const e = t.throws(() => open({ queues }), { instanceOf: RangeError })
    t.is((e as NodeJS.ErrnoException).code, 'ERR_OUT_OF_RANGE')
  }
  t.throws(() => open({ queues: '2' }), { instanceOf: TypeError })
  t.throws(() => open({ multiQueue: 1 }), { instanceOf: TypeError })
  t.throws(() => open({ multiQueue: false, queues: 2 }), { instanceOf: TypeError, message: /multiQueue/ })
  const vsys = t.throws(() => Netdev.open({ name: 'qOpt', allocator: 'vsys', queues: 2 }), { instanceOf: RangeError })
  t.regex(vsys!.message, /must be 1 with allocator "vsys"/)
  t.throws(() => Netdev.open({ name: 'qOpt', allocator: 'vsys', multiQueue: true }), {
    instanceOf: TypeError,
    message: /only valid with allocator "direct"/,
  })
  t.throws(() => Netdev.open({ name: 'qOpt', allocator: { fd: 0 }, packetInfo: false, multiQueue: true }), { instanceOf: TypeError })
  t.throws(() => NetdevQueue.adopt({} as QueueTransfer), { instanceOf: TypeError })
  t.is(Netdev.get('qOpt'), undefined)
})

devTest('N queues: queueCount, queue(i), attachQueue, setEnabled, close; a plain device refuses more queues', async (t) => {
  const dev = await withDevice(t, { name: 'qApi', ifname: 'tQa%d', queues: 3 })
  t.is(dev.queueCount, 3)
  t.is(dev.queue(1), dev.queue(1), 'the same object every time')
  for (let i = 0; i < 3; i++) {
    t.is(dev.queue(i).index, i)
    t.is(dev.queue(i).name, dev.realName)
    t.is(dev.queue(i).mode, 'tap')
    t.false(dev.queue(i).packetInfo)
  }
  t.throws(() => dev.queue(3), { instanceOf: RangeError })
  t.throws(() => dev.queue(-1), { instanceOf: RangeError })
  const q3 = await dev.attachQueue()
  t.is(q3.index, 3)
  t.is(dev.queueCount, 4)
  t.is(dev.queue(3), q3)
  t.true(q3.enabled)
  q3.setEnabled(false)
  t.false(q3.enabled)
  t.true(dev.queue(0).enabled)
  const again = t.throws(() => q3.setEnabled(false), { instanceOf: PltapError })
  t.is(again!.code, 'EINVAL')
  q3.setEnabled(true)
  t.true(q3.enabled)
  t.deepEqual(
    Object.keys(q3.counters()).sort(),
    ['rxBytes', 'rxDropped', 'rxErrors', 'rxPackets', 'txBytes', 'txDropped', 'txErrors', 'txPackets'].sort(),
  )

  await q3.close()
  t.true(q3.closed)
  t.is(t.throws(() => q3.send(new Uint8Array(60)), { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
  // Queue 0 is the device's own descriptor: closing the queue object leaves the device open.
  await dev.queue(0).close()
  t.true(dev.queue(0).closed)
  t.false(dev.closed)
  t.is(typeof dev.mtu, 'number')

  // A device opened without IFF_MULTI_QUEUE takes no more queues, and its name cannot be
  // reopened multi-queue: EINVAL, SystemError-shaped, saying why.
  const plain = await withDevice(t, { name: 'qPlain', ifname: 'tQp0' })
  t.is(plain.queueCount, 1)
  const e1 = await t.throwsAsync(plain.attachQueue(), { instanceOf: PltapError })
  const e2 = await t.throwsAsync(Netdev.open({ name: 'qPlain2', allocator: 'direct', ifname: 'tQp0', queues: 2 }), {
    instanceOf: PltapError,
  })
  for (const e of [e1!, e2!]) {
    t.is(e.code, 'EINVAL')
    t.is(e.errno, -22)
    t.is(e.syscall, 'ioctl')
    t.regex(e.message, /TUNSETIFF tQp0 with IFF_MULTI_QUEUE: a device of that name exists but was not created with IFF_MULTI_QUEUE/)
  }
  t.is(Netdev.get('qPlain2'), undefined)

  // multiQueue: one queue now, more later.
  const one = await withDevice(t, { name: 'qOne', ifname: 'tQo%d', multiQueue: true })
  t.is(one.queueCount, 1)
  t.is((await one.attachQueue()).index, 1)

  const queues = [0, 1, 2, 3].map((i) => dev.queue(i))
  await dev.close()
  t.true(
    queues.every((q) => q.closed),
    'closing the Netdev closes its queues',
  )
  t.is(t.throws(() => dev.queueCount, { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
})

devTest(
  'a transfer is adopted once; queue 0 transferred stops the Netdev’s frame I/O; an unadopted transfer is revoked at close',
  async (t) => {
    const dev = await withDevice(t, { name: 'qXfer', ifname: 'tQx%d', queues: 2 })
    const rx = dev.queue(1).rxOpen()
    const t1 = dev.queue(1).transfer()
    t.is(t1.kind, 'pltap.QueueTransfer')
    t.is(t1.index, 1)
    t.is(t1.name, dev.realName)
    t.is(t1.ifindex, dev.ifindex)
    t.true(rx.closed, "the queue's Rx closed with the transfer")
    t.true(dev.queue(1).transferred)
    t.is(t.throws(() => dev.queue(1).send(new Uint8Array(60)), { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
    t.is(t.throws(() => dev.queue(1).transfer(), { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
    // A structured clone (what postMessage makes) shares the state word.
    const clone = structuredClone(t1)
    const adopted = NetdevQueue.adopt(clone)
    t.is(adopted.index, 1)
    t.is(adopted.name, dev.realName)
    t.throws(() => NetdevQueue.adopt(t1), { instanceOf: TypeError, message: /already adopted/ })

    const devRx = dev.rxOpen()
    const t0 = dev.queue(0).transfer()
    t.true(devRx.closed)
    for (const f of [() => dev.send(new Uint8Array(60)), () => dev.rxOpen(), () => dev.drain()]) {
      t.is(t.throws(f, { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
    }
    t.is(dev.ifindex, t0.ifindex, 'link operations keep working')
    await dev.close()
    const revoked = t.throws(() => NetdevQueue.adopt(t0), { instanceOf: PltapError })
    t.is(revoked!.code, 'ERR_PLTAP_CLOSED')
    t.regex(revoked!.message, /revoked/)
    // The adopted queue is its own: it outlives the Netdev until it closes.
    t.false(adopted.closed)
    await adopted.close()
  },
)

interface WorkerMsg {
  type: string
  port?: number
  sent?: number
  index?: number
  error?: string
}

function startQueueWorker(workerData: object) {
  const worker = new Worker(WORKER, { workerData, execArgv: [] })
  const messages: WorkerMsg[] = []
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve))
  worker.on('message', (m: WorkerMsg) => messages.push(m))
  worker.on('error', (e) => messages.push({ type: 'error', error: String(e) }))
  const next = (type: string): Promise<WorkerMsg> =>
    waitFor(`a ${type} message from a queue worker`, () => {
      const err = messages.find((m) => m.type === 'error')
      if (err) throw new Error(`queue worker failed: ${err.error}`)
      return messages.find((m) => m.type === type)
    })
  return { worker, messages, exited, next }
}

devSerial(
  '2 queues in 2 workers: kernel flows spread across them and all arrive, both send to the kernel, fds back to baseline',
  async (t) => {
    // Warm up first: the addon's blocking pool and the worker machinery keep descriptors of
    // their own once started; the baseline is taken after that.
    const warm = await Netdev.open({ name: 'qWarm', allocator: 'direct', ifname: 'tQw%d', queues: 2 })
    const w0 = startQueueWorker({
      transfer: warm.queue(1).transfer(),
      peerIp: '198.18.71.2',
      localIp: '198.18.71.1',
      localMac: '02:00:00:00:71:01',
      peerMac: '02:00:00:00:71:02',
      tag: 0,
    })
    await w0.next('ready')
    w0.worker.postMessage({ type: 'stop' })
    await w0.next('closed')
    await w0.exited
    await warm.close()
    const baseline = fdCount()
    const dev = await Netdev.open({ name: 'qWork', allocator: 'direct', ifname: 'tQw%d', queues: 2 })
    const sockets: dgram.Socket[] = []
    const workers: ReturnType<typeof startQueueWorker>[] = []
    t.teardown(async () => {
      await Promise.all(workers.map((w) => w.worker.terminate()))
      for (const s of sockets) s.close()
      await dev.close()
    })
    quietIpv6(dev.realName)
    await dev.setConfig({ localIp: '198.18.70.1', localNetmask: 24 })
    const peerMac = '02:00:00:00:70:02'
    execFileSync('ip', ['neigh', 'replace', '198.18.70.2', 'lladdr', peerMac, 'nud', 'permanent', 'dev', dev.realName])
    const base = { peerIp: '198.18.70.2', localIp: '198.18.70.1', localMac: dev.etheraddr, peerMac, tag: 0x5a }
    for (let i = 0; i < 2; i++) workers.push(startQueueWorker({ ...base, transfer: dev.queue(i).transfer() }))
    const readies = await Promise.all(workers.map((w) => w.next('ready')))
    t.deepEqual(
      readies.map((r) => r.index),
      [0, 1],
    )

    // FLOWS flows (one datagram each, to distinct ports) from the kernel: with 2 queues, all
    // on one queue has probability 2^-31.
    const sender = dgram.createSocket('udp4')
    sockets.push(sender)
    await new Promise<void>((r) => sender.bind(0, '198.18.70.1', r))
    for (let i = 0; i < FLOWS; i++) {
      await new Promise<void>((r, j) => sender.send(Buffer.alloc(16, 0x5a), 40000 + i, '198.18.70.2', (e) => (e ? j(e) : r())))
    }
    const ports = (w: (typeof workers)[number]) => w.messages.filter((m) => m.type === 'port').map((m) => m.port!)
    await waitFor(`${FLOWS} datagrams across the queues`, () => ports(workers[0]!).length + ports(workers[1]!).length >= FLOWS)
    const all = [...ports(workers[0]!), ...ports(workers[1]!)].sort((a, b) => a - b)
    t.deepEqual(
      all,
      Array.from({ length: FLOWS }, (_, i) => 40000 + i),
      'every datagram arrived exactly once',
    )
    t.true(
      ports(workers[0]!).length > 0 && ports(workers[1]!).length > 0,
      `spread: ${ports(workers[0]!).length} + ${ports(workers[1]!).length}`,
    )

    // Each worker writes datagrams to the device's address on its queue; the kernel delivers them.
    const sink = dgram.createSocket('udp4')
    sockets.push(sink)
    const got: string[] = []
    sink.on('message', (m) => got.push(m.toString()))
    await new Promise<void>((r) => sink.bind(47000, '198.18.70.1', r))
    for (const [i, w] of workers.entries()) w.worker.postMessage({ type: 'send', count: 8, srcPort: 50000 + 100 * i, dstPort: 47000 })
    for (const w of workers) t.is((await w.next('sent')).sent, 8)
    await waitFor('16 datagrams at the sink', () => got.length >= 16)
    t.is(got.filter((s) => s.startsWith('q0-')).length, 8)
    t.is(got.filter((s) => s.startsWith('q1-')).length, 8)

    // Stop: each worker closes its queue; then the Netdev closes the device.
    for (const w of workers) w.worker.postMessage({ type: 'stop' })
    for (const w of workers) t.true((await w.next('closed')) !== undefined)
    await Promise.all(workers.map((w) => w.exited))
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))))
    await dev.close()
    await waitFor(`the descriptor count back at ${baseline} (now ${fdCount()})`, () => fdCount() === baseline, 20_000)
    t.is(fdCount(), baseline)
  },
)

/** A process holding a network namespace of its own (dies with this one). */
async function childNetns(t: { teardown(fn: () => unknown): void }): Promise<{ pid: number; ns: (cmd: string[]) => string }> {
  const child: ChildProcess = spawn('unshare', ['-n', 'setpriv', '--pdeathsig', 'SIGKILL', 'sleep', '600'], { stdio: 'ignore' })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  t.teardown(async () => {
    child.kill('SIGKILL')
    await exited
  })
  const pid = child.pid!
  const ours = readlinkSync('/proc/self/ns/net')
  await waitFor('the child to enter its namespace', () => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== ours
    } catch {
      return false
    }
  })
  const ns = (cmd: string[]): string => execFileSync('nsenter', ['-t', String(pid), '-n', ...cmd], { encoding: 'utf8' })
  ns(['ip', 'link', 'set', 'lo', 'up'])
  ns(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'])
  return { pid, ns }
}

devSerial('2 queues in 2 workers forward correctly: queue i of A ↔ queue i of B, ping and 32 UDP flows both ways', async (t) => {
  const a = await withDevice(t, { name: 'qBrA', ifname: 'tQba%d', queues: 2 })
  const b = await withDevice(t, { name: 'qBrB', ifname: 'tQbb%d', queues: 2 })
  const bridge = startQueueBridge(a, b, { worker: BRIDGE_WORKER })
  t.teardown(() => bridge.stop().catch(() => []))
  await bridge.ready
  t.is(bridge.workers.length, 2)

  // The kernel on both sides: A in namespace X, B in namespace Y, one subnet across the bridge.
  const x = await childNetns(t)
  const y = await childNetns(t)
  execFileSync('ip', ['link', 'set', 'dev', a.realName, 'netns', String(x.pid)])
  execFileSync('ip', ['link', 'set', 'dev', b.realName, 'netns', String(y.pid)])
  for (const [side, name, ip] of [
    [x, a.realName, '198.18.64.1/24'],
    [y, b.realName, '198.18.64.2/24'],
  ] as const) {
    side.ns(['ip', 'addr', 'add', ip, 'dev', name])
    side.ns(['ip', 'link', 'set', name, 'up'])
  }

  const ping = (from: typeof x, to: string) =>
    run('nsenter', ['-t', String(from.pid), '-n', 'ping', '-c', '3', '-i', '0.2', '-W', '10', to])
  const p1 = await ping(x, '198.18.64.2')
  t.is(p1.code, 0, p1.stdout + p1.stderr)
  const p2 = await ping(y, '198.18.64.1')
  t.is(p2.code, 0, p2.stdout + p2.stderr)

  // 32 UDP flows (distinct source ports) X → Y, and 32 Y → X.
  const receiver = (ip: string) =>
    `const d=require('dgram').createSocket('udp4');const seen=new Set();` +
    `d.on('message',(m)=>{seen.add(m.toString());if(seen.size>=${FLOWS}){console.log(seen.size);process.exit(0)}});` +
    `d.bind(48000,'${ip}',()=>console.error('bound'));setTimeout(()=>{console.log(seen.size);process.exit(1)},30000)`
  const sender = (from: string, to: string) =>
    `const dgram=require('dgram');let n=0;for(let i=0;i<${FLOWS};i++){const s=dgram.createSocket('udp4');` +
    `s.bind(0,'${from}',()=>s.send('f'+i,48000,'${to}',()=>{s.close();if(++n===${FLOWS})process.exit(0)}))}`
  for (const [src, dst, srcIp, dstIp] of [
    [x, y, '198.18.64.1', '198.18.64.2'],
    [y, x, '198.18.64.2', '198.18.64.1'],
  ] as const) {
    const rx = spawn('nsenter', ['-t', String(dst.pid), '-n', process.execPath, '-e', receiver(dstIp)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    rx.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    rx.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
    const done = new Promise<number | null>((r) => rx.once('exit', (code) => r(code)))
    await waitFor('the UDP receiver to bind', () => err.includes('bound') || rx.exitCode !== null)
    const s = await run('nsenter', ['-t', String(src.pid), '-n', process.execPath, '-e', sender(srcIp, dstIp)])
    t.is(s.code, 0, s.stderr)
    t.is(await done, 0, `${srcIp} → ${dstIp}: ${out} ${err}`)
    t.is(out.trim(), String(FLOWS))
  }

  const counters = await bridge.stop()
  t.is(counters.length, 2)
  const total = (k: 'aToB' | 'bToA') => counters.reduce((n, c) => n + c[k].frames, 0)
  t.true(total('aToB') >= FLOWS + 6, `A→B forwarded ${total('aToB')}`)
  t.true(total('bToA') >= FLOWS + 6, `B→A forwarded ${total('bToA')}`)
  // The flows spread over both queue pairs (all on one: probability 2^-31 per direction).
  t.true(
    counters.every((c) => c.aToB.frames > 0 && c.bToA.frames > 0),
    JSON.stringify(counters),
  )
  await a.close()
  await b.close()
})

devSerial(
  'nothing leaks: a transfer never adopted is closed by its Netdev, a worker terminated with its queue open releases it',
  async (t) => {
    // Warm up (see above), then count.
    const warm = await Netdev.open({ name: 'qLeakW', allocator: 'direct', ifname: 'tQl%d', queues: 2 })
    const w0 = startQueueWorker({
      transfer: warm.queue(1).transfer(),
      peerIp: '198.18.72.2',
      localIp: '198.18.72.1',
      localMac: '02:00:00:00:72:01',
      peerMac: '02:00:00:00:72:02',
      tag: 0,
    })
    await w0.next('ready')
    await w0.worker.terminate()
    await warm.close()
    const baseline = fdCount()

    const dev = await Netdev.open({ name: 'qLeak', allocator: 'direct', ifname: 'tQl%d', queues: 3 })
    t.teardown(() => dev.close())
    const opened = fdCount()
    const unadopted = dev.queue(2).transfer() // never adopted
    // The transfer holds a duplicate of the queue's descriptor and the queue's own handle
    // closes (with it whatever else that handle held, e.g. its rtnetlink socket): no growth.
    t.true(fdCount() <= opened, `queue 2 gave its descriptor to the transfer: ${fdCount()} <= ${opened}`)
    const w = startQueueWorker({
      transfer: dev.queue(1).transfer(),
      peerIp: '198.18.72.2',
      localIp: '198.18.72.1',
      localMac: '02:00:00:00:72:01',
      peerMac: '02:00:00:00:72:02',
      tag: 0,
    })
    await w.next('ready')
    t.is(await w.worker.terminate(), 1, 'terminated, its queue and Rx still open')
    await dev.close()
    await waitFor(`the descriptor count back at ${baseline} (now ${fdCount()})`, () => fdCount() === baseline, 20_000)
    t.is(fdCount(), baseline)
    t.is(t.throws(() => NetdevQueue.adopt(unadopted), { instanceOf: PltapError })!.code, 'ERR_PLTAP_CLOSED')
  },
)
