/**
 * The package's version, read from its package.json (two levels up from `dist/cli/`).
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** `version` of the package this CLI belongs to. */
export const VERSION: string = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string })
  .version
