/**
 * `pltap demo`: the main job, end to end, in a private network namespace.
 *
 * 1. start the vsys helper (`pltap vsysd`) as a separate process;
 * 2. open a Netdev through it (`allocator: 'vsys'`), as an unprivileged sliver would;
 * 3. `setConfig` → `vif_up` gives the tap 198.18.0.1/24 and brings it UP;
 * 4. answer ARP and ICMP echo for 198.18.0.2 in TypeScript, through Rx and send;
 * 5. run the system `ping -c 5 198.18.0.2` against it;
 * 6. toggle promiscuous mode (the `promisc` script), print flags, stats, change events;
 * 7. clean up. Exit 0 only if all five pings were answered.
 * @internal
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Netdev } from '../netdev.js'
import { arpReply, icmpEchoReply } from './packets.js'

const LOCAL_IP = '198.18.0.1'
const PEER_IP = '198.18.0.2'
const PEER_MAC = '02:00:c6:12:00:02'

function log(step: string, detail: unknown = ''): void {
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail)
  console.log(`[demo] ${step}${text ? ` ${text}` : ''}`)
}

function startHelper(cli: string, dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, 'vsysd', '--dir', dir, '--slice-uid', '1000', '--slice-name', 'demo_slice', '--vnet', '198.18.0.0/16'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pltap vsysd did not start within 10 s')), 10_000)
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`pltap vsysd exited early with code ${code}`)))
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('serving')) {
        clearTimeout(timer)
        child.removeAllListeners('exit')
        resolve(child)
      }
    })
  })
}

function runPing(): Promise<{ code: number | null; received: number; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('ping', ['-c', '5', '-i', '0.2', '-W', '2', '-n', PEER_IP], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d
      for (const line of d.split('\n')) if (line.trim()) console.log(`  ping | ${line}`)
    })
    p.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    p.once('error', (err) => reject(new Error(`cannot run ping (install iputils-ping): ${err.message}`)))
    p.once('exit', (code) => {
      const m = /(\d+) received/.exec(output)
      resolve({ code, received: m ? Number(m[1]) : 0, output })
    })
  })
}

/** Runs the demo; resolves with the exit code. */
export async function runDemo(cli: string): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'pltap-demo-'))
  const vsysRoot = join(work, 'vsys')
  let helper: ChildProcess | undefined
  let dev: Netdev | undefined
  try {
    helper = await startHelper(cli, vsysRoot)
    log('vsys helper serving', vsysRoot)

    dev = await Netdev.open({ name: 'demo0', allocator: 'vsys', vsysRoot })
    log('opened through fd_tuntap:', `${dev.realName} (port ${dev.name}, ${dev.mode}, tun_pi ${dev.packetInfo})`)
    log('MAC', dev.etheraddr)
    log('flags', dev.flags)
    dev.on('change', (c) => log('change event', c))

    await dev.setConfig({ localIp: LOCAL_IP, localNetmask: 24 })
    log('vif_up done: config', dev.getConfig())
    log('flags', dev.flags)

    const rx = dev.rxOpen()
    let answered = { arp: 0, icmp: 0 }
    const responder = (async () => {
      for await (const frame of rx) {
        const arp = arpReply(frame, PEER_IP, PEER_MAC)
        if (arp) {
          dev!.send(arp)
          answered.arp++
          continue
        }
        const echo = icmpEchoReply(frame, PEER_IP)
        if (echo) {
          dev!.send(echo)
          answered.icmp++
        }
      }
    })()

    log('running', `ping -c 5 ${PEER_IP}`)
    const ping = await runPing()
    log('answered from TypeScript', answered)

    await dev.setPromisc(true)
    log('promisc on: flags', dev.flags)
    await dev.setPromisc(false)
    log('promisc off: flags', dev.flags)
    log('stats', dev.stats())
    log('changeSeq', String(dev.changeSeq))

    await rx.close()
    await responder
    const ok = ping.received === 5
    log(ok ? 'OK: all 5 pings answered' : `FAILED: ${ping.received} of 5 pings answered`)
    return ok ? 0 : 1
  } finally {
    await dev?.close()
    if (helper && helper.exitCode === null) {
      const exited = new Promise((r) => helper!.once('exit', r))
      helper.kill('SIGTERM')
      await exited
    }
    rmSync(work, { recursive: true, force: true })
    log('cleaned up')
  }
}
