#!/usr/bin/env node
/**
 * Bundles the CLI (src/cli/main.ts and everything it imports, dependencies included) into one file,
 * dist/cli.mjs, which the `bootstrap-cache` executable runs. One file starts several times faster than
 * the same program as hundreds of separate ES modules (tsc's output: mostly `effect`'s modules), which
 * `npm run bench -- --only cli-start` measures. Part of this package's `build`, after tsc.
 *
 * Workspace packages are read from their sources (the `@bootstrap-cache/source` condition), so the
 * bundle does not depend on the order the packages' dist/ were built in.
 *
 *   node scripts/bundle-cli.mjs [--outfile <file>]   (default dist/cli.mjs; tests bundle elsewhere)
 */
import { build } from "esbuild"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const at = process.argv.indexOf("--outfile")
const outfile = at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : `${root}dist/cli.mjs`

await build({
  entryPoints: [`${root}src/cli/main.ts`],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["@bootstrap-cache/source"],
  legalComments: "eof",
  logLevel: "warning",
  // CommonJS dependencies call `require`, which an ES module lacks.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
})
