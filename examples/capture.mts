// Print every frame a TAP device receives for a few seconds, tcpdump-style.
// From this repository (inside a private network namespace, as root):
//   npm run example -- examples/capture.mts 5
import { Netdev } from 'pltap'

const seconds = Number(process.argv[2] ?? 5)
await using dev = await Netdev.open({ name: 'capture', allocator: 'direct', ifname: 'cap%d' })
await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
console.log(`capturing on ${dev.realName} (${dev.etheraddr}) for ${seconds} s`)

await using rx = dev.rxOpen()
const signal = AbortSignal.timeout(seconds * 1000)
try {
  for (;;) {
    const frames = await rx.readBatch({ signal, max: 64 })
    for (const f of frames) {
      const dst = [...f.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':')
      const src = [...f.subarray(6, 12)].map((b) => b.toString(16).padStart(2, '0')).join(':')
      console.log(`${src} > ${dst} type 0x${f.readUInt16BE(12).toString(16).padStart(4, '0')} length ${f.length}`)
    }
  }
} catch (err) {
  if (!signal.aborted) throw err
}
const { port } = dev.stats()
console.log(`${port.rxPackets} frames, ${port.rxBytes} bytes, ${rx.dropped} dropped`)
