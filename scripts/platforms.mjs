#!/usr/bin/env node
// The platform packages, kept in step with the main package (README "Development").
//
// Every target in package.json's `napi.targets` has a package in npm/<platform>/ (as
// `napi create-npm-dirs` makes it), named `pltap-<platform>`, at the main package's version;
// the main package lists each one in `optionalDependencies` at exactly that version, and
// package-lock.json records each as an optional entry (npm adds no entry of its own for a
// package it cannot fetch yet, and `npm ci` refuses a lock without it). The release workflow
// builds exactly these targets.
//
//   node scripts/platforms.mjs --check   exit 1, naming each difference, when anything drifted
//   node scripts/platforms.mjs --write   make it so (after `napi version` or a new target)
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { parseTriple } from '@napi-rs/cli'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { check: { type: 'boolean' }, write: { type: 'boolean' } }, strict: true })
if (values.check === values.write) {
  console.error('usage: node scripts/platforms.mjs --check | --write')
  process.exit(2)
}

const readJson = (path) => JSON.parse(readFileSync(join(root, path), 'utf8'))
const writeJson = (path, value) => writeFileSync(join(root, path), `${JSON.stringify(value, null, 2)}\n`)

/** JSON with sorted keys: for comparing objects whatever the order npm wrote them in. */
const canon = (v) =>
  JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x))

const pkg = readJson('package.json')
const lock = readJson('package-lock.json')
const targets = pkg.napi.targets.map(parseTriple)
const problems = []

/** What npm itself writes for an optional platform package it has not fetched. */
function lockEntry(platformPkg) {
  const entry = { version: platformPkg.version }
  for (const key of ['cpu', 'libc', 'license', 'optional', 'os', 'engines']) {
    if (key === 'optional') entry.optional = true
    else if (platformPkg[key] !== undefined) entry[key] = platformPkg[key]
  }
  return entry
}

const wantedOptional = {}
for (const t of targets) {
  const dir = `npm/${t.platformArchABI}`
  const name = `${pkg.name}-${t.platformArchABI}`
  wantedOptional[name] = pkg.version
  if (!existsSync(join(root, dir, 'package.json'))) {
    problems.push(`${dir}/package.json is missing (run: npx napi create-npm-dirs)`)
    continue
  }
  const platformPkg = readJson(`${dir}/package.json`)
  if (platformPkg.name !== name) problems.push(`${dir}: name is ${platformPkg.name}, not ${name}`)
  if (platformPkg.version !== pkg.version) {
    problems.push(`${dir}: version ${platformPkg.version}, the main package is ${pkg.version} (run: npx napi version)`)
    if (values.write) {
      platformPkg.version = pkg.version
      writeJson(`${dir}/package.json`, platformPkg)
    }
  }
  const binary = `${pkg.napi.binaryName}.${t.platformArchABI}.node`
  if (platformPkg.main !== binary || JSON.stringify(platformPkg.files) !== JSON.stringify([binary])) {
    problems.push(`${dir}: main/files do not name ${binary}`)
  }
  const key = `node_modules/${name}`
  const entry = lockEntry(platformPkg)
  const have = lock.packages[key]
  const { resolved: _r, integrity: _i, ...haveBare } = have ?? {}
  if (have === undefined || canon(haveBare) !== canon(entry)) {
    problems.push(`package-lock.json: ${key} is ${have === undefined ? 'missing' : 'out of date'}`)
    // A version change drops resolved/integrity: npm fetches the new version's on the next install.
    lock.packages[key] = have !== undefined && have.version === entry.version ? { ...entry, ...have, ...entry } : entry
  }
}

const sortedObject = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
const wanted = sortedObject(wantedOptional)
if (canon(pkg.optionalDependencies ?? {}) !== canon(wanted)) {
  problems.push(`package.json: optionalDependencies should be ${JSON.stringify(wanted)}`)
  pkg.optionalDependencies = wanted
}
if (canon(lock.packages[''].optionalDependencies ?? {}) !== canon(wanted)) {
  problems.push('package-lock.json: the root optionalDependencies differ from package.json')
  lock.packages[''].optionalDependencies = wanted
}
for (const key of Object.keys(lock.packages)) {
  const m = /^node_modules\/(pltap-[^/]+)$/.exec(key)
  if (m && !(m[1] in wanted)) {
    problems.push(`package-lock.json: ${key} is no target`)
    delete lock.packages[key]
  }
}
// The generated loader checks the platform package's version against the one it was
// generated for (napi build writes it in); after `napi version` it must say the new one.
const loader = readFileSync(join(root, 'binding.napi.cjs'), 'utf8')
const stale = new Set([...loader.matchAll(/bindingPackageVersion !== '([^']*)'/g)].map((m) => m[1]).filter((v) => v !== pkg.version))
if (stale.size > 0) {
  problems.push(`binding.napi.cjs: checks for platform packages at ${[...stale].join(', ')}, not ${pkg.version}`)
  if (values.write) {
    let text = loader
    for (const v of stale) text = text.split(`bindingPackageVersion !== '${v}'`).join(`bindingPackageVersion !== '${pkg.version}'`)
    for (const v of stale) text = text.split(`expected ${v} but got`).join(`expected ${pkg.version} but got`)
    writeFileSync(join(root, 'binding.napi.cjs'), text)
  }
}
// The release workflow's build matrix: exactly the targets.
const workflow = readFileSync(join(root, '.github/workflows/release.yml'), 'utf8')
const matrix = [...workflow.matchAll(/^\s+target: ([\w-]+)\s*$/gm)].map((m) => m[1])
const inMatrix = new Set(matrix)
for (const t of targets) if (!inMatrix.has(t.triple)) problems.push(`.github/workflows/release.yml: no build for ${t.triple}`)
for (const m of inMatrix)
  if (!targets.some((t) => t.triple === m)) problems.push(`.github/workflows/release.yml: ${m} is not in napi.targets`)

if (values.write) {
  writeJson('package.json', pkg)
  writeJson('package-lock.json', lock)
  // npm's own layout (order, fields): what a later `npm install` then leaves as it is.
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
  for (const p of problems) console.log(`platforms: fixed: ${p}`)
  console.log(`platforms: ${targets.length} platform packages at ${pkg.version}`)
} else if (problems.length > 0) {
  for (const p of problems) console.error(`platforms: ${p}`)
  console.error('platforms: run "node scripts/platforms.mjs --write" (or "npm version", which runs it)')
  process.exit(1)
} else {
  console.log(
    `platforms: ${targets.length} platform packages, optionalDependencies and the lock at ${pkg.version}; the workflow builds each`,
  )
}
