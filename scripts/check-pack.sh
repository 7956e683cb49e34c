#!/usr/bin/env bash
# Packaging check (README "Development"): `npm pack` yields a tarball with dist/, the
# loader and the .d.ts files and no build inputs; it installs into an empty project
# (with the platform package that `napi pre-publish` would publish next to it), the
# project type-checks in strict mode, and the package loads and works at run time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/pltap-pack-XXXXXX)
trap 'rm -rf "$work"' EXIT

cd "$repo"
[ -f dist/index.js ] && [ -f pltap.linux-x64-gnu.node ] || { echo "check-pack: build first (npm run build)" >&2; exit 1; }
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$work" | tail -n 1)
tar -tzf "$work/$tarball" | sort > "$work/contents"
for must in package/package.json package/README.md package/binding.js package/binding.d.ts \
            package/dist/index.js package/dist/index.d.ts package/dist/packet/index.js package/dist/packet/index.d.ts package/dist/netdev.d.ts package/dist/netdev/types.d.ts package/dist/cli/main.js; do
  grep -qx "$must" "$work/contents" || { echo "check-pack: $must missing from the tarball" >&2; exit 1; }
done
if grep -E '^package/(ts|crates|__test__|scripts|bench|target|node_modules)/|\.node$|Cargo\.|tsconfig' "$work/contents"; then
  echo "check-pack: build inputs or binaries in the tarball (above)" >&2; exit 1
fi
echo "check-pack: tarball $tarball has $(wc -l < "$work/contents") files, no build inputs"

# The platform package, as `napi create-npm-dirs` + `napi artifacts` would make it.
plat="$work/platform"
mkdir -p "$plat"
cp pltap.linux-x64-gnu.node "$plat/"
version=$(node -p "require('./package.json').version")
cat > "$plat/package.json" <<JSON
{ "name": "pltap-linux-x64-gnu", "version": "$version", "os": ["linux"], "cpu": ["x64"], "libc": ["glibc"],
  "main": "pltap.linux-x64-gnu.node", "files": ["pltap.linux-x64-gnu.node"], "license": "Apache-2.0" }
JSON
plat_tgz=$(cd "$plat" && npm pack --silent --pack-destination "$work" | tail -n 1)

app="$work/app"
mkdir -p "$app"
cd "$app"
cat > package.json <<'JSON'
{ "name": "pltap-consumer", "version": "1.0.0", "private": true, "type": "module" }
JSON
typescript=$(node -p "require('$repo/package.json').devDependencies.typescript")
types_node=$(node -p "require('$repo/package.json').devDependencies['@types/node']")
npm install --silent --no-audit --no-fund "$work/$tarball" "$work/$plat_tgz" "typescript@$typescript" "@types/node@$types_node"
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "NodeNext", "moduleResolution": "NodeNext",
  "target": "ES2022", "lib": ["ES2023", "ESNext.Disposable"], "types": ["node"], "skipLibCheck": false } }
JSON
cat > main.ts <<'TS'
import { Netdev, PltapError, type NetdevOptions, type NetdevStats, type PltapErrorCode } from 'pltap'
import { EthernetView, PcapWriter, type Ipv4Init } from 'pltap/packet'

const options: NetdevOptions = { name: 'consumer', allocator: 'direct', mode: 'tap' }
const code: PltapErrorCode = 'ERR_PLTAP_CLOSED'
export async function run(): Promise<NetdevStats> {
  await using dev = await Netdev.open(options)
  await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
  const rx = dev.rxOpen({ batch: 32 })
  const frame: Buffer | null = rx.recv()
  if (frame !== null) dev.send(frame)
  await rx.close()
  return dev.stats()
}
export const ip: Ipv4Init = { src: '198.18.0.1', dst: '198.18.0.2', protocol: 17 }
export function source(frame: Buffer, sink: NodeJS.WritableStream): string {
  new PcapWriter(sink).writeFrame(frame, 0n)
  return new EthernetView(frame).src
}
export function isClosed(e: unknown): boolean {
  return e instanceof PltapError && e.code === code
}
TS
npx tsc -p .
echo "check-pack: the consumer type-checks in strict mode"
cat > run.mjs <<'JS'
import { Netdev } from 'pltap'
const dev = await Netdev.open({ name: 'consumer', allocator: 'direct' })
await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
console.log(`check-pack: installed package opened ${dev.realName}, up=${dev.flags.up}`)
await dev.close()
JS
unshare --net -- sh -c 'ip link set lo up && exec node run.mjs'
# One module format that works from both `import` (above) and `require`.
node -e "const { buildIpv4, PcapWriter } = require('pltap/packet'); if (typeof buildIpv4 !== 'function' || typeof PcapWriter !== 'function') process.exit(1); console.log('check-pack: require(\'pltap/packet\') works')"
node -e "const { Netdev, Rx, PltapError } = require('pltap'); if (typeof Netdev.open !== 'function' || typeof Rx !== 'function' || typeof PltapError !== 'function') process.exit(1); console.log('check-pack: require(\'pltap\') works too')"
