import { closeSync, openSync } from 'node:fs'
import test from 'ava'
import { Netdev, type NetdevOptions, type Rx } from '../ts/index.ts'
import { announceSkips, devSerial, fdCount, linkNames, withDevice } from './support.ts'

announceSkips('validation.spec.ts')

const CODES = ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']

type Case = [label: string, call: (dev: Netdev, rx: Rx) => unknown, code?: string]

// Open options, all of which must be rejected before anything is created.
const base = { name: 'tVbad', allocator: 'direct', ifname: 'tVbad%d' } as const
const bad = (o: Record<string, unknown>) => () => Netdev.open({ ...base, ...o } as unknown as NetdevOptions)

const cases: Case[] = [
  // Netdev.open
  ['open: options not an object', () => Netdev.open(undefined as unknown as NetdevOptions), 'ERR_INVALID_ARG_TYPE'],
  ['open: options is an array', () => Netdev.open([] as unknown as NetdevOptions), 'ERR_INVALID_ARG_TYPE'],
  ['open: unknown option key', bad({ ifnmae: 'tVx' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: missing name', () => Netdev.open({ allocator: 'direct', ifname: 'tVbad%d' } as unknown as NetdevOptions), 'ERR_INVALID_ARG_TYPE'],
  ['open: empty name', bad({ name: '' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: name with a control character', bad({ name: 'p\u0007' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: unknown allocator', bad({ allocator: 'magic' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: allocator { fd: -1 }', bad({ allocator: { fd: -1 }, ifname: undefined, packetInfo: true }), 'ERR_OUT_OF_RANGE'],
  ['open: allocator { fd: 1.5 }', bad({ allocator: { fd: 1.5 }, ifname: undefined, packetInfo: true }), 'ERR_OUT_OF_RANGE'],
  ['open: allocator { fd, extra }', bad({ allocator: { fd: 0, x: 1 }, ifname: undefined, packetInfo: true }), 'ERR_INVALID_ARG_VALUE'],
  ['open: mode "tup"', bad({ mode: 'tup' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname with a newline', bad({ ifname: 'tap\n0' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname of 16 bytes', bad({ ifname: 'tVabcdefghijklmn' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname of 16 bytes (multi-byte)', bad({ ifname: 'tVé456789012345' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname with a space', bad({ ifname: 'tV x' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname with "/"', bad({ ifname: 'tV/x' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname ".."', bad({ ifname: '..' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname with two templates', bad({ ifname: 'tV%d%d' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname with %s', bad({ ifname: 'tV%s' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: ifname is a number', bad({ ifname: 7 }), 'ERR_INVALID_ARG_TYPE'],
  ['open: ifname with vsys', bad({ allocator: 'vsys' })],
  ['open: vsysRoot with direct allocator', bad({ vsysRoot: '/vsys' })],
  ['open: vsysRoot empty', bad({ allocator: 'vsys', ifname: undefined, vsysRoot: '' }), 'ERR_INVALID_ARG_VALUE'],
  ['open: packetInfo false with vsys', bad({ allocator: 'vsys', ifname: undefined, packetInfo: false })],
  ['open: packetInfo missing with { fd }', bad({ allocator: { fd: 0 }, ifname: undefined })],
  ['open: packetInfo "yes"', bad({ packetInfo: 'yes' }), 'ERR_INVALID_ARG_TYPE'],
  ['open: timeoutMs 0', bad({ timeoutMs: 0 }), 'ERR_OUT_OF_RANGE'],
  ['open: timeoutMs NaN', bad({ timeoutMs: Number.NaN }), 'ERR_OUT_OF_RANGE'],
  ['open: signal of the wrong type', bad({ signal: { aborted: false } }), 'ERR_INVALID_ARG_TYPE'],
  // Netdev.get
  ['get: number', () => Netdev.get(1 as unknown as string), 'ERR_INVALID_ARG_TYPE'],
  ['get: empty', () => Netdev.get(''), 'ERR_INVALID_ARG_VALUE'],
  // setConfig
  ['setConfig: not an object', (d) => d.setConfig('198.18.0.1' as never), 'ERR_INVALID_ARG_TYPE'],
  ['setConfig: unknown key', (d) => d.setConfig({ localIP: '198.18.0.1' } as never), 'ERR_INVALID_ARG_VALUE'],
  ['setConfig: 3-part IP', (d) => d.setConfig({ localIp: '198.18.1' }), 'ERR_INVALID_ARG_VALUE'],
  ['setConfig: leading zero', (d) => d.setConfig({ localIp: '198.018.0.1' }), 'ERR_INVALID_ARG_VALUE'],
  ['setConfig: trailing space', (d) => d.setConfig({ localIp: '1.2.3.4 ' }), 'ERR_INVALID_ARG_VALUE'],
  ['setConfig: octet 256', (d) => d.setConfig({ localIp: '198.18.0.256' }), 'ERR_INVALID_ARG_VALUE'],
  ['setConfig: IP as number', (d) => d.setConfig({ localIp: 3323068417 as never }), 'ERR_INVALID_ARG_TYPE'],
  ['setConfig: netmask 0', (d) => d.setConfig({ localNetmask: 0 }), 'ERR_OUT_OF_RANGE'],
  ['setConfig: netmask 33', (d) => d.setConfig({ localNetmask: 33 }), 'ERR_OUT_OF_RANGE'],
  ['setConfig: netmask 24.5', (d) => d.setConfig({ localNetmask: 24.5 }), 'ERR_OUT_OF_RANGE'],
  ['setConfig: netmask "24"', (d) => d.setConfig({ localNetmask: '24' as never }), 'ERR_INVALID_ARG_TYPE'],
  // setPromisc
  ['setPromisc: 1', (d) => d.setPromisc(1 as never), 'ERR_INVALID_ARG_TYPE'],
  ['setPromisc: missing', (d) => (d.setPromisc as () => unknown)(), 'ERR_INVALID_ARG_TYPE'],
  // setEtheraddr
  ['setEtheraddr: multicast', (d) => d.setEtheraddr('01:00:5e:00:00:01'), 'ERR_INVALID_ARG_VALUE'],
  ['setEtheraddr: broadcast', (d) => d.setEtheraddr('ff:ff:ff:ff:ff:ff'), 'ERR_INVALID_ARG_VALUE'],
  ['setEtheraddr: dashes', (d) => d.setEtheraddr('02-00-00-00-00-01'), 'ERR_INVALID_ARG_VALUE'],
  ['setEtheraddr: 5 octets', (d) => d.setEtheraddr('02:00:00:00:01'), 'ERR_INVALID_ARG_VALUE'],
  ['setEtheraddr: Buffer', (d) => d.setEtheraddr(Buffer.alloc(6) as never), 'ERR_INVALID_ARG_TYPE'],
  // setMtu
  ['setMtu: 67', (d) => d.setMtu(67), 'ERR_OUT_OF_RANGE'],
  ['setMtu: 65536', (d) => d.setMtu(65536), 'ERR_OUT_OF_RANGE'],
  ['setMtu: "1500"', (d) => d.setMtu('1500' as never), 'ERR_INVALID_ARG_TYPE'],
  // send / sendBatch / write
  ['send: empty frame', (d) => d.send(Buffer.alloc(0)), 'ERR_OUT_OF_RANGE'],
  ['send: 65536-byte frame', (d) => d.send(Buffer.alloc(65536)), 'ERR_OUT_OF_RANGE'],
  ['send: string', (d) => d.send('hello' as never), 'ERR_INVALID_ARG_TYPE'],
  ['send: ArrayBuffer', (d) => d.send(new ArrayBuffer(60) as never), 'ERR_INVALID_ARG_TYPE'],
  ['sendBatch: not an array', (d) => d.sendBatch(Buffer.alloc(60) as never)],
  ['sendBatch: one empty frame among good ones', (d) => d.sendBatch([Buffer.alloc(60), Buffer.alloc(0)]), 'ERR_OUT_OF_RANGE'],
  ['sendBatch: a null entry', (d) => d.sendBatch([Buffer.alloc(60), null as never]), 'ERR_INVALID_ARG_TYPE'],
  ['write: empty frame', (d) => d.write(Buffer.alloc(0)), 'ERR_OUT_OF_RANGE'],
  ['write: bad signal', (d) => d.write(Buffer.alloc(60), { signal: 'x' as never }), 'ERR_INVALID_ARG_TYPE'],
  // rxOpen
  ['rxOpen: batch 0', (d) => d.rxOpen({ batch: 0 }), 'ERR_OUT_OF_RANGE'],
  ['rxOpen: batch 1025', (d) => d.rxOpen({ batch: 1025 }), 'ERR_OUT_OF_RANGE'],
  ['rxOpen: highWaterMark 15', (d) => d.rxOpen({ highWaterMark: 15 }), 'ERR_OUT_OF_RANGE'],
  ['rxOpen: unknown key', (d) => d.rxOpen({ bacth: 4 } as never), 'ERR_INVALID_ARG_VALUE'],
  ['rxOpen: options null', (d) => d.rxOpen(null as never), 'ERR_INVALID_ARG_TYPE'],
  // read / readBatch
  ['read: bad signal', (_d, rx) => rx.read({ signal: 'x' as never }), 'ERR_INVALID_ARG_TYPE'],
  ['read: options a string', (_d, rx) => rx.read('now' as never), 'ERR_INVALID_ARG_TYPE'],
  ['readBatch: max 0', (_d, rx) => rx.readBatch({ max: 0 }), 'ERR_OUT_OF_RANGE'],
  ['readBatch: max 4097', (_d, rx) => rx.readBatch({ max: 4097 }), 'ERR_OUT_OF_RANGE'],
  ['readBatch: bad signal', (_d, rx) => rx.readBatch({ signal: {} as never }), 'ERR_INVALID_ARG_TYPE'],
]

// null is never taken as "absent": every option, and every argument, given as null throws
// a TypeError that names it (before anything is created or sent).
const OPEN_OPTIONS = ['name', 'allocator', 'vsysRoot', 'mode', 'ifname', 'packetInfo', 'timeoutMs', 'signal'] as const
type NullCase = [label: string, named: string, call: (dev: Netdev, rx: Rx) => unknown]
const nullCases: NullCase[] = [
  ...OPEN_OPTIONS.map((k): NullCase => [`open: ${k} null`, `options.${k}`, bad({ [k]: null })]),
  ['open: allocator { fd: null }', 'options.allocator.fd', bad({ allocator: { fd: null }, ifname: undefined, packetInfo: true })],
  ['open: options null', 'options', () => Netdev.open(null as never)],
  ['get: null', 'name', () => Netdev.get(null as never)],
  ['setConfig: null', 'config', (d) => d.setConfig(null as never)],
  ['setConfig: localIp null', 'config.localIp', (d) => d.setConfig({ localIp: null as never })],
  ['setConfig: localNetmask null', 'config.localNetmask', (d) => d.setConfig({ localNetmask: null as never })],
  ['setPromisc: null', 'on', (d) => d.setPromisc(null as never)],
  ['setEtheraddr: null', 'mac', (d) => d.setEtheraddr(null as never)],
  ['setMtu: null', 'mtu', (d) => d.setMtu(null as never)],
  ['send: null', 'frame', (d) => d.send(null as never)],
  ['sendBatch: null', 'frames', (d) => d.sendBatch(null as never)],
  ['sendBatch: a null frame', 'frames[0]', (d) => d.sendBatch([null as never])],
  ['sendPacked: data null', 'data', (d) => d.sendPacked(null as never, Uint32Array.of(60))],
  ['sendPacked: lengths null', 'lengths', (d) => d.sendPacked(Buffer.alloc(60), null as never)],
  ['write: null', 'frame', (d) => d.write(null as never)],
  ['write: options null', 'options', (d) => d.write(Buffer.alloc(60), null as never)],
  ['write: signal null', 'options.signal', (d) => d.write(Buffer.alloc(60), { signal: null as never })],
  ['rxOpen: options null', 'options', (d) => d.rxOpen(null as never)],
  ['rxOpen: batch null', 'options.batch', (d) => d.rxOpen({ batch: null as never })],
  ['rxOpen: highWaterMark null', 'options.highWaterMark', (d) => d.rxOpen({ highWaterMark: null as never })],
  ['read: options null', 'options', (_d, rx) => rx.read(null as never)],
  ['read: signal null', 'options.signal', (_d, rx) => rx.read({ signal: null as never })],
  ['readPacked: signal null', 'options.signal', (_d, rx) => rx.readPacked({ signal: null as never })],
  ['readBatch: max null', 'options.max', (_d, rx) => rx.readBatch({ max: null as never })],
  ['readBatch: signal null', 'options.signal', (_d, rx) => rx.readBatch({ signal: null as never })],
]

/**
 * What `call` threw synchronously, or else what it returned. A returned promise is a defect
 * (reported by the caller); its rejection is silenced so that it does not leak.
 */
function attempt(call: () => unknown): { thrown?: unknown; returned?: unknown } {
  try {
    const returned = call()
    if (returned instanceof Promise) returned.catch(() => {})
    return { returned }
  } catch (err) {
    return { thrown: err }
  }
}

test('there are at least 25 distinct bad inputs', (t) => {
  t.true(cases.length >= 25)
  t.is(new Set(cases.map((c) => c[0])).size, cases.length)
})

devSerial('every bad input throws TypeError/RangeError synchronously and creates nothing', async (t) => {
  const dev = await withDevice(t, { name: 'tVgood', ifname: 'tVgood' })
  const rx = dev.rxOpen()
  // Keep a dummy descriptor so { fd: 0 } style cases have something harmless to point at.
  const spare = openSync('/dev/null', 'r')
  t.teardown(() => closeSync(spare))

  // Only our own names (other test files create devices concurrently in this namespace).
  const ours = () => linkNames().filter((n) => n.startsWith('tV') || n.startsWith('tap') || n.startsWith('tun'))
  const linksBefore = ours()
  const fdsBefore = fdCount()
  const stateBefore = { flags: dev.flags, config: dev.getConfig(), mac: dev.etheraddr, mtu: dev.mtu, seq: dev.changeSeq }

  const problems: string[] = []
  for (const [label, call, code] of cases) {
    const { thrown, returned } = attempt(() => call(dev, rx))
    if (thrown === undefined) {
      problems.push(`${label}: did not throw synchronously (returned ${String(returned)})`)
      continue
    }
    if (!(thrown instanceof TypeError || thrown instanceof RangeError)) problems.push(`${label}: threw ${String(thrown)}`)
    const got = (thrown as { code?: string }).code
    if (got === undefined || !CODES.includes(got)) problems.push(`${label}: code ${got} (${(thrown as Error).message})`)
    else if (code !== undefined && got !== code) problems.push(`${label}: code ${got}, expected ${code}`)
  }
  t.deepEqual(problems, [])

  // Let anything an open would have done (native threads, async opens) happen.
  await new Promise((r) => setTimeout(r, 300))
  t.deepEqual(ours(), linksBefore, 'no interface appeared')
  t.is(fdCount(), fdsBefore, 'no descriptor leaked')
  t.is(Netdev.get('tVbad'), undefined)
  t.deepEqual({ flags: dev.flags, config: dev.getConfig(), mac: dev.etheraddr, mtu: dev.mtu, seq: dev.changeSeq }, stateBefore)
  t.false(rx.closed)
  t.is(dev.stats().port.txPackets, 0, 'nothing was sent')
})

devSerial('null is never taken as absent: each option or argument given as null throws a TypeError naming it', async (t) => {
  t.is(new Set(nullCases.map((c) => c[0])).size, nullCases.length)
  const dev = await withDevice(t, { name: 'tVnull', ifname: 'tVnull' })
  const rx = dev.rxOpen()
  const ours = () => linkNames().filter((n) => n.startsWith('tV'))
  const linksBefore = ours()
  const problems: string[] = []
  for (const [label, named, call] of nullCases) {
    const { thrown, returned } = attempt(() => call(dev, rx))
    if (!(thrown instanceof TypeError)) {
      problems.push(`${label}: ${thrown === undefined ? `did not throw (returned ${String(returned)})` : `threw ${String(thrown)}`}`)
    } else if (!thrown.message.includes(`"${named}"`)) {
      problems.push(`${label}: the message does not name "${named}": ${thrown.message}`)
    } else if ((thrown as { code?: string }).code !== 'ERR_INVALID_ARG_TYPE') {
      problems.push(`${label}: code ${(thrown as { code?: string }).code}`)
    }
  }
  t.deepEqual(problems, [])
  t.deepEqual(ours(), linksBefore, 'no interface appeared')
  t.is(Netdev.get('tVbad'), undefined)
  t.is(dev.stats().port.txPackets, 0, 'nothing was sent')
  t.deepEqual(dev.getConfig(), {})
})
