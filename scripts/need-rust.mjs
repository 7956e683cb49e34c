#!/usr/bin/env node
// Before `napi build`: says what to install when the Rust toolchain is missing, instead of
// napi's "Internal Error" (README "Building from source").
import { spawnSync } from 'node:child_process'

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargo.error || cargo.status !== 0) {
  console.error(
    [
      'pltap: building the native addon needs the Rust toolchain (cargo), which was not found.',
      '  Install Rust >= 1.88 (https://rustup.rs: curl --proto =https -sSf https://sh.rustup.rs | sh)',
      '  and a C toolchain (Debian/Ubuntu: apt-get install build-essential), then run npm run build again.',
      '  To use pltap without building it, install it from the registry: npm install pltap',
    ].join('\n'),
  )
  process.exit(1)
}
