#!/usr/bin/env node
// `npm run docs`: typedoc (typedoc.json; warnings are errors), with one adjustment. The
// performance guide embeds bench/results/bridge-latest.svg, which the bridge benchmark
// writes; typedoc fails on an image that is not there, so when the checkout has no chart
// yet the guide is built from a copy (docs/guides/performance.generated.md, git-ignored)
// that says so instead. Source links point at the commit built (`git rev-parse HEAD`).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const chart = 'bench/results/bridge-latest.svg'
const guide = 'docs/guides/performance.md'
const copy = 'docs/guides/performance.generated.md'
const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'))
// Source links name the commit the site was built from. typedoc finds it itself in a clone,
// but not in a git worktree (its .git is a file); there it is given, with disableGit, and
// {path} is then relative to the entry points' directory (typedoc's basePath).
const args = []
if (!statSync(join(root, '.git')).isDirectory()) {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' })
  const dirs = config.entryPoints.map((e) => dirname(e).split('/'))
  const common = dirs[0].filter((part, i) => dirs.every((d) => d[i] === part))
  const template = config.sourceLinkTemplate.replace('{path}', `${common.join('/')}/{path}`)
  if (head.status === 0) args.push('--disableGit', '--gitRevision', head.stdout.trim(), '--sourceLinkTemplate', template)
}
rmSync(join(root, copy), { force: true })
if (!existsSync(join(root, chart))) {
  const text = readFileSync(join(root, guide), 'utf8')
  const embed = /^!\[[^\]]*\]\(\.\.\/\.\.\/bench\/results\/bridge-latest\.svg\)$/m
  if (!embed.test(text)) throw new Error(`${guide} no longer embeds ${chart}: update scripts/docs.mjs`)
  writeFileSync(join(root, copy), text.replace(embed, `_The chart is not in this checkout yet: the bridge benchmark writes \`${chart}\`._`))
  for (const doc of config.projectDocuments) args.push('--projectDocuments', doc === guide ? copy : doc)
}
const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), ...args], { cwd: root, stdio: 'inherit' })
rmSync(join(root, copy), { force: true })
process.exit(r.status ?? 1)
