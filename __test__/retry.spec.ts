// A failed link change is kept as lastError and retried in the background with backoff
// (defect A7 of the original, which dropped errors and retried without backoff).
import { execFileSync } from 'node:child_process'
import { type NetdevChange, PltapError } from '../ts/index.ts'
import { announceSkips, DIST_INDEX, devTest, ipFlags, nextChange, withDevice } from './support.ts'

announceSkips('retry.spec.ts')

devTest('a failed up() is kept as lastError and retried in the background until the kernel shows it', async (t) => {
  // Closed at teardown under whichever name it has then: the device goes with its descriptor.
  const dev = await withDevice(t, { name: 'rRetry', ifname: 'tRt%d' })
  const real = dev.realName
  // Whatever a 'change' listener sees agrees with the event: flags, changeSeq, lastError.
  const seen: { up: boolean; flagsUp: boolean; seq: boolean; lastError: PltapError | null }[] = []
  dev.on('change', (c) =>
    seen.push({ up: c.flags.up, flagsUp: dev.flags.up, seq: dev.changeSeq === c.changeSeq, lastError: dev.lastError }),
  )
  const upSeen = nextChange(dev, (c) => c.flags.up)

  // The interface disappears by name: bringing it up fails.
  execFileSync('ip', ['link', 'set', 'dev', real, 'name', 'tRtAway'])
  const err = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(err.code, 'ERR_PLTAP_DEVICE_GONE')
  t.regex(dev.lastError?.message ?? '', /renamed to tRtAway/)
  t.is(dev.lastError?.code, 'ERR_PLTAP_DEVICE_GONE', 'lastError is the typed error the call rejected with')
  t.true(dev.lastError instanceof PltapError)
  t.is(dev.lastError, dev.lastError, 'the same object while the failure is unchanged')
  t.false(dev.flags.up)

  // Back under its name: no call from us, yet the retry brings it up (first retry after
  // 200 ms), and that is announced as a 'change' carrying the state the getters show.
  execFileSync('ip', ['link', 'set', 'dev', 'tRtAway', 'name', real])
  const change = await upSeen
  t.true(change.flags.up, "the retry's success is announced as a 'change'")
  t.true(dev.flags.up)
  t.is(dev.changeSeq, change.changeSeq)
  t.true(ipFlags(real).includes('UP'))
  t.is(dev.lastError, null, 'a success clears the last error')
  for (const s of seen) {
    t.is(s.flagsUp, s.up, 'flags agree with the event being emitted')
    t.true(s.seq, 'changeSeq agrees with the event being emitted')
    if (s.up) t.is(s.lastError, null, 'no stale failure next to the wanted state')
  }
})

devTest('lastError clears once the kernel shows the wanted state, even when someone else brought it there', async (t) => {
  // Closed at teardown under whichever name it has then: the device goes with its descriptor.
  const dev = await withDevice(t, { name: 'rOther', ifname: 'tRo%d' })
  const real = dev.realName
  const upSeen = nextChange(dev, (c) => c.flags.up)

  execFileSync('ip', ['link', 'set', 'dev', real, 'name', 'tRoAway'])
  const err = await t.throwsAsync(dev.up(), { instanceOf: PltapError })
  t.is(err.code, 'ERR_PLTAP_DEVICE_GONE')
  t.regex(dev.lastError?.message ?? '', /renamed to tRoAway/)

  // Someone else brings it up while our up() is failing (the name is not our device's), then
  // gives the name back: our retry, or our next refresh, finds nothing left to do.
  execFileSync('ip', ['link', 'set', 'dev', 'tRoAway', 'up'])
  execFileSync('ip', ['link', 'set', 'dev', 'tRoAway', 'name', real])
  const change = await upSeen
  t.true(change.flags.up)
  t.true(dev.flags.up)
  t.is(dev.lastError, null, 'the wanted state is reached: no failure to report')
})

devTest("flags, changeSeq and lastError do not run ahead of the 'change' that announces them", async (t) => {
  const dev = await withDevice(t, { name: 'rAhead', ifname: 'tRa%d' })
  await dev.up()
  const events: NetdevChange[] = []
  dev.on('change', (c) => events.push(c))
  const before = { flags: dev.flags, seq: dev.changeSeq, lastError: dev.lastError }

  // The link change runs off the JS thread. Without letting the event loop turn, watch
  // the kernel take it, then keep reading the getters a while: the change is not handled
  // on this thread yet, so they must still show the state last announced.
  const pending = dev.setPromisc(true)
  const deadline = Date.now() + 20_000
  while (!ipFlags(dev.realName).includes('PROMISC')) {
    if (Date.now() > deadline) t.fail('the kernel never showed PROMISC')
  }
  const window = Date.now() + 500 // a bounded window for a negative check, not a wait for something
  let ranAhead = false
  while (Date.now() < window && !ranAhead) {
    ranAhead = dev.flags.promisc || dev.changeSeq !== before.seq || dev.lastError !== before.lastError
  }
  t.false(ranAhead, "the getters showed the change before its 'change' event")
  t.deepEqual(events, [])

  await pending
  t.true(dev.flags.promisc)
  t.is(events.length, 1)
  t.true(events[0]!.flags.promisc)
  t.is(events[0]!.changeSeq, dev.changeSeq)
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
  // A child kept alive by the retry would run into the deadline (execFileSync then throws).
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  t.regex(out, /up failed with ERR_PLTAP_DEVICE_GONE/)
  t.regex(out, /retry pending: true/)
})
