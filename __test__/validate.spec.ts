// Tier (a), pure: the facade's argument checks throw Node-style TypeError / RangeError with
// Node's codes and name the argument, before anything native runs. Deliberately small: the
// full table of bad inputs per method is validation.spec.ts.
import test from 'ava'
import * as v from '../ts/validate.ts'

type Check = () => void
const bad: [string, Check, typeof TypeError | typeof RangeError, string, RegExp][] = [
  ['ifname too long', () => v.checkIfname('options.ifname', 'a'.repeat(16)), TypeError, 'ERR_INVALID_ARG_VALUE', /15 bytes/],
  ['ifname with a newline', () => v.checkIfname('options.ifname', 'tap\n0'), TypeError, 'ERR_INVALID_ARG_VALUE', /control/],
  ['ifname not a string', () => v.checkIfname('options.ifname', 5), TypeError, 'ERR_INVALID_ARG_TYPE', /string/],
  ['IPv4 with a leading zero', () => v.checkIpv4('localIp', '198.18.0.01'), TypeError, 'ERR_INVALID_ARG_VALUE', /IPv4/],
  ['prefix 33', () => v.checkPrefix('localNetmask', 33), RangeError, 'ERR_OUT_OF_RANGE', /32/],
  ['prefix as a string', () => v.checkPrefix('localNetmask', '24'), TypeError, 'ERR_INVALID_ARG_TYPE', /number/],
  ['group MAC', () => v.checkMac('mac', '01:00:5e:00:00:01'), TypeError, 'ERR_INVALID_ARG_VALUE', /unicast/],
  ['empty frame', () => v.toFrame('frame', new Uint8Array(0)), RangeError, 'ERR_OUT_OF_RANGE', /65535/],
  ['misspelt option', () => v.checkKnownKeys('options', { nmae: 'p0' }, ['name']), TypeError, 'ERR_INVALID_ARG_VALUE', /"nmae"/],
]

for (const [what, check, type, code, says] of bad) {
  test(`rejects: ${what}`, (t) => {
    const err = t.throws(check) as Error & { code?: string }
    t.is(err.constructor, type)
    t.is(err.code, code)
    t.regex(err.message, says)
    t.regex(err.message, /^The (value of )?"[\w.]+"/, 'the message names the argument, as Node does')
  })
}

test('accepts what it documents', (t) => {
  t.notThrows(() => v.checkIfname('options.ifname', 'tap%d'))
  t.notThrows(() => v.checkIpv4('localIp', '198.18.0.1'))
  t.notThrows(() => v.checkPrefix('localNetmask', 24))
  t.notThrows(() => v.checkMac('mac', '02:00:5e:00:00:01'))
  t.notThrows(() => v.toFrame('frame', Buffer.alloc(60)))
  t.notThrows(() => v.checkKnownKeys('options', { name: 'p0' }, ['name']))
})
