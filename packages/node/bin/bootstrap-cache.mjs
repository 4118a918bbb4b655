#!/usr/bin/env node
// The `bootstrap-cache` executable. It runs the bundle dist/cli.mjs (built by `npm install` through the
// root `prepare` script: starts in ~0.2 s), unless the bundle is missing or older than any source file
// it was built from — then it registers tsx and runs the TypeScript sources, so an edited checkout
// never runs stale code. See src/cli/main.ts for exit codes and logging.
import { existsSync, readdirSync, statSync } from "node:fs"

const packages = new URL("../../", import.meta.url)
const bundle = new URL("../dist/cli.mjs", import.meta.url)

const newestSource = (dir) => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? "/" : ""), dir)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

const fresh = existsSync(bundle) &&
  statSync(bundle).mtimeMs >= Math.max(newestSource(new URL("core/src/", packages)), newestSource(new URL("node/src/", packages)))

if (fresh) {
  await import(bundle.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../src/cli/main.ts")
}
