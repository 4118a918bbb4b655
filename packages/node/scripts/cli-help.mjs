#!/usr/bin/env node
/**
 * Writes dist/cli-help.json: what the built CLI prints for `--help`, `<command> --help` (every command
 * its root help lists) and `--version`, byte for byte, so that the `bootstrap-cache` executable
 * (bin/bootstrap-cache.mjs) answers those without loading the bundle — `@effect/cli`, its printer and
 * `effect` take most of a second to load and render help that never changes between builds. Part of
 * this package's `build`, after the bundle.
 *
 * Every text is what the real command definition (`Cli.run` of dist/cli/Cli.js, the module the
 * bundle is built from) writes to stdout for those arguments, captured in this process; a run that
 * fails or writes to stderr fails the build (the definition changed in a way the fast path must not
 * paper over). `-h` and no arguments print what `--help` prints in @effect/cli; the executable maps
 * them onto the `--help` texts. test/CliHelp.test.ts runs every form through the executable and
 * through the bundle and requires the same bytes.
 *
 * File shape: `{ "texts": { "<arguments joined by a space>": "<stdout>" } }`, e.g. keys `--help`,
 * `list --help`, `--version`.
 *
 *   node scripts/cli-help.mjs [--cli <Cli.js>] [--out <file>]   (default dist/cli/Cli.js, dist/cli-help.json)
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const option = (name, fallback) => {
  const at = process.argv.indexOf(name)
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback
}
const cliModule = option("--cli", `${root}dist/cli/Cli.js`)
const out = option("--out", `${root}dist/cli-help.json`)

/** What `Cli.run` writes to stdout for `args`; rejects when it fails or writes to stderr. */
const stdoutOf = async (modules, args) => {
  const { Cli, Effect, NodeContext } = modules
  const written = { stdout: "", stderr: "" }
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write }
  for (const name of ["stdout", "stderr"]) {
    process[name].write = (chunk, ...rest) => {
      written[name] += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
      const callback = rest.find((r) => typeof r === "function")
      if (callback !== undefined) process.nextTick(callback)
      return true
    }
  }
  try {
    await Effect.runPromise(Cli.run(["node", "bootstrap-cache", ...args]).pipe(Effect.provide(NodeContext.layer)))
  } finally {
    process.stdout.write = originals.stdout
    process.stderr.write = originals.stderr
  }
  if (written.stderr !== "") throw new Error(`bootstrap-cache ${args.join(" ")} wrote to stderr: ${written.stderr.slice(0, 300)}`)
  return written.stdout
}

/** The commands the root help lists (its COMMANDS section: `  - <name> …`), colours removed. */
const commandsOf = (rootHelp) => {
  const plain = rootHelp.replace(/\x1b\[[0-9;]*m/g, "")
  const section = plain.slice(plain.indexOf("COMMANDS"))
  return Array.from(section.matchAll(/^ {2}- (\S+)/gm), (m) => m[1])
}

const main = async () => {
  const [Cli, Effect, NodeContext] = await Promise.all([
    import(pathToFileURL(cliModule).href),
    import("effect/Effect"),
    import("@effect/platform-node/NodeContext")
  ])
  const modules = { Cli, Effect, NodeContext }
  const texts = { "--help": await stdoutOf(modules, ["--help"]) }
  const commands = commandsOf(texts["--help"])
  if (commands.length === 0) throw new Error("the root help lists no commands")
  for (const args of [["--version"], ...commands.map((c) => [c, "--help"])]) {
    texts[args.join(" ")] = await stdoutOf(modules, args)
  }
  writeFileSync(out, JSON.stringify({ texts }) + "\n")
}

main().catch((e) => {
  console.error(`cli-help: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})
