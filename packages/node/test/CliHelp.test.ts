/**
 * The executable's precomputed help (bin/bootstrap-cache.mjs + dist/cli-help.json, written by
 * scripts/cli-help.mjs) against the real CLI: a package laid out as installed — the executable, the
 * bundle and the help file built from the current sources in a temp directory — and every form the
 * executable answers on its own run both ways as child processes.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile, spawn, spawnSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const PACKAGE = fileURLToPath(new URL("../", import.meta.url))
const CACHE = fileURLToPath(new URL("../../../node_modules/.cache/bootstrap-cache-test/", import.meta.url))

/** Runs a build step; throws with its stderr when it fails. */
const step = (args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, args, { cwd: PACKAGE, encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed (exit ${r.status}): ${r.stderr}`)
}

/** `<root>/bin/bootstrap-cache.mjs`, `<root>/dist/cli.mjs` and `<root>/dist/cli-help.json` from the sources. */
const layOut = () => {
  mkdirSync(CACHE, { recursive: true })
  const root = mkdtempSync(join(CACHE, "help-"))
  mkdirSync(join(root, "bin"))
  copyFileSync(join(PACKAGE, "bin/bootstrap-cache.mjs"), join(root, "bin/bootstrap-cache.mjs"))
  step(["scripts/bundle-cli.mjs", "--outfile", join(root, "dist/cli.mjs")])
  step([
    "--conditions=@bootstrap-cache/source",
    "--import",
    "tsx",
    "scripts/cli-help.mjs",
    "--cli",
    join(PACKAGE, "src/cli/Cli.ts"),
    "--out",
    join(root, "dist/cli-help.json")
  ])
  return root
}

const root = layOut()
afterAll(() => rmSync(root, { recursive: true, force: true }))
const BIN = join(root, "bin/bootstrap-cache.mjs")
const BUNDLE = join(root, "dist/cli.mjs")

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node file ...args` to its end (killed after 60 s). */
const run = (file: string, args: ReadonlyArray<string>): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = execFile(process.execPath, [file, ...args], { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** Runs `node file ...args` with its stdout closed by the reader at once (as `| true`): exit code and stderr. */
const runUnread = (file: string, args: ReadonlyArray<string>): Effect.Effect<Omit<Ran, "stdout">> =>
  Effect.async((resume) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.destroy()
    let stderr = ""
    child.stderr.on("data", (d) => (stderr += d))
    child.on("close", (code) => resume(Effect.succeed({ code: code ?? -1, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The package's version, which `--version` prints. */
const version: string = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")).version
const texts = (): Record<string, string> => JSON.parse(readFileSync(join(root, "dist/cli-help.json"), "utf8")).texts

describe("bootstrap-cache precomputed help (child processes)", () => {
  it.live("every form the executable answers alone prints the bundle's bytes, exit 0, nothing on stderr", () =>
    Effect.gen(function*() {
      const keys = Object.keys(texts())
      const commands = keys.filter((k) => k.endsWith(" --help")).map((k) => k.slice(0, -" --help".length))
      assert.includeMembers(commands, ["bootstrap", "list", "stats", "add", "remove", "record", "prune", "import", "export"])
      // Every text, and each way of asking for one that maps onto another's key (-h, no arguments).
      const forms: Array<Array<string>> = [[], ["--help"], ["-h"], ["--version"], ["list", "-h"], ...commands.map((c) => [c, "--help"])]
      const ran = yield* Effect.forEach(forms, (args) => Effect.all([run(BIN, args), run(BUNDLE, args)]), { concurrency: 4 })
      forms.forEach((args, i) => {
        const [fast, real] = ran[i]!
        assert.deepStrictEqual(fast, real, `bootstrap-cache ${args.join(" ")}`)
        assert.deepStrictEqual(fast.code, 0, fast.stderr)
        assert.strictEqual(fast.stderr, "")
        assert.include(fast.stdout, args[0] === "--version" ? version : "USAGE")
      })
    }), { timeout: 120_000 })

  it.live("a reader that goes away early (| true) is no error, as with the bundle: exit 0, nothing on stderr", () =>
    Effect.gen(function*() {
      const [fast, real] = yield* Effect.all([runUnread(BIN, ["--help"]), runUnread(BUNDLE, ["--help"])])
      assert.deepStrictEqual(fast, real)
      assert.deepStrictEqual(fast, { code: 0, stderr: "" })
    }), { timeout: 60_000 })

  it.live("those forms never load the bundle; any other arguments do", () =>
    Effect.gen(function*() {
      const help = texts()["--help"]!
      renameSync(BUNDLE, `${BUNDLE}.away`)
      const [alone, sub, other, combined] = yield* Effect.ensuring(
        Effect.all([run(BIN, ["--help"]), run(BIN, ["list", "-h"]), run(BIN, ["stats"]), run(BIN, ["--json", "--help"])]),
        Effect.sync(() => renameSync(`${BUNDLE}.away`, BUNDLE))
      )
      assert.deepStrictEqual(alone, { code: 0, stdout: help, stderr: "" })
      assert.deepStrictEqual(sub, { code: 0, stdout: texts()["list --help"]!, stderr: "" })
      for (const r of [other, combined]) {
        assert.strictEqual(r.code, 70)
        assert.include(r.stderr, "dist/cli.mjs is missing")
      }
    }), { timeout: 60_000 })
})
