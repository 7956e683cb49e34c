// A failed link change is kept as lastError and retried in the background with backoff
// (defect A7 of the original, which dropped errors and retried without backoff).
import { execFileSync } from 'node:child_process'
import { Netdev, PltapError } from '../ts/index.ts'
import { DIST_INDEX, announceSkips, devTest, ipFlags, waitFor } from './support.ts'

announceSkips('retry.spec.ts')

devTest('a failed up() is kept as lastError and retried in the background until the kernel shows it', async (t) => {
  const dev = await Netdev.open({ name: 'rRetry', allocator: 'direct', ifname: 'tRt%d' })
  const real = dev.realName
  t.teardown(async () => {
    try {
      execFileSync('ip', ['link', 'set', 'dev', 'tRtAway', 'name', real], { stdio: 'ignore' })
    } catch {
      // already back
    }
    await dev.close()
  })
  const changes: boolean[] = []
  dev.on('change', (c) => changes.push(c.flags.up))

  // The interface disappears by name: bringing it up fails.
  execFileSync('ip', ['link', 'set', 'dev', real, 'name', 'tRtAway'])
  const err = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(err.code, 'ERR_PLTAP_DEVICE_GONE')
  t.regex(dev.lastError ?? '', /renamed to tRtAway/)
  t.false(dev.flags.up)

  // Back under its name: no call from us, yet the retry brings it up (first retry after 200 ms).
  execFileSync('ip', ['link', 'set', 'dev', 'tRtAway', 'name', real])
  await waitFor('the background retry to bring the device up', () => dev.flags.up, 10_000)
  t.true(ipFlags(real).includes('UP'))
  t.is(dev.lastError, null, 'a success clears the last error')
  t.true(changes.includes(true), "the retry's success is announced as a 'change'")
})

devTest('a pending retry does not keep the process alive', async (t) => {
  // A child whose up() failed and is being retried must still exit on its own.
  const script = `
    import { execFileSync } from 'node:child_process'
    import { Netdev } from ${JSON.stringify(DIST_INDEX)}
    const dev = await Netdev.open({ name: 'rExit', allocator: 'direct', ifname: 'tRx%d' })
    execFileSync('ip', ['link', 'set', 'dev', dev.realName, 'name', 'tRxAway'])
    await dev.up().catch((e) => console.log('up failed with', e.code))
    console.log('retry pending:', dev.lastError !== null)
  `
  const started = Date.now()
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })
  t.regex(out, /up failed with ERR_PLTAP_DEVICE_GONE/)
  t.regex(out, /retry pending: true/)
  t.true(Date.now() - started < 15_000, 'the child exited on its own')
})
