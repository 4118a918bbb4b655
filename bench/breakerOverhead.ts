/**
 * `breaker-overhead`: the cost per call of running a successful effect under `Protection.execute`
 * (breaker + health + recovery ramp, one key) minus running it bare; baseline: cockatiel 3's
 * `circuitBreaker.execute` of an equivalent promise minus the bare awaited promise. Target: at most 2×
 * cockatiel's. Also against cockatiel timing each call (a success listener), as `Protection` does for its
 * health window's latency samples, and against opossum 8.
 *
 * `breaker-overhead-pure-step`: one `KeyProtection.admit` + `complete` of a success (the pure core step),
 * against the same cockatiel overhead. Target: no more than cockatiel's.
 *
 * `effect-floor`: the call shape of `Protection.execute` with nothing counted (`withFiberRuntime`, a
 * clock read, the effect under `matchCauseEffect`, a clock read in the handler, its exit) minus a bare
 * `Effect` step: what any breaker built this way on Effect 3 costs. `breaker-overhead-above-floor`: ours
 * minus that floor.
 *
 * Every figure comes from fresh child processes (`breakerOverheadChild.ts`) on the packages' built
 * `dist/`, each loading the same modules and running every variant in interleaved rounds, so a baseline
 * and ours share the heap they run on; none inherits the heap of another benchmark. A figure is the
 * median over the processes of each process's median paired difference (variant − its bare baseline, in
 * the same round), in CPU ns per call. The notes give cockatiel's spread over the processes and the bytes
 * allocated per call.
 */
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { median, type Result } from "./harness.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const CHILD_SOURCE = fileURLToPath(new URL("./breakerOverheadChild.ts", import.meta.url))
const CHILD = fileURLToPath(new URL("./dist/breakerOverheadChild.mjs", import.meta.url))

/** Brings the packages' `dist/` up to date and compiles the child to plain JavaScript next to this file. */
const prepareChild = () => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], { stdio: "ignore", timeout: 600_000 })
  const { code } = esbuild.transformSync(readFileSync(CHILD_SOURCE, "utf8"), { loader: "ts", format: "esm", target: "node20" })
  mkdirSync(dirname(CHILD), { recursive: true })
  writeFileSync(CHILD, code)
}

/** One child's result: `time` gives ns per call of each round's loop per variant; `alloc` bytes per call. */
const child = <A>(mode: "time" | "alloc", calls: number, rounds: number): A => {
  const out = execFileSync(process.execPath, [CHILD, mode, String(calls), String(rounds)], { cwd: ROOT, encoding: "utf8", timeout: 300_000 })
  const line = out.split("\n").reverse().find((l) => l.startsWith("{\"mode\""))
  if (line === undefined) throw new Error(`breakerOverheadChild ${mode} printed no result: ${out.slice(0, 300)}`)
  return JSON.parse(line).result
}

type Rounds = Record<string, ReadonlyArray<number>>

/** The median over a process's rounds of `variant` − `baseline` (the same round), or of `variant` alone. */
const paired = (rounds: Rounds, variant: string, baseline?: string): number =>
  median(rounds[variant]!.map((ns, i) => ns - (baseline === undefined ? 0 : rounds[baseline]![i]!)))

const fixed = (x: number) => x.toFixed(0)

export const run = async (quick: boolean): Promise<Array<Result>> => {
  prepareChild()
  const processes = quick ? 2 : 7
  const calls = quick ? 5_000 : 20_000
  const rounds = quick ? 5 : 11
  const perProcess: Array<Record<string, number>> = []
  for (let p = 0; p < processes; p++) {
    const r = child<Rounds>("time", calls, rounds)
    perProcess.push({
      promise: paired(r, "promise-bare"),
      effect: paired(r, "effect-bare"),
      cockatiel: paired(r, "cockatiel", "promise-bare"),
      timed: paired(r, "cockatiel-timed", "promise-bare"),
      opossum: paired(r, "opossum", "promise-bare"),
      floor: paired(r, "effect-floor", "effect-bare"),
      ours: paired(r, "protected", "effect-bare"),
      aboveFloor: paired(r, "protected", "effect-floor"),
      pure: paired(r, "pure-step")
    })
  }
  const bytes = child<Record<string, number>>("alloc", calls, 1)
  const of = (k: string) => median(perProcess.map((p) => p[k]!))
  const cockatielAll = perProcess.map((p) => p["cockatiel"]!).sort((a, b) => a - b)
  const cockatiel = of("cockatiel")
  const [ours, floor, pure, timed] = [of("ours"), of("floor"), of("pure"), of("timed")]
  const spread = `cockatiel's overhead over ${processes} processes: ${cockatielAll.map(fixed).join(", ")} ns (median ${fixed(cockatiel)})`
  const alloc = (k: string, base?: string) => `${fixed(bytes[k]! - (base === undefined ? 0 : bytes[base]!))} B`
  const baselineName = "cockatiel 3 circuitBreaker.execute (its overhead over a bare awaited promise)"
  return [
    {
      name: "breaker-overhead",
      value: ours,
      unit: "ns/call",
      baseline: cockatiel,
      baselineName,
      ratio: ours / cockatiel,
      target: "at most 2× cockatiel's (ratio ≤ 2)",
      met: ours <= 2 * cockatiel,
      note: `CPU ns per call, median of ${processes} fresh processes × ${rounds} interleaved rounds of ${calls} calls; ${spread}; ` +
        `bare Effect step ${fixed(of("effect"))} ns, bare promise ${fixed(of("promise"))} ns; allocated per call over the bare one: ` +
        `ours ${alloc("protected", "effect-bare")}, the floor ${alloc("effect-floor", "effect-bare")}, cockatiel ${alloc("cockatiel", "promise-bare")}`
    },
    {
      name: "breaker-overhead-pure-step",
      value: pure,
      unit: "ns/call",
      baseline: cockatiel,
      baselineName,
      ratio: pure / cockatiel,
      target: "no more than cockatiel's (ratio ≤ 1)",
      met: pure <= cockatiel,
      note: `KeyProtection.admit + complete of a success, one key, epoch-ms times; ${alloc("pure-step")} allocated per call`
    },
    {
      name: "effect-floor",
      value: floor,
      unit: "ns/call",
      baseline: cockatiel,
      baselineName,
      ratio: floor / cockatiel,
      note: "Protection.execute's call shape with nothing counted (withFiberRuntime, clock read, matchCauseEffect, clock read, exit) minus a bare Effect step: the floor of a breaker built on Effect 3"
    },
    {
      name: "breaker-overhead-above-floor",
      value: of("aboveFloor"),
      unit: "ns/call",
      baseline: cockatiel,
      baselineName,
      ratio: of("aboveFloor") / cockatiel,
      note: "Protection.execute minus the effect-floor row's call shape: what the breaker, health window, metrics and key table add"
    },
    {
      name: "breaker-overhead-vs-cockatiel-timed",
      value: ours,
      unit: "ns/call",
      baseline: timed,
      baselineName: "cockatiel 3 circuitBreaker.execute with an onSuccess listener (times each call)",
      ratio: ours / timed,
      note: "cockatiel reads the clock twice a call only for a listener; Protection always does (the health window's latency samples)"
    },
    {
      name: "breaker-overhead-vs-opossum",
      value: ours,
      unit: "ns/call",
      baseline: of("opossum"),
      baselineName: "opossum 8 CircuitBreaker.fire",
      ratio: ours / of("opossum")
    }
  ]
}
