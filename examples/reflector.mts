// Send every received frame straight back, with source and destination swapped: the
// smallest useful datapath, batched both ways (one await per burst, one call per burst).
// From this repository: npm run example -- examples/reflector.mts
import { Netdev } from 'pltap'

await using dev = await Netdev.open({ name: 'reflector', allocator: 'direct', ifname: 'refl%d' })
await dev.up()
await using rx = dev.rxOpen({ batch: 256 })
process.once('SIGINT', () => void rx.close())
console.log(`reflecting on ${dev.realName}; Ctrl-C to stop`)
for (;;) {
  let frames: Buffer[]
  try {
    frames = await rx.readBatch({ max: 256 })
  } catch {
    break // closed
  }
  for (const f of frames) {
    const dst = Buffer.from(f.subarray(0, 6))
    f.copy(f, 0, 6, 12)
    dst.copy(f, 6)
  }
  dev.sendBatch(frames) // back-to-back frames of one burst go down without a copy
}
console.log(dev.stats().port)
