// The examples in examples/ run as documented (they are type-checked by `npm run test:types`).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { announceSkips, devSerial, ROOT, startVsysd } from './support.ts'

announceSkips('examples.spec.ts')
const run = promisify(execFile)

function example(file: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', '@oxc-node/core/register', join(ROOT, 'examples', file), ...args], {
    cwd: ROOT,
    env: { ...process.env, OXC_TSCONFIG_PATH: join(ROOT, 'examples', 'tsconfig.json') },
    timeout: 30_000,
  })
}

devSerial('capture.mts captures for the given time and prints its counters', async (t) => {
  const { stdout } = await example('capture.mts', '1')
  t.regex(stdout, /^capturing on cap\d+ \([0-9a-f:]{17}\) for 1 s$/m)
  t.regex(stdout, /^\d+ frames, \d+ bytes, 0 dropped$/m)
})

devSerial('vsys-client.mts gets its device from a helper, configures it and closes it', async (t) => {
  const helper = await startVsysd()
  t.teardown(() => helper.stop())
  const { stdout } = await example('vsys-client.mts', helper.dir)
  t.regex(stdout, /^got tap1000-\d+ from the helper; MAC [0-9a-f:]{17}$/m)
  t.regex(stdout, /now \{ up: true, promisc: true, running: true \} 198\.18\.0\.1\/24/)
})

devSerial('vsys-client.mts explains a missing helper and exits 1', async (t) => {
  const err = await t.throwsAsync(example('vsys-client.mts', '/nonexistent-vsys'))
  t.is((err as { code?: number }).code, 1)
  t.regex((err as { stderr?: string }).stderr ?? '', /no vsys helper at \/nonexistent-vsys: ENOENT/)
})
