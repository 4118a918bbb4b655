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
 *   open-40 row, so the ratio is the floor's share of it.
 *
 * The open-40 note also gives both programs' CPU time (user + system, every thread): on a busy machine
 * the wall time includes waiting for a core.
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
 * The end of a timed child's text: prints the wall ms since `t` and the CPU ms (user + system, every
 * thread) since `c`: on a busy machine the wall time includes waiting for a core.
 */
const TIMED_END = `const u = process.cpuUsage(c); process.stdout.write(\`\${performance.now() - t} \${(u.user + u.system) / 1000}\`)`

/** Module text of a child that opens `file` with `CacheStore.layer` and prints the ms to the first snapshot. */
const openChild = (file: string) =>
  `const [{ CacheStore }, Duration, Effect, Layer, NodeFileSystem, NodePath] = await Promise.all([` +
  `import("@bootstrap-cache/node"), import("effect/Duration"), import("effect/Effect"), import("effect/Layer"), ` +
  `import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodePath")]); ` +
  `const t = performance.now(); const c = process.cpuUsage(); ` +
  `const store = CacheStore.layer({ path: ${JSON.stringify(file)}, flushInterval: Duration.infinity, readOnly: true }); ` +
  `await Effect.runPromise(Effect.flatMap(CacheStore.CacheStore, (s) => s.snapshot).pipe(Effect.scoped, ` +
  `Effect.provide(store), Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))); ` +
  TIMED_END

/** Module text of a child that runs {@link openChild}'s program with a trivial scoped service instead of the store. */
const floorChild = () =>
  `const [Context, Effect, Layer, NodeFileSystem, NodePath] = await Promise.all([` +
  `import("effect/Context"), import("effect/Effect"), import("effect/Layer"), ` +
  `import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodePath"), import("@bootstrap-cache/node")]); ` +
  `const Tag = Context.GenericTag("floor"); const t = performance.now(); const c = process.cpuUsage(); ` +
  `const service = Layer.scoped(Tag, Effect.as(Effect.addFinalizer(() => Effect.void), { read: Effect.succeed(0) })); ` +
  `await Effect.runPromise(Effect.flatMap(Tag, (s) => s.read).pipe(Effect.scoped, ` +
  `Effect.provide(service), Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))); ` +
  TIMED_END

const parseChild = (file: string) =>
  `const fs = await import("node:fs"); const t = performance.now(); ` +
  `JSON.parse(fs.readFileSync(${JSON.stringify(file)}, "utf8")); process.stdout.write(String(performance.now() - t))`

/** Runs a child's module text in a fresh `node`; the number it prints (ms). */
const runChild = (code: string): number =>
  Number(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 }))

/** Runs a timed child (see {@link TIMED_END}); its wall and CPU ms. */
const runTimed = (code: string): { readonly wall: number; readonly cpu: number } => {
  const [wall, cpu] = execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 })
    .split(" ").map(Number)
  return { wall: wall!, cpu: cpu! }
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
    const samples: Record<string, Array<number>> = { baseline: [], core: [], node: [], libp2p: [], open: [], floor: [], parse: [], openCpu: [], floorCpu: [] }
    // Interleaved, so a burst of load on the machine touches every figure alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, specifiers] of Object.entries(cases)) samples[name]!.push(runChild(importChild(specifiers)))
      const open = runTimed(openChild(small))
      const floor = runTimed(floorChild())
      samples.open!.push(open.wall)
      samples.openCpu!.push(open.cpu)
      samples.floor!.push(floor.wall)
      samples.floorCpu!.push(floor.cpu)
      samples.parse!.push(runChild(parseChild(small)))
    }
    const m = (name: string) => median(samples[name]!)
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
          `plain node on dist, median of ${runs} fresh processes; Effect's floor (effect-layer-floor) ${m("floor").toFixed(1)} ms; ` +
          `CPU time ${m("openCpu").toFixed(1)} ms (the floor's ${m("floorCpu").toFixed(1)} ms)`
      },
      {
        name: "effect-layer-floor",
        value: m("floor"),
        unit: "ms",
        baseline: open,
        baselineName: "cache-store-open-40-dist (the row above)",
        ratio: m("floor") / open,
        note: "the open-40 program with a Layer.scoped service of one finalizer instead of CacheStore.layer: the platform Layers, " +
          `the scope and runPromise run for the first time; plain node on dist, median of ${runs} fresh processes`
      }
    ]
  } finally {
    dispose()
  }
}
