#!/usr/bin/env bash
# `npm run pack:check` (README "Development"): the two tarballs a registry install fetches on
# x86_64 Linux (glibc), installed as a registry install would, and used.
#
# 1. `npm pack` the main package: dist/, the loader, the .d.ts files, README, LICENSE and
#    CHANGELOG, no build inputs, no source-map references, no @internal items.
# 2. `napi artifacts` puts the built addon into npm/linux-x64-gnu, which is packed as the
#    platform package pltap-linux-x64-gnu.
# 3. A fresh empty project depends on both tarballs (file: dependencies, so npm installs them
#    from the tarballs exactly as from the registry, the platform package through pltap's
#    optionalDependencies); there pltap is imported and run from ESM and from CommonJS, a
#    strict TypeScript consumer type-checks, and `npx pltap --version` runs.
# 4. Another fresh project gets the main tarball alone: importing pltap fails with
#    ERR_PLTAP_NATIVE_MISSING and a message naming pltap-linux-x64-gnu; the CLI's help works.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/pltap-pack-XXXXXX)
trap 'rm -rf "$work" "$repo/artifacts/bindings-x86_64-unknown-linux-gnu"; rm -f "$repo/npm/linux-x64-gnu/pltap.linux-x64-gnu.node"' EXIT
say() { echo "check-pack: $*"; }
fail() { echo "check-pack: $*" >&2; exit 1; }

cd "$repo"
[ -f dist/index.js ] && [ -f pltap.linux-x64-gnu.node ] || fail "build first (npm run build)"
node scripts/platforms.mjs --check >/dev/null || fail "platform packages out of step (node scripts/platforms.mjs --check)"
version=$(node -p "require('./package.json').version")

# 1. The main package.
tarball=$(npm pack --ignore-scripts --silent --pack-destination "$work" | tail -n 1)
mkdir -p "$work/main" && tar -xzf "$work/$tarball" -C "$work/main"
(cd "$work/main" && find package -type f | sort) > "$work/contents"
for must in package/package.json package/README.md package/LICENSE package/CHANGELOG.md package/binding.js \
            package/binding.napi.cjs package/binding.d.ts package/dist/index.js package/dist/index.d.ts \
            package/dist/netdev.d.ts package/dist/netdev/types.d.ts package/dist/cli/main.js; do
  grep -qx "$must" "$work/contents" || fail "$must missing from the tarball"
done
if grep -E '^package/(ts|crates|__test__|scripts|bench|target|node_modules|npm|fuzz|docs)/|\.node$|\.map$|Cargo\.|tsconfig' "$work/contents"; then
  fail "build inputs, binaries or source maps in the tarball (above)"
fi
if grep -rl 'sourceMappingURL' "$work/main/package/dist"; then fail "JS pointing at source maps that are not shipped (above)"; fi
# stripInternal: e.g. PltapError's internal constructor and the native-error decoder are gone.
if grep -nE 'constructor\(code: ErrorCode|declare function (fromNative|native|closedError)\b' "$work/main/package/dist/errors.d.ts"; then
  fail "@internal items in the .d.ts (above)"
fi
# Every subpath of the exports map ('.', './packet', ...): its files are in the tarball.
subpaths=$(node -p "Object.keys(require('./package.json').exports).filter((k) => k !== './package.json').map((k) => k === '.' ? 'pltap' : 'pltap/' + k.slice(2)).join(' ')")
for target in $(node -p "Object.values(require('./package.json').exports).flatMap((v) => typeof v === 'string' ? [v] : Object.values(v)).join(' ')"); do
  grep -qx "package/${target#./}" "$work/contents" || fail "exports names ${target}, which is not in the tarball"
done
grep -q '"prepare"' "$work/main/package/package.json" && fail "the tarball's package.json has a prepare script (consumers would build)"
say "tarball $tarball: $(wc -l < "$work/contents") files, no build inputs, no source maps"

# 2. The platform package, from npm/linux-x64-gnu after `napi artifacts`.
mkdir -p artifacts/bindings-x86_64-unknown-linux-gnu
cp pltap.linux-x64-gnu.node artifacts/bindings-x86_64-unknown-linux-gnu/
# Only this target is built here: a napi config naming it alone (napi artifacts wants every
# configured target's artifact, as the release workflow has them).
echo '{ "binaryName": "pltap", "packageName": "pltap", "targets": ["x86_64-unknown-linux-gnu"] }' > "$work/napi.json"
npx napi artifacts -c "$work/napi.json" --output-dir artifacts --npm-dir npm >"$work/artifacts.log" 2>&1 || { cat "$work/artifacts.log"; fail "napi artifacts failed"; }
[ -f npm/linux-x64-gnu/pltap.linux-x64-gnu.node ] || fail "napi artifacts did not fill npm/linux-x64-gnu"
plat_tgz=$(cd npm/linux-x64-gnu && npm pack --silent --pack-destination "$work" | tail -n 1)
[ "$plat_tgz" = "pltap-linux-x64-gnu-$version.tgz" ] || fail "platform tarball is $plat_tgz"
say "platform tarball $plat_tgz: $(tar -tzf "$work/$plat_tgz" | tr '\n' ' ')"

typescript=$(node -p "require('./package.json').devDependencies.typescript")
types_node=$(node -p "require('./package.json').devDependencies['@types/node']")

# 3. Both tarballs, as a registry install: pltap depends on pltap-linux-x64-gnu@$version
# (optionalDependencies); the override points that name at the platform tarball.
app="$work/app"
mkdir -p "$app" && cd "$app"
cat > package.json <<JSON
{ "name": "pltap-consumer", "version": "1.0.0", "private": true, "type": "module",
  "dependencies": { "pltap": "file:$work/$tarball" },
  "overrides": { "pltap-linux-x64-gnu": "file:$work/$plat_tgz" } }
JSON
npm install --silent --no-audit --no-fund
npm install --silent --no-audit --no-fund --no-save "typescript@$typescript" "@types/node@$types_node"
[ -f node_modules/pltap-linux-x64-gnu/pltap.linux-x64-gnu.node ] || fail "npm did not install the platform package as pltap's optional dependency"
node -e "const l=require('./package-lock.json').packages; const p=l['node_modules/pltap-linux-x64-gnu']; if (!p || !p.optional) { console.error(p); process.exit(1) }" \
  || fail "the lock does not show pltap-linux-x64-gnu as pltap's optional dependency"
say "installed pltap and pltap-linux-x64-gnu (optional dependency) into an empty project"

cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "NodeNext", "moduleResolution": "NodeNext",
  "target": "ES2022", "lib": ["ES2023", "ESNext.Disposable"], "types": ["node"], "skipLibCheck": false,
  "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true } }
JSON
cat > main.ts <<'TS'
import { Netdev, PltapError, type NetdevOptions, type NetdevStats, type PltapErrorCode, type Rx } from 'pltap'
import { EthernetView, PcapWriter, type Ipv4Init } from 'pltap/packet'

const options: NetdevOptions = { name: 'consumer', allocator: 'direct', mode: 'tap' }
const code: PltapErrorCode = 'ERR_PLTAP_CLOSED'
export async function run(): Promise<NetdevStats> {
  await using dev = await Netdev.open(options)
  await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
  const rx: Rx = dev.rxOpen({ batch: 32 })
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
export function missing(e: unknown): string | undefined {
  return e instanceof PltapError && e.code === 'ERR_PLTAP_NATIVE_MISSING' ? e.platformPackage : undefined
}
TS
n=0
for sub in $subpaths; do
  n=$((n + 1))
  echo "export * as sub$n from '$sub'" >> main.ts
done
npx tsc -p .
say "a strict TypeScript consumer type-checks (skipLibCheck off)"

cat > esm.mjs <<'JS'
import { Netdev } from 'pltap'
const dev = await Netdev.open({ name: 'consumer', allocator: 'direct' })
await dev.setConfig({ localIp: '198.18.0.1', localNetmask: 24 })
console.log(`check-pack: ESM: opened ${dev.realName}, up=${dev.flags.up}`)
await dev.close()
JS
cat > cjs.cjs <<'JS'
const { Netdev } = require('pltap')
;(async () => {
  const dev = await Netdev.open({ name: 'consumer-cjs', allocator: 'direct', mode: 'tun' })
  await dev.up()
  console.log(`check-pack: CommonJS: opened ${dev.realName} (${dev.mode}), up=${dev.flags.up}`)
  await dev.close()
})().catch((err) => { console.error(err); process.exit(1) })
JS
unshare --net -- sh -c 'ip link set lo up && node esm.mjs && node cjs.cjs'
for sub in $subpaths; do
  node --input-type=module -e "const m = await import('$sub'); if (Object.keys(m).length === 0) process.exit(1)" || fail "import('$sub') failed"
  node -e "if (Object.keys(require('$sub')).length === 0) process.exit(1)" || fail "require('$sub') failed"
done
say "every exports subpath ($subpaths) loads from ESM and CommonJS"
[ "$(npx --no-install pltap --version)" = "$version" ] || fail "npx pltap --version did not print $version"
say "npx pltap --version: $version"

# 4. The main tarball alone: the import fails, naming the platform package.
alone="$work/alone"
mkdir -p "$alone" && cd "$alone"
cat > package.json <<JSON
{ "name": "pltap-alone", "version": "1.0.0", "private": true, "dependencies": { "pltap": "file:$work/$tarball" } }
JSON
npm install --silent --no-audit --no-fund --omit=optional
[ ! -e node_modules/pltap-linux-x64-gnu ] || fail "the platform package was installed although optional dependencies were omitted"
node --input-type=module -e "
try {
  await import('pltap')
  console.error('check-pack: pltap imported without its platform package'); process.exit(1)
} catch (err) {
  if (err.code !== 'ERR_PLTAP_NATIVE_MISSING' || !err.message.includes('pltap-linux-x64-gnu') || err.platformPackage !== 'pltap-linux-x64-gnu') {
    console.error('check-pack: unexpected error:', err); process.exit(1)
  }
  console.log('check-pack: without the platform package, import fails: ' + err.message.split('\n')[0])
}"
node -e "try { require('pltap'); process.exit(1) } catch (err) { if (err.code !== 'ERR_PLTAP_NATIVE_MISSING') { console.error(err); process.exit(1) } }" \
  || fail "require('pltap') without the platform package did not fail with ERR_PLTAP_NATIVE_MISSING"
npx --no-install pltap --help >/dev/null || fail "pltap --help needs the native addon"
say "ok"
