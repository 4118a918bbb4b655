#!/usr/bin/env node
/**
 * Bundles the CLI (src/cli/main.ts and everything it imports, dependencies included) into one file,
 * dist/cli.mjs, which the `bootstrap-cache` executable runs. One file starts several times faster than
 * the same program as hundreds of separate ES modules (tsc's output: mostly `effect`'s modules), which
 * `npm run bench -- --only cli-start` measures. Part of this package's `build`, after tsc.
 *
 * What only some commands run — the HTTP client (undici) for contacts and URL imports — is imported
 * dynamically in the sources; those imports become chunks beside the file (`cli-chunks/`), so a
 * command that never fetches (`--help`, `list`, `stats`) neither loads nor parses them.
 *
 * Workspace packages are read from their sources (the `@bootstrap-cache/source` condition), so the
 * bundle does not depend on the order the packages' dist/ were built in.
 *
 *   node scripts/bundle-cli.mjs [--outfile <file>]   (default dist/cli.mjs, chunks in dist/cli-chunks/;
 *                                                    tests bundle elsewhere)
 */
import { build } from "esbuild"
import { basename, dirname } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const at = process.argv.indexOf("--outfile")
const outfile = at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : `${root}dist/cli.mjs`

await build({
  entryPoints: { [basename(outfile, ".mjs")]: `${root}src/cli/main.ts` },
  outdir: dirname(outfile),
  outExtension: { ".js": ".mjs" },
  chunkNames: "cli-chunks/[name]-[hash]",
  splitting: true,
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
