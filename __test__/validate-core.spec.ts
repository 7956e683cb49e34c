// Tier (a), pure: the facade's value checks are the core's decisions. Each rule has one
// owner in the core (IfName::new, config::parse_local_ip, config::local_netmask,
// MacAddr::parse_unicast); the facade asks it through the binding's pure check* functions.
// For every input of the table: the core decides as the table says (the rule itself, written
// down), the facade accepts exactly what the core accepts, and its TypeError / RangeError
// carries Node's code and the core's own reason. No device, no namespace, no privilege.
import test from 'ava'
import { checkCidr, checkIfname, checkIpv4, checkLocalNetmask, checkMac } from '../binding.js'
import * as v from '../ts/validate.ts'

interface Rule<T> {
  /** The facade's check, as the facade calls it. */
  facade: (name: string, value: unknown) => void
  /** The core's decision: `null` to accept, else its reason. */
  core: (value: T) => string | null
  /** What a rejection is in the facade. */
  error: typeof TypeError | typeof RangeError
  code: string
  /** Inputs, and whether the rule accepts them. */
  table: [T, boolean][]
}

const rules: Record<string, Rule<string> | Rule<number>> = {
  ifname: {
    facade: v.checkIfname,
    core: checkIfname,
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    table: [
      ['lo', true],
      ['tap0', true],
      ['tap754-0', true],
      ['tap%d', true],
      ['br_0.100', true],
      ['123456789012345', true],
      ['tVé45678901234', true], // 15 bytes
      ['', false],
      ['1234567890123456', false],
      ['tVé456789012345', false], // 15 characters, 16 bytes
      ['tap\n0', false],
      ['tap\u00000', false],
      ['ta p', false],
      ['tap\t', false],
      ['tap\u007f', false],
      ['\u0085x', false], // C1 control
      ['tap\u00a0', false], // no-break space
      ['tap\u2028', false], // line separator
      ['tap\u3000', false], // ideographic space
      ['tap/0', false],
      ['tap:0', false],
      ['.', false],
      ['..', false],
      ['...', true],
      ['%d%d', false],
      ['tap%s', false],
      ['tap%', false],
    ],
  },
  ipv4: {
    facade: v.checkIpv4,
    core: checkIpv4,
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    table: [
      ['198.18.0.1', true],
      ['0.0.0.0', true],
      ['255.255.255.255', true],
      ['', false],
      ['198.18.1', false],
      ['198.018.0.1', false],
      ['01.2.3.4', false],
      ['256.0.0.1', false],
      ['1.2.3.4 ', false],
      [' 1.2.3.4', false],
      ['1.2.3.4\n', false],
      ['0x1.2.3.4', false],
      ['1.2.3.4/24', false],
      ['+1.2.3.4', false],
      ['1..3.4', false],
      ['١.2.3.4', false], // Arabic-Indic digit
    ],
  },
  localNetmask: {
    facade: v.checkPrefix,
    core: checkLocalNetmask,
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    table: [
      [1, true],
      [8, true],
      [24, true],
      [32, true],
      [0, false],
      [-0, false],
      [-1, false],
      [33, false],
      [255, false],
      [256, false],
      [2 ** 32 + 24, false], // must not wrap around to 24
      [2 ** 64 + 24, false],
      [Number.MAX_SAFE_INTEGER, false],
      [-(2 ** 63), false],
    ],
  },
  cidr: {
    facade: v.checkCidr,
    core: checkCidr,
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    table: [
      ['198.18.0.1/24', true],
      ['0.0.0.0/0', true],
      ['198.19.255.255/32', true],
      ['2001:db8::1/64', true],
      ['::/0', true],
      ['fe80::1/128', true],
      ['198.18.0.1', false],
      ['198.18.0.1/', false],
      ['/24', false],
      ['198.18.0.1/024', false],
      ['198.18.0.1/+8', false],
      ['198.18.0.1/ 8', false],
      ['198.18.0.1/1000', false],
      ['198.018.0.1/24', false],
      ['198.18.1/24', false],
      ['198.18.0.1/24/1', false],
      ['2001:db8::g/64', false],
      ['2001:db8::1%eth0/64', false],
      ['198.18.0.1\n/24', false],
    ],
  },
  cidrPrefix: {
    facade: v.checkCidr,
    core: checkCidr,
    error: RangeError,
    code: 'ERR_OUT_OF_RANGE',
    table: [
      ['198.18.0.1/32', true],
      ['2001:db8::1/128', true],
      ['198.18.0.1/33', false],
      ['198.18.0.1/128', false],
      ['2001:db8::1/129', false],
      ['::/255', false],
    ],
  },
  mac: {
    facade: v.checkMac,
    core: checkMac,
    error: TypeError,
    code: 'ERR_INVALID_ARG_VALUE',
    table: [
      ['02:00:5e:10:00:01', true],
      ['0A:bc:00:11:22:34', true],
      ['00:00:00:00:00:00', true],
      ['01:00:5e:00:00:01', false], // group bit
      ['ff:ff:ff:ff:ff:ff', false],
      ['02-00-00-00-00-01', false],
      ['02:00:00:00:01', false],
      ['02:00:00:00:00:01:02', false],
      ['02:00:00:00:00:1', false],
      ['0g:00:00:00:00:00', false],
      ['+2:00:00:00:00:00', false],
      ['', false],
    ],
  },
}

/** A title that shows every character (ava folds whitespace in titles). */
const shown = (input: unknown) =>
  (Object.is(input, -0) ? '-0' : JSON.stringify(input)).replace(
    /[^\x21-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )

for (const [rule, { facade, core, error, code, table }] of Object.entries(rules)) {
  for (const [input, accepted] of table as [never, boolean][]) {
    test(`${rule} ${shown(input)}: ${accepted ? 'accepted' : 'rejected'} by the core and the facade alike`, (t) => {
      const reason = core(input)
      t.is(reason === null, accepted, `the core ${accepted ? 'rejects' : 'accepts'} it: ${reason}`)
      if (reason === null) {
        t.notThrows(() => facade(rule, input))
        return
      }
      const err = t.throws(() => facade(rule, input)) as Error & { code?: string }
      t.is(err.constructor, error)
      t.is(err.code, code)
      t.true(err.message.includes(reason), `${JSON.stringify(err.message)} carries the core's reason ${JSON.stringify(reason)}`)
      t.true(err.message.startsWith(`The ${error === RangeError ? 'value of ' : ''}"${rule}"`), 'Node-style, naming the argument')
    })
  }
}

test('types and shapes stay the facade own: checked before the core is asked', (t) => {
  t.is((t.throws(() => v.checkIfname('ifname', 7)) as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
  t.is((t.throws(() => v.checkIpv4('ip', null)) as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
  t.is((t.throws(() => v.checkMac('mac', Buffer.alloc(6))) as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
  t.is((t.throws(() => v.checkPrefix('netmask', '24')) as Error & { code?: string }).code, 'ERR_INVALID_ARG_TYPE')
  // A non-integer never reaches the core (it takes integers): the facade's own range error.
  for (const n of [24.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    const err = t.throws(() => v.checkPrefix('netmask', n)) as RangeError & { code?: string }
    t.is(err.code, 'ERR_OUT_OF_RANGE')
    t.regex(err.message, /must be an integer/)
  }
})
