// Tier (a), pure: the facade's half of the native→JS error encoding. The wire strings are
// the native side's own (crates/pltap-napi/src/error.rs writes and checks the fixture), so
// a field renamed on either side fails here or in `cargo test -p pltap-napi`.

import { readFileSync } from 'node:fs'
import util from 'node:util'
import test from 'ava'
import { fromNative, fromNativeWire, native, nativeAsync, PltapError } from '../ts/errors.ts'

interface Case {
  case: string
  wire: string
}

const cases = JSON.parse(readFileSync(new URL('./fixtures/native-errors.json', import.meta.url), 'utf8')) as Case[]

/** What `fromNative` must build from each fixture case: the message and every own field but `name`. */
const expected: Record<string, { message: string; fields: Record<string, unknown> }> = {
  os: {
    message: 'EPERM: Operation not permitted, ioctl (TUNSETIFF tap%d)',
    fields: { code: 'EPERM', errno: -1, syscall: 'ioctl' },
  },
  'os-unknown-errno': {
    message: 'UNKNOWN_ERRNO_4095: Unknown error 4095, open (open vif_up.in)',
    fields: { code: 'UNKNOWN_ERRNO_4095', errno: -4095, syscall: 'open' },
  },
  'invalid-argument': { message: 'invalid mtu: must be 68 to 65535', fields: { code: 'ERR_INVALID_ARG_VALUE' } },
  'invalid-argument-value': {
    message: "invalid interface name \"tap\\n0\": must not contain whitespace, control characters, '/' or ':' (it contains '\\n')",
    fields: { code: 'ERR_INVALID_ARG_VALUE' },
  },
  'helper-refused': {
    message: "fd_tuntap TAP: the vsys helper refused (EOF before a descriptor); check the slice's vsys ACL and vsys_vnet",
    fields: { code: 'ERR_VSYS_REFUSED' },
  },
  'helper-protocol': { message: 'fd_tuntap TAP: vsys protocol error: two descriptors', fields: { code: 'ERR_VSYS_PROTOCOL' } },
  timeout: { message: 'vif_up tap1000-0: no answer within 10000 ms', fields: { code: 'ERR_VSYS_TIMEOUT', timeoutMs: 10000 } },
  script: {
    message: 'vsys script vif_up failed: tap1000-0 has no address 198.18.0.300/24; it said: Invalid IP: "198.18.0.300"\\\n\tdone é',
    fields: { code: 'ERR_VSYS_SCRIPT', script: 'vif_up', reply: 'Invalid IP: "198.18.0.300"\\\n\tdone é\n' },
  },
  'link-unstable': {
    message: 'the link state keeps changing: Promisc(true) is still pending after every action ran',
    fields: { code: 'ERR_PLTAP_LINK_UNSTABLE' },
  },
  'not-configured': { message: 'not configured: localIp and localNetmask are not set', fields: { code: 'ERR_PLTAP_NOT_CONFIGURED' } },
  truncated: { message: 'frame of 9000 bytes truncated to the 1518-byte buffer', fields: { code: 'ERR_PLTAP_TRUNCATED' } },
  closed: { message: 'the device is closed', fields: { code: 'ERR_PLTAP_CLOSED' } },
  'device-gone-deleted': {
    message: 'device tap0 is gone: it was deleted',
    fields: { code: 'ERR_PLTAP_DEVICE_GONE', device: 'tap0', reason: 'deleted' },
  },
  'device-gone-renamed': {
    message: 'device tap0 is gone: it was renamed to tap9',
    fields: { code: 'ERR_PLTAP_DEVICE_GONE', device: 'tap0', reason: 'renamed', renamedTo: 'tap9' },
  },
  'device-gone-moved': {
    message: 'device tap0 is gone: it was moved out of this network namespace',
    fields: { code: 'ERR_PLTAP_DEVICE_GONE', device: 'tap0', reason: 'moved' },
  },
  internal: {
    message: 'internal error (a bug in pltap, please report it): NativeRx.recv panicked: boom',
    fields: { code: 'ERR_PLTAP_INTERNAL' },
  },
}

function decode(wire: string): PltapError {
  const err = fromNative(new Error(wire))
  if (!(err instanceof PltapError)) throw new Error(`not decoded: ${JSON.stringify(wire)}`)
  return err
}

test('the fixture and this spec cover the same cases', (t) => {
  t.deepEqual(cases.map((c) => c.case).sort(), Object.keys(expected).sort())
})

for (const { case: name, wire } of cases) {
  test(`decodes the native encoding of ${name}`, (t) => {
    const want = expected[name]
    if (want === undefined) return t.fail(`no expectation for ${name}`)
    const err = decode(wire)
    t.true(err instanceof Error)
    t.is(err.name, 'PltapError')
    t.is(err.message, want.message)
    const { name: _name, ...fields } = { ...err } as Record<string, unknown>
    t.deepEqual(fields, want.fields)
  })
}

test('an OS error reads like a Node SystemError', (t) => {
  const os = cases.find((c) => c.case === 'os')
  if (os === undefined) return t.fail('no os case')
  const err = decode(os.wire)
  t.is(util.getSystemErrorName(err.errno!), err.code)
})

test('text before the marker (as napi may add) is ignored', (t) => {
  const closed = cases.find((c) => c.case === 'closed')
  if (closed === undefined) return t.fail('no closed case')
  t.is(decode(`GenericFailure: ${closed.wire}`).code, 'ERR_PLTAP_CLOSED')
})

test('anything that is not a well-formed encoding comes back unchanged', (t) => {
  for (const value of [undefined, null, 42, '\u0001pltap:{"code":"EPERM","message":"m"}', { message: '\u0001pltap:{}' }]) {
    t.is(fromNative(value), value)
  }
  for (const message of [
    'plain failure',
    'pltap:{"code":"EPERM","message":"no marker byte"}',
    '\u0001pltap:',
    '\u0001pltap:{"code":"EPERM",',
    '\u0001pltap:null',
    '\u0001pltap:"EPERM"',
    '\u0001pltap:{"message":"no code"}',
    '\u0001pltap:{"code":"EPERM"}',
  ]) {
    const err = new Error(message)
    t.is(fromNative(err), err, message)
  }
})

test('native() and nativeAsync() convert what the binding throws', async (t) => {
  const closed = cases.find((c) => c.case === 'closed')
  if (closed === undefined) return t.fail('no closed case')
  const thrown = t.throws(() =>
    native(() => {
      throw new Error(closed.wire)
    }),
  )
  t.true(thrown instanceof PltapError)
  const rejected = await t.throwsAsync(nativeAsync(Promise.reject(new Error(closed.wire))))
  t.true(rejected instanceof PltapError)
  t.is(
    native(() => 7),
    7,
  )
  t.is(await nativeAsync(Promise.resolve(8)), 8)
})

test("fromNativeWire() decodes a snapshot's lastError: the same encoding, sent as data", (t) => {
  t.is(fromNativeWire(null), null)
  t.is(fromNativeWire(undefined), null)
  const gone = cases.find((c) => c.case === 'device-gone-renamed')
  if (gone === undefined) return t.fail('no device-gone-renamed case')
  const err = fromNativeWire(gone.wire)
  t.true(err instanceof PltapError)
  t.like(err, { code: 'ERR_PLTAP_DEVICE_GONE', reason: 'renamed', renamedTo: 'tap9' })
  // Whatever the string, the type holds: an undecodable one is a PltapError too.
  const odd = fromNativeWire('not an encoding')
  t.like(odd, { code: 'ERR_PLTAP_INTERNAL', message: 'not an encoding' })
})
