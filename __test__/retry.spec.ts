// A failed link change is kept as lastError and retried in the background with backoff
// (defect A7 of the original, which dropped errors and retried without backoff).
import { execFileSync } from 'node:child_process'
import { Netdev, PltapError } from '../ts/index.ts'
import { DIST_INDEX, announceSkips, devTest, ipFlags, nextChange, waitFor } from './support.ts'

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
  t.is(err.code, 'ENODEV')
  t.regex(dev.lastError ?? '', /ENODEV/)
  t.false(dev.flags.up)

  // Back under its name: no call from us, yet the retry brings it up (first retry after 200 ms).
  execFileSync('ip', ['link', 'set', 'dev', 'tRtAway', 'name', real])
  await waitFor('the background retry to bring the device up', () => dev.flags.up, 10_000)
  t.true(ipFlags(real).includes('UP'))
  t.is(dev.lastError, null, 'a success clears the last error')
  t.true(changes.includes(true), "the retry's success is announced as a 'change'")
})

devTest('lastError clears once the kernel shows the wanted state, even when someone else brought it there', async (t) => {
  const dev = await Netdev.open({ name: 'rOther', allocator: 'direct', ifname: 'tRo%d' })
  const real = dev.realName
  t.teardown(async () => {
    try {
      execFileSync('ip', ['link', 'set', 'dev', 'tRoAway', 'name', real], { stdio: 'ignore' })
    } catch {
      // already back
    }
    await dev.close()
  })
  const upSeen = nextChange(dev, (c) => c.flags.up)

  execFileSync('ip', ['link', 'set', 'dev', real, 'name', 'tRoAway'])
  const err = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(err.code, 'ENODEV')
  t.regex(dev.lastError ?? '', /ENODEV/)

  // Someone else brings it up while our up() is failing (it cannot find the name), then
  // gives the name back: our retry, or our next refresh, finds nothing left to do.
  execFileSync('ip', ['link', 'set', 'dev', 'tRoAway', 'up'])
  execFileSync('ip', ['link', 'set', 'dev', 'tRoAway', 'name', real])
  const change = await upSeen
  t.true(change.flags.up)
  t.true(dev.flags.up)
  t.is(dev.lastError, null, 'the wanted state is reached: no failure to report')
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
  t.regex(out, /up failed with ENODEV/)
  t.regex(out, /retry pending: true/)
  t.true(Date.now() - started < 15_000, 'the child exited on its own')
})
