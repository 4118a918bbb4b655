/**
 * How the `bootstrap-cache` executable ends, as a shell sees it (child processes, real files): a
 * reader that closes the pipe early is no error, a signal gives 128 + its number, and a bad `--limit`
 * is a usage error. The exit codes are those of `src/cli/main.ts`.
 */
import { ContactsServer } from "@bootstrap-cache/testkit"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleCli } from "./cliBundle.js"

/** The CLI compiled from the current sources, as the executable runs it. */
const bundle = bundleCli()
afterAll(bundle.dispose)

interface Exit {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts the executable. `closeAfterFirstChunk`: the reader closes its end of stdout once the first
 * chunk arrives, as `| head -1` does. `exit` waits for the end (a child still running after 60 s is
 * killed, which fails the test's assertions).
 */
const start = (args: ReadonlyArray<string>, options: { readonly closeAfterFirstChunk?: boolean } = {}) =>
  Effect.sync(() => {
    const child = spawn(process.execPath, [bundle.file, ...args], {
      env: { ...process.env, BOOTSTRAP_CACHE_PATH: "" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const out = { stdout: "", stderr: "" }
    child.stdout.on("data", (d) => {
      out.stdout += d
      if (options.closeAfterFirstChunk === true) child.stdout.destroy()
    })
    child.stderr.on("data", (d) => (out.stderr += d))
    const exit = Effect.async<Exit>((resume) => {
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
      child.on("close", (code) => {
        clearTimeout(killer)
        resume(Effect.succeed({ code, ...out }))
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    })
    return { child, exit }
  })

const bootstrapCache = (args: ReadonlyArray<string>, options?: { readonly closeAfterFirstChunk?: boolean }) =>
  Effect.flatMap(start(args, options), (p) => p.exit)

const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bootstrap-cache-exits-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** 5,000 public TCP addresses, one a line: an export of them (~130 KB) is more than a pipe holds. */
const manyAddresses = Array.from({ length: 5_000 }, (_, i) => `/ip4/1.${(i >> 8) & 255}.${i & 255}.7/tcp/4001`).join("\n")

describe("bootstrap-cache CLI — how it ends (child processes, real files)", () => {
  it.scopedLive("a reader that closes stdout early (| head -1) gets no stack trace and the command exits 0", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      writeFileSync(join(dir, "list.txt"), manyAddresses)
      const imported = yield* bootstrapCache(["import", join(dir, "list.txt"), "--cache", cache])
      assert.strictEqual(imported.code, 0, imported.stderr)
      for (const args of [["export"], ["export", "--format", "json"], ["list"], ["list", "--json"]]) {
        const cut = yield* bootstrapCache([...args, "--cache", cache], { closeAfterFirstChunk: true })
        assert.strictEqual(cut.code, 0, `${args.join(" ")}: ${cut.stderr}`)
        assert.strictEqual(cut.stderr, "", args.join(" "))
      }
    }), 120_000)

  it.scopedLive("SIGINT ends a command with 130 and SIGTERM with 143, each with no stack trace", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const server = yield* ContactsServer.make({ "/hang": ContactsServer.Behaviour.Hang() })
      let asked = 0
      for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
        // An empty cache asks the endpoint first; the endpoint never answers, so the run is in
        // progress when the signal comes.
        const run = yield* start(["bootstrap", "--endpoint", server.urlFor("/hang"), "--allow-loopback", "--cache", join(dir, `${code}.json`)])
        asked += 1
        yield* Effect.repeat(server.requests("/hang"), { until: (n) => n >= asked, schedule: Schedule.spaced("50 millis") })
        run.child.kill(signal)
        const exit = yield* run.exit
        assert.strictEqual(exit.code, code, exit.stderr)
        assert.notMatch(exit.stderr, /\n\s+at /, exit.stderr)
      }
    }), 120_000)

  it.scopedLive("list --limit below 1 is a usage error (exit 2), not an empty cache", () =>
    Effect.gen(function*() {
      const dir = yield* scratch
      const cache = join(dir, "peers.json")
      const added = yield* bootstrapCache(["add", "/ip4/1.2.3.4/tcp/4001", "--cache", cache])
      assert.strictEqual(added.code, 0, added.stderr)
      for (const limit of ["0", "-1"]) {
        const listed = yield* bootstrapCache(["list", "--limit", limit, "--cache", cache])
        assert.strictEqual(listed.code, 2, listed.stdout + listed.stderr)
        assert.notInclude(listed.stdout, "the cache is empty")
      }
      const one = yield* bootstrapCache(["list", "--limit", "1", "--json", "--cache", cache])
      assert.strictEqual(JSON.parse(one.stdout).length, 1)
    }), 120_000)
})
