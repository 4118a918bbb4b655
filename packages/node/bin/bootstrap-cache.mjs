#!/usr/bin/env node
// The `bootstrap-cache` executable: runs dist/cli.mjs, the compiled CLI bundled into one file (built
// with the package; see scripts/bundle-cli.mjs). Exit codes and logging: src/cli/main.ts.
// In a checkout, `npm install` builds it; after editing the sources, `npm run build`.
import { existsSync } from "node:fs"

const bundle = new URL("../dist/cli.mjs", import.meta.url)
if (!existsSync(bundle)) {
  process.stderr.write("bootstrap-cache: dist/cli.mjs is missing: build the package first (npm run build)\n")
  process.exit(70)
}
await import(bundle.href)
