// An unprivileged service getting its device from a vsys helper, as a PlanetLab sliver did.
// Start a helper first, as root, for the slice's uid:
//   pltap vsysd --dir /run/pltap-vsys --slice-uid 1000 --vnet 198.18.0.0/16
// It makes /run/pltap-vsys root:<the uid's group> 0750 and its entries 0660, so uid 1000 needs
// no capabilities and no chmod step; other uids are refused (see the README's vsys section).
// Then run this as uid 1000 with the vsys root as its argument (from this repository:
// npm run example -- examples/vsys-client.mts /run/pltap-vsys). Both must run in the same
// network namespace: `pltap demo` shows the whole setup, the service half as uid 1000.
import { Netdev, PltapError } from 'pltap'

const vsysRoot = process.argv[2] ?? '/tmp/vsys'
let dev: Netdev
try {
  dev = await Netdev.open({ name: 'uplink', allocator: 'vsys', vsysRoot, timeoutMs: 5000 })
} catch (err) {
  if (err instanceof PltapError) {
    switch (err.code) {
      case 'ENOENT':
      case 'ECONNREFUSED':
        console.error(`no vsys helper at ${vsysRoot}: ${err.message}`)
        break
      case 'ERR_VSYS_REFUSED':
        console.error(`the helper refused: is this slice in its ACL? ${err.message}`)
        break
      case 'ERR_VSYS_TIMEOUT':
        console.error('the helper did not answer in time')
        break
      default:
        console.error(err.message)
    }
    process.exit(1)
  }
  throw err
}

console.log(`got ${dev.realName} from the helper; MAC ${dev.etheraddr}`)
dev.on('change', ({ flags, address }) => console.log('now', flags, address))
try {
  await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 }) // vif_up
  await dev.setPromisc(true) // promisc
} catch (err) {
  if (err instanceof PltapError && err.code === 'ERR_VSYS_SCRIPT') console.error(`${err.script} said: ${err.reply}`)
  else throw err
}
await dev.close() // vif_down, then the device goes away
