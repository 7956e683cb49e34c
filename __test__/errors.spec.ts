import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import util from 'node:util'
import test from 'ava'
import { Netdev, PltapError } from '../ts/index.ts'

test('an OS failure is a SystemError-shaped PltapError (ioctl on /dev/null)', async (t) => {
  const fd = openSync('/dev/null', 'r')
  t.teardown(() => closeSync(fd))
  const err = await t.throwsAsync(Netdev.open({ name: 'eNull', allocator: { fd }, packetInfo: true }))
  t.true(err instanceof PltapError)
  t.true(err instanceof Error)
  const e = err as PltapError
  t.is(e.name, 'PltapError')
  // /dev/null is not a tun descriptor: TUNGETIFF fails (the kernel says ENOTTY).
  t.true(['ENOTTY', 'EINVAL', 'EBADFD'].includes(e.code), `code ${e.code}`)
  t.is(e.syscall, 'ioctl')
  t.is(typeof e.errno, 'number')
  t.true(e.errno! < 0)
  const known = ['ENOTTY', 'EINVAL'] // EBADFD has no libuv name
  if (known.includes(e.code)) t.is(util.getSystemErrorName(e.errno!), e.code)
  t.true(e.message.includes(e.code))
  // The caller keeps its descriptor: it was duplicated, not taken.
  t.true(fstatSync(fd).isCharacterDevice())
  t.is(Netdev.get('eNull'), undefined)
})

test('ENOENT from connect when the vsys root has no fd_tuntap.control', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pltap-test-empty-vsys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const e = await t.throwsAsync(Netdev.open({ name: 'eNoVsys', allocator: 'vsys', vsysRoot: dir }), { instanceOf: PltapError })
  t.is(e.code, 'ENOENT')
  t.is(e.errno, -2)
  t.is(e.syscall, 'connect')
  t.is(util.getSystemErrorName(e.errno!), 'ENOENT')
  t.true(e.message.includes('fd_tuntap.control'), e.message)
  // A failed open frees the port name.
  t.is(Netdev.get('eNoVsys'), undefined)
})

test('library failures carry ERR_* codes and no errno', async (t) => {
  const e = new PltapError('ERR_PLTAP_CLOSED', 'x is closed')
  t.is(e.code, 'ERR_PLTAP_CLOSED')
  t.is(e.errno, undefined)
  t.is(e.syscall, undefined)
  t.is(e.name, 'PltapError')
  t.true(typeof e.stack === 'string')
})

test('instanceof PltapError is a brand check (Symbol.for("pltap.error"))', (t) => {
  const BRAND = Symbol.for('pltap.error')
  // An error from another copy of the package carries the same brand.
  const foreign = Object.assign(new Error('from another copy'), { code: 'ERR_PLTAP_CLOSED', [BRAND]: true })
  t.true(foreign instanceof PltapError)
  t.true({ [BRAND]: true } instanceof PltapError)
  t.false({ [BRAND]: 'yes' } instanceof PltapError)
  t.false(new Error('plain') instanceof PltapError)
  t.false(Object.assign(new Error('look-alike'), { name: 'PltapError', code: 'ENOENT' }) instanceof PltapError)
  t.false((null as unknown as object) instanceof PltapError)
  t.false((42 as unknown as object) instanceof PltapError)
  t.false(('PltapError' as unknown as object) instanceof PltapError)
  // Our own instances carry it, non-enumerably.
  const own = new PltapError('ENOENT', 'nope', { errno: -2, syscall: 'connect' })
  t.true(own instanceof PltapError)
  t.is((own as unknown as Record<symbol, unknown>)[BRAND], true)
  t.false(Object.keys(own).includes(BRAND.toString()))
  t.false(Object.prototype.propertyIsEnumerable.call(own, BRAND))
})
