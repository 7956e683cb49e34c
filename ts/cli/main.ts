#!/usr/bin/env node
/**
 * The `pltap` command: dispatch, `--version` and the command list. It loads no native code:
 * each command's module is imported when that command runs, and the addon loads on first
 * use (binding.js), so `pltap --help`, `pltap <command> --help` and `pltap --version` work
 * without it.
 *
 * Conventions every command follows (README "CLI"): its module exports
 * `run(argv: string[]): Promise<number>` (the exit status), parses `argv` with
 * `util.parseArgs` (strict: an unknown option or a missing value is a usage error: the
 * reason and the usage on stderr, exit 2), prints its usage on stdout for `-h`/`--help`
 * before touching anything, and with `--json` writes data as JSON on stdout and everything
 * else on stderr. Errors that escape a command are printed by {@link describeError}: one
 * message, with what to install or which privilege is missing, never a stack trace.
 * @internal
 * @module
 */
import { parseArgs } from 'node:util'
import { describeError } from './hints.js'
import { VERSION } from './version.js'

// Before any command's module is imported: the addon loads on first use (see binding.js).
;(globalThis as Record<symbol, unknown>)[Symbol.for('pltap.cli.lazyNative')] = true

/** A command's module. */
interface CommandModule {
  run(argv: string[]): Promise<number>
}

/** A command: its line in `pltap --help`, and its module, imported only when it runs. */
interface Command {
  synopsis: string
  summary: string
  load(): Promise<CommandModule>
}

/** Every command, one line each; the module named here owns the command's options and usage. */
const COMMANDS: Record<string, Command> = {
  demo: { synopsis: 'demo', summary: 'the main job end to end, in a private network namespace', load: () => import('./demo-command.js') },
  bridge: {
    synopsis: 'bridge <ifA> <ifB>',
    summary: 'create two TAP devices and forward frames between them',
    load: () => import('./bridge.js'),
  },
  vsysd: { synopsis: 'vsysd [options]', summary: 'run the vsys-compatible privileged helper', load: () => import('./vsysd.js') },
  capture: {
    synopsis: 'capture <ifname> [-w file|-]',
    summary: 'create a TAP/TUN device and capture what it receives (pcap)',
    load: () => import('./capture.js'),
  },
}

/** `pltap --help`. */
export function mainUsage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.synopsis.length)) + 2
  const lines = Object.values(COMMANDS).map((c) => `  ${c.synopsis.padEnd(width)} ${c.summary}`)
  return `Usage: pltap <command> [options]
       pltap --version [--json]

Commands:
${lines.join('\n')}

Options:
  -h, --help     print this text ("pltap <command> --help": that command's options)
  -v, --version  print the version (with --json: pltap's, Node's and the platform's)

pltap ${VERSION}. Only x86_64-unknown-linux-gnu is built and tested in this repository.`
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command !== undefined && !command.startsWith('-')) {
    const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
    if (entry === undefined) {
      console.error(`pltap: unknown command ${JSON.stringify(command)}\n\n${mainUsage()}`)
      return 2
    }
    return (await entry.load()).run(rest)
  }
  let values: { help?: boolean; version?: boolean; json?: boolean }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' }, json: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }))
  } catch (err) {
    console.error(`pltap: ${(err as Error).message}\n\n${mainUsage()}`)
    return 2
  }
  if (values.version) {
    if (values.json) {
      console.log(
        JSON.stringify({
          pltap: VERSION,
          node: process.versions.node,
          napi: process.versions.napi,
          platform: process.platform,
          arch: process.arch,
        }),
      )
    } else console.log(VERSION)
    return 0
  }
  if (values.json) {
    console.error(`pltap: --json goes with --version or a command\n\n${mainUsage()}`)
    return 2
  }
  if (values.help) {
    console.log(mainUsage())
    return 0
  }
  console.error(mainUsage())
  return 2
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(describeError(err))
    process.exitCode = 1
  },
)
