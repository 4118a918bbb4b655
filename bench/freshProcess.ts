/**
 * A fresh process, as users run it: plain `node` on the packages' built `dist/` (no tsx), each figure
 * in its own process, median of several runs. `dist/` is rebuilt first when stale.
 *
 * - `module-load-core`, `module-load-node`, `module-load-libp2p`: from the first line of the process to
 *   the end of `import()` of `@bootstrap-cache/core`; of `@bootstrap-cache/node` with
 *   `@effect/platform-node/NodeContext` (what a program providing `NodeContext.layer` loads); of
 *   `@bootstrap-cache/libp2p`. Baseline, same run: importing `effect/Effect` alone. The note gives the
 *   ES modules each loads (counted by a resolve hook, in a separate process).
 * - `cache-store-open-40-dist`: `CacheStore.layer` + the first `snapshot` on a 40-peer cache, from
 *   modules loaded, with the `FileSystem` and `Path` the libp2p client provides. Target ≤ 20 ms.
 *   Baseline: `readFileSync` + `JSON.parse` of the same file in a fresh process, also from its first
 *   line (so both include their first-use compilation).
 * - `effect-layer-floor`: the same program with a `Layer.scoped` service of one finalizer in place of
 *   `CacheStore.layer` (the same platform Layers, `Effect.scoped`, `runPromise`): what Effect's
 *   machinery costs the first time in a fresh process before the store does anything. Baseline: the
 *   open-40 row, so the ratio is the floor's share of it. Its note splits it: `Effect.runPromise` of
 *   `Effect.void` alone, then `Effect.void` with the platform Layers provided, each in its own process.
 * - `effect-layer-floor-turn`: the floor's program with one turn of the event loop (a `setImmediate`)
 *   in its service's acquisition, as any program doing I/O takes one: V8 then runs the collection of
 *   the heap module loading left, which the open pays at its first file-system call and a program that
 *   never leaves the microtask queue does not pay in its window. Baseline: the open-40 row.
 *
 * The notes also give each program's CPU time (user + system, every thread: on a busy machine the wall
 * time includes waiting for a core) and the time spent in garbage collection in the window
 * (`v8.GCProfiler`): the heap module loading leaves is collected at the first turn of the event loop.
 */
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { median, type Result } from "./harness.js"
import { tempDir } from "./storeFiles.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))

/** Module text of a child that imports `specifiers` and prints the ms it took, from its first line. */
const importChild = (specifiers: ReadonlyArray<string>) =>
  `const t = performance.now(); ${specifiers.map((s) => `await import(${JSON.stringify(s)});`).join(" ")} ` +
  `process.stdout.write(String(performance.now() - t))`

/** A resolve hook appending every module URL the process resolves to the file named by `$MODULE_LOG`. */
const LOG_HOOK = "data:text/javascript," + encodeURIComponent(
  `import { register } from "node:module"; register("data:text/javascript," + encodeURIComponent(` +
    `"import { appendFileSync } from 'node:fs'; export const resolve = async (s, c, next) => { const r = await next(s, c); ` +
    `appendFileSync(process.env.MODULE_LOG, r.url + '\\\\n'); return r }"))`
)

/**
 * The start of a timed child's window (after its imports): `t` and `c` for {@link TIMED_END}, and a
 * `GCProfiler` (`node:v8`, imported before `t`) that times every garbage collection in the window.
 */
const TIMED_START = `const gcs = new v8.GCProfiler(); gcs.start(); const t = performance.now(); const c = process.cpuUsage(); `

/**
 * The end of a timed child's text: prints the wall ms since `t`, the CPU ms (user + system, every
 * thread) since `c` (on a busy machine the wall time includes waiting for a core) and the ms spent in
 * garbage collections in the window.
 */
const TIMED_END = `const w = performance.now() - t; const u = process.cpuUsage(c); ` +
  `const gc = gcs.stop().statistics.reduce((sum, e) => sum + e.cost, 0) / 1000; ` +
  `process.stdout.write(\`\${w} \${(u.user + u.system) / 1000} \${gc}\`)`

/** Module text of a child that opens `file` with `CacheStore.layer` and prints the ms to the first snapshot. */
const openChild = (file: string) =>
  `const [{ CacheStore }, Duration, Effect, Layer, NodeFileSystem, NodePath, v8] = await Promise.all([` +
  `import("@bootstrap-cache/node"), import("effect/Duration"), import("effect/Effect"), import("effect/Layer"), ` +
  `import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodePath"), import("node:v8")]); ` +
  TIMED_START +
  `const store = CacheStore.layer({ path: ${JSON.stringify(file)}, flushInterval: Duration.infinity, readOnly: true }); ` +
  `await Effect.runPromise(Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(Effect.scoped, ` +
  `Effect.provide(store), Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))); ` +
  TIMED_END

/** The open's program with a trivial scoped service, acquired by `acquire`, in place of `CacheStore.layer`. */
const scopedService = (acquire: string) =>
  `const service = Layer.scoped(Tag, Effect.as(${acquire}, { read: Effect.succeed(0) })); ` +
  `await Effect.runPromise(Effect.flatMap(Tag, (s) => s.read).pipe(Effect.scoped, ` +
  `Effect.provide(service), Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))); `

/**
 * The programs of the floor rows, each run in place of the store's in {@link openChild}'s process
 * (the same modules loaded): `layer`, a trivial scoped service on the platform Layers (the open's
 * program without the store); `turn`, the same with one turn of the event loop (a `setImmediate`) in
 * the service's acquisition; `platform`, `Effect.void` with the platform Layers provided; `run`,
 * `Effect.runPromise(Effect.void)` alone.
 */
const FLOOR_PROGRAMS = {
  layer: scopedService("Effect.addFinalizer(() => Effect.void)"),
  turn: scopedService("Effect.zipRight(Effect.promise(() => new Promise((r) => setImmediate(r))), Effect.addFinalizer(() => Effect.void))"),
  platform: `await Effect.runPromise(Effect.void.pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))); `,
  run: `await Effect.runPromise(Effect.void); `
} as const

/** Module text of a child that runs one of the {@link FLOOR_PROGRAMS} after loading what {@link openChild} loads. */
const floorChild = (program: keyof typeof FLOOR_PROGRAMS) =>
  `const [Context, Effect, Layer, NodeFileSystem, NodePath, v8] = await Promise.all([` +
  `import("effect/Context"), import("effect/Effect"), import("effect/Layer"), ` +
  `import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodePath"), import("node:v8"), import("@bootstrap-cache/node")]); ` +
  `const Tag = Context.GenericTag("floor"); ` + TIMED_START + FLOOR_PROGRAMS[program] + TIMED_END

const parseChild = (file: string) =>
  `const fs = await import("node:fs"); const t = performance.now(); ` +
  `JSON.parse(fs.readFileSync(${JSON.stringify(file)}, "utf8")); process.stdout.write(String(performance.now() - t))`

/** Runs a child's module text in a fresh `node`; the number it prints (ms). */
const runChild = (code: string): number =>
  Number(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 }))

/** Runs a timed child (see {@link TIMED_END}); its wall, CPU and garbage collection ms. */
const runTimed = (code: string): { readonly wall: number; readonly cpu: number; readonly gc: number } => {
  const [wall, cpu, gc] = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 })
    .split(" ").map(Number)
  return { wall: wall!, cpu: cpu!, gc: gc! }
}

/** The distinct ES modules (`node:` builtins left out) a fresh process importing `specifiers` loads. */
const modulesOf = (dir: string, specifiers: ReadonlyArray<string>): number => {
  const log = join(dir, `modules-${specifiers.join("+").replace(/[^a-z0-9+]/gi, "_")}.txt`)
  writeFileSync(log, "")
  execFileSync(process.execPath, ["--import", LOG_HOOK, "--input-type=module", "-e", importChild(specifiers)], {
    cwd: ROOT,
    env: { ...process.env, MODULE_LOG: log },
    stdio: "ignore"
  })
  return new Set(readFileSync(log, "utf8").split("\n").filter((u) => u.length > 0 && !u.startsWith("node:"))).size
}

/** A 40-peer version 2 cache file (every peer answered once). */
const writeSmallCache = (file: string): void => {
  const now = Date.now()
  let table = PeerTable.empty
  for (let i = 0; i < 40; i++) {
    const address = PeerAddress.unsafeParse(`/ip4/10.0.${i}.1/tcp/4001`)
    table = PeerTable.add(table, address, { now: now - 60_000, source: { _tag: "user" } })
    table = PeerTable.recordSuccess(table, address, now - 1000, { rttMs: 5 })
  }
  writeFileSync(file, CacheFile.encodeCompact(table, { lastUpdated: now, hash: CacheStore.sha256 }))
}

export const run = (quick: boolean): Array<Result> => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], { cwd: ROOT, stdio: "ignore" })
  const runs = quick ? 3 : 9
  const { dir, dispose } = tempDir("fresh-process")
  try {
    const small = join(dir, "40.json")
    writeSmallCache(small)
    const cases = {
      baseline: ["effect/Effect"],
      core: ["@bootstrap-cache/core"],
      node: ["@bootstrap-cache/node", "@effect/platform-node/NodeContext"],
      libp2p: ["@bootstrap-cache/libp2p"]
    } as const
    const samples: Record<string, Array<number>> = { baseline: [], core: [], node: [], libp2p: [], parse: [] }
    const push = (name: string, value: number) => (samples[name] ??= []).push(value)
    const timed = (name: string, code: string) => {
      const { cpu, gc, wall } = runTimed(code)
      push(name, wall)
      push(`${name}Cpu`, cpu)
      push(`${name}Gc`, gc)
    }
    // Interleaved, so a burst of load on the machine touches every figure alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, specifiers] of Object.entries(cases)) samples[name]!.push(runChild(importChild(specifiers)))
      timed("open", openChild(small))
      timed("floor", floorChild("layer"))
      timed("floorTurn", floorChild("turn"))
      timed("floorPlatform", floorChild("platform"))
      timed("floorRun", floorChild("run"))
      samples.parse!.push(runChild(parseChild(small)))
    }
    const m = (name: string) => median(samples[name]!)
    const ms = (name: string) => `${m(name).toFixed(1)} ms`
    const baseline = m("baseline")
    const note = (specifiers: ReadonlyArray<string>) =>
      `plain node on dist, median of ${runs} fresh processes; ${modulesOf(dir, specifiers)} ES modules ` +
      `(effect/Effect alone: ${modulesOf(dir, cases.baseline)})`
    const loadRow = (name: keyof typeof cases, what: string): Result => ({
      name: `module-load-${name}`,
      value: m(name),
      unit: "ms",
      baseline,
      baselineName: "importing effect/Effect alone",
      ratio: m(name) / baseline,
      note: `import of ${what}; ${note(cases[name])}`
    })
    const open = m("open")
    return [
      loadRow("core", "@bootstrap-cache/core"),
      loadRow("node", "@bootstrap-cache/node + @effect/platform-node/NodeContext"),
      loadRow("libp2p", "@bootstrap-cache/libp2p"),
      {
        name: "cache-store-open-40-dist",
        value: open,
        unit: "ms",
        baseline: m("parse"),
        baselineName: "readFileSync + JSON.parse of the same file in a fresh process",
        ratio: open / m("parse"),
        target: "≤ 20 ms",
        met: open <= 20,
        note: `CacheStore.layer (readOnly) + first snapshot, 40 peers (${readFileSync(small).length} bytes), from modules loaded; ` +
          `plain node on dist, median of ${runs} fresh processes; Effect's floor (effect-layer-floor) ${ms("floor")}; ` +
          `CPU time ${ms("openCpu")} (the floor's ${ms("floorCpu")}); garbage collection in the window ${ms("openGc")} (the floor's ${ms("floorGc")})`
      },
      {
        name: "effect-layer-floor",
        value: m("floor"),
        unit: "ms",
        baseline: open,
        baselineName: "cache-store-open-40-dist (the row above)",
        ratio: m("floor") / open,
        note: "the open-40 program with a Layer.scoped service of one finalizer instead of CacheStore.layer: the platform Layers, " +
          `the scope and runPromise run for the first time; plain node on dist, median of ${runs} fresh processes. ` +
          `Its parts, each alone in the same process: Effect.runPromise(Effect.void) ${ms("floorRun")} (garbage collection ${ms("floorRunGc")}); ` +
          `Effect.void with the platform Layers (NodeFileSystem + NodePath) provided ${ms("floorPlatform")} (garbage collection ${ms("floorPlatformGc")}); ` +
          `this row's garbage collection ${ms("floorGc")}, CPU time ${ms("floorCpu")}: this program never takes a turn of the event loop, ` +
          "where V8 collects the heap module loading left (see effect-layer-floor-turn)"
      },
      {
        name: "effect-layer-floor-turn",
        value: m("floorTurn"),
        unit: "ms",
        baseline: open,
        baselineName: "cache-store-open-40-dist",
        ratio: m("floorTurn") / open,
        note: "effect-layer-floor with one turn of the event loop (a setImmediate) in the service's acquisition, as any program that " +
          "does I/O takes one: V8 then runs the young-generation collection of the heap module loading left, which a program " +
          `that never leaves the microtask queue (effect-layer-floor) does not pay in its window; garbage collection ${ms("floorTurnGc")}, ` +
          `CPU time ${ms("floorTurnCpu")}; plain node on dist, median of ${runs} fresh processes`
      }
    ]
  } finally {
    dispose()
  }
}
