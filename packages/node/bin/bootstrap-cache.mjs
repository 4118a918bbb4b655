#!/usr/bin/env node
// The `bootstrap-cache` executable: runs dist/cli.mjs, the compiled CLI bundled into one file (built
// with the package; see scripts/bundle-cli.mjs). Exit codes and logging: src/cli/main.ts.
// In a checkout, `npm install` builds it; after editing the sources, `npm run build`.
//
// `--help`, `-h`, no arguments, `<command> --help|-h` and `--version` print the text the build
// captured from the real command definition (dist/cli-help.json, scripts/cli-help.mjs) without
// loading the bundle: the same bytes, exit code 0, in a fraction of the start-up time. Any other
// arguments, or a missing or unreadable file, go to the bundle.
import { existsSync, readFileSync } from "node:fs"

/** The key of a help text for `args` (`-h` and no arguments are `--help` in @effect/cli), else undefined. */
const helpKey = (args) => {
  if (args.length === 0) return "--help"
  const last = args[args.length - 1]
  if (args.length > 2 || (last !== "--help" && last !== "-h" && last !== "--version")) return undefined
  if (last === "--version") return args.length === 1 ? "--version" : undefined
  return [...args.slice(0, -1), "--help"].join(" ")
}

const precomputed = (args) => {
  const key = helpKey(args)
  if (key === undefined) return undefined
  try {
    const text = JSON.parse(readFileSync(new URL("../dist/cli-help.json", import.meta.url), "utf8")).texts[key]
    return typeof text === "string" ? text : undefined
  } catch {
    return undefined
  }
}

const help = precomputed(process.argv.slice(2))
if (help !== undefined) {
  // As console.log (the bundle's way of printing help): a reader gone early (`| head -1`) is no error.
  process.stdout.on("error", () => {})
  process.stdout.write(help)
} else {
  const bundle = new URL("../dist/cli.mjs", import.meta.url)
  if (!existsSync(bundle)) {
    process.stderr.write("bootstrap-cache: dist/cli.mjs is missing: build the package first (npm run build)\n")
    process.exit(70)
  }
  await import(bundle.href)
}
