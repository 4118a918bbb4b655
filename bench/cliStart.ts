/**
 * `cli-start`: wall time of the installed `bootstrap-cache --help`, as a user runs it: the packages packed
 * and installed from their tarballs into a temp project (test/installed.ts), then the executable run
 * as a child process. Baseline, in the same run: `node -e ""` (Node's own start). Target ≤ 0.3 s.
 *
 * `--help` is answered from the text the build captured (dist/cli-help.json) without loading the
 * bundle, so `cli-start-command` times a command that runs the CLI itself: `bootstrap-cache stats`
 * on a missing cache file (opens the store, prints, writes nothing), against the same baseline.
 *
 * `cli-start-unbundled`: the same program from tsc's per-module output (`dist/cli/main.js` of the
 * installed package, loading `effect` and the rest module by module; `@effect/cli`, which the bundle
 * holds, installed beside it), against the same baseline: what the one-file bundle saves.
 */
import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { installPackages, pinned } from "../test/installed.js"
import { median, type Result } from "./harness.js"

/** Median wall time (ms) of a child process running to exit, over `samples` runs after one warm-up. */
const timeProcess = (command: string, args: ReadonlyArray<string>, cwd: string, samples: number): number => {
  const times: Array<number> = []
  for (let i = 0; i <= samples; i++) {
    const start = performance.now()
    const result = spawnSync(command, args, { cwd, stdio: "ignore" })
    const elapsed = performance.now() - start
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status ?? result.signal}`)
    if (i > 0) times.push(elapsed)
  }
  return median(times)
}

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const samples = quick ? 5 : 15
  // @effect/cli only for the unbundled variant: the executable's bundle holds its own copy.
  const installed = await installPackages([pinned("@effect/cli")])
  try {
    const cwd = installed.dir
    const baseline = timeProcess(process.execPath, ["-e", ""], cwd, samples)
    const bin = timeProcess(join(cwd, "node_modules/.bin/bootstrap-cache"), ["--help"], cwd, samples)
    const command = timeProcess(join(cwd, "node_modules/.bin/bootstrap-cache"), ["stats", "--json", "--cache", join(cwd, "peers.json")], cwd, samples)
    const bundled = timeProcess(process.execPath, [join(cwd, "node_modules/@bootstrap-cache/node/dist/cli.mjs"), "--help"], cwd, samples)
    const unbundled = timeProcess(
      process.execPath,
      [join(cwd, "node_modules/@bootstrap-cache/node/dist/cli/main.js"), "--help"],
      cwd,
      samples
    )
    return [
      {
        name: "cli-start",
        value: bin,
        unit: "ms",
        baseline,
        ratio: bin / baseline,
        baselineName: "node -e \"\"",
        target: "≤ 300 ms",
        met: bin <= 300,
        note: `installed bootstrap-cache --help (the text the build captured; the bundle is not loaded), median of ${samples}`
      },
      {
        name: "cli-start-command",
        value: command,
        unit: "ms",
        baseline,
        ratio: command / baseline,
        baselineName: "node -e \"\"",
        note: `installed bootstrap-cache stats --json on a missing cache file (the one-file bundle dist/cli.mjs), median of ${samples}`
      },
      {
        name: "cli-start-unbundled",
        value: unbundled,
        unit: "ms",
        baseline,
        ratio: unbundled / baseline,
        baselineName: "node -e \"\"",
        note: `the same --help from tsc's output (dist/cli/main.js, module by module); the bundle run on --help itself ${bundled.toFixed(0)} ms, bundle / unbundled = ${
          (bundled / unbundled).toFixed(2)
        }`
      }
    ]
  } finally {
    await installed.dispose()
  }
}
