/**
 * `load-30k`: opening the store on a 30,000-peer cache file that the store itself wrote — the real
 * load a node does at start (read, `node:crypto` SHA-256 checksum, decode of every record into a
 * `PeerTable`), through `CacheStore.make` (what `CacheStore.layer` runs), read-only so closing it
 * writes nothing. Baseline: `JSON.parse(readFileSync(file))` of the same file. Target: ratio ≤ 2.
 *
 * Every figure of `load-30k` and its floors comes from fresh child processes (`load30kChild.ts`) on
 * the packages' built `dist/`, each running every variant in interleaved rounds after a full
 * collection, so no variant pays for garbage another left (the baseline's `JSON.parse` allocates its
 * result in the old generation, and whether that starts a full collection of what came before made it
 * read anywhere from 75 to 200 ms in one process); a figure is the median over the processes of each
 * process's median CPU time (user + system, every thread). The floors are prefixes of any decode that
 * gives the public table (`load30kChild.ts` defines them): `load-30k-floor-parse` (read, checksum, the
 * peer lines parsed as the decoder parses them), `load-30k-floor-objects` (+ every peer made into
 * objects of the public records' shape, kept in an array, nothing checked), `load-30k-floor-table` (the
 * same in a persistent `HashMap`, as the table holds them), `load-30k-floor-validate`
 * (+ every address through `PeerAddress.parse`, every count checked); `load-30k-decode` is
 * `CacheFile.decode` alone. `load-30k-cold`: the store's open as the first work of a fresh process
 * (JIT cold, the heap module loading left), against the baseline run the same way, alternating
 * processes. The note of `load-30k` splits a decode into its parts (each timed alone, in this process).
 *
 * `load-30k-longest-block`: the longest stretch the event loop does not turn (a `setImmediate` chain's
 * largest gap, the median over runs) while a store opens on the same file, serves its head, decodes the whole file in the
 * background, and replays one outcome onto the view (which reads the address index). Baseline: the
 * synchronous `CacheFile.decode` of the file, the one block the background decode would be at once.
 */
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { keep, median, type Result, timeSync } from "./harness.js"
import { runNode, shared30k } from "./storeFiles.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const CHILD = fileURLToPath(new URL("./dist/load30kChild.mjs", import.meta.url))

/** Brings the packages' `dist/` up to date and compiles the child to plain JavaScript next to this file. */
const compileChild = () => {
  execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "--if-stale"], { stdio: "ignore", timeout: 600_000 })
  const source = readFileSync(fileURLToPath(new URL("./load30kChild.ts", import.meta.url)), "utf8")
  mkdirSync(dirname(CHILD), { recursive: true })
  writeFileSync(CHILD, esbuild.transformSync(source, { loader: "ts", format: "esm", target: "node20" }).code)
}

interface ChildResult {
  readonly cpu: Record<string, ReadonlyArray<number>>
  readonly wall: Record<string, ReadonlyArray<number>>
  readonly gc: Record<string, ReadonlyArray<number>>
  readonly sizes: Record<string, number>
}

/** One fresh process of `load30kChild` on `file`: `rounds` interleaved rounds of `variants` (0: one cold run of the first). */
const child = (file: string, rounds: number, variants: ReadonlyArray<string>, peers: number): ChildResult => {
  const out = execFileSync(process.execPath, ["--expose-gc", CHILD, file, String(rounds), variants.join(",")], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 600_000
  })
  const line = out.split("\n").reverse().find((l) => l.startsWith("{\"mode\""))
  if (line === undefined) throw new Error(`load30kChild printed no result: ${out.slice(0, 300)}`)
  const result = JSON.parse(line).result as ChildResult
  for (const v of variants.slice(0, rounds === 0 ? 1 : variants.length)) {
    if (result.sizes[v] !== peers) throw new Error(`load30kChild ${v} held ${result.sizes[v]} peers of ${peers}`)
  }
  return result
}

const VARIANTS = ["baseline", "floor-parse", "floor-objects", "floor-table", "floor-validate", "decode", "store-open"] as const

/** Per variant, the median over processes of each process's median CPU ms, wall ms and GC ms. */
const freshFigures = (file: string, peers: number, quick: boolean) => {
  const runs = Array.from({ length: quick ? 1 : 3 }, () => child(file, quick ? 2 : 5, VARIANTS, peers))
  const of = (key: "cpu" | "wall" | "gc", v: string) => median(runs.map((r) => median(r[key][v]!)))
  return Object.fromEntries(VARIANTS.map((v) => [v, { cpu: of("cpu", v), wall: of("wall", v), gc: of("gc", v) }])) as Record<
    (typeof VARIANTS)[number],
    { readonly cpu: number; readonly wall: number; readonly gc: number }
  >
}

/** The cold store open and the cold baseline, each the first work of its own fresh process, alternating: medians of CPU ms. */
const coldFigures = (file: string, peers: number, quick: boolean) => {
  const store: Array<number> = []
  const baseline: Array<number> = []
  for (let i = 0; i < (quick ? 1 : 5); i++) {
    baseline.push(child(file, 0, ["baseline"], peers).cpu["baseline"]![0]!)
    store.push(child(file, 0, ["store-open"], peers).cpu["store-open"]![0]!)
  }
  return { store: median(store), baseline: median(baseline), runs: store.length }
}

/**
 * The parts of a decode, each timed alone (ms): read, checksum, line split, `JSON.parse` of the lines,
 * the addresses' parse, the table from the records (`PeerTable.fromRecords`), and the whole decode.
 */
const decodeSplit = (file: string, timing: Parameters<typeof timeSync>[1]) => {
  const text = readFileSync(file, "utf8")
  const lines = text.split("\n").slice(1, -2).map((l) => (l.endsWith(",") ? l.slice(0, -1) : l))
  const read = timeSync(() => readFileSync(file, "utf8"), timing)
  const sha256 = timeSync(() => CacheStore.sha256(text), timing)
  const split = timeSync(() => text.split("\n"), timing)
  const parse = timeSync(() => lines.map((l) => JSON.parse(l)), timing)
  const parsed = lines.map((l) => JSON.parse(l) as ReadonlyArray<unknown>)
  const decode = timeSync(() => keep(CacheFile.decode(text, { hash: CacheStore.sha256 })), timing)
  const addresses = timeSync(() => parsed.map((p) => (p[3] as ReadonlyArray<ReadonlyArray<unknown>>).map((a) => PeerAddress.parse(a[0] as string))), timing)
  const records = PeerTable.toRecords(Either.getOrThrow(CacheFile.decode(text, { hash: CacheStore.sha256 })).table)
  const table = timeSync(() => PeerTable.fromRecords(records), timing)
  return { read, sha256, split, parse, addresses, table, decode }
}

/** The longest gap (ms) between turns of the event loop while `run` runs. */
const longestBlock = async (run: () => Promise<unknown>): Promise<number> => {
  let last = performance.now()
  let longest = 0
  let running = true
  const turn = () => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
    if (running) setImmediate(turn)
  }
  setImmediate(turn)
  await run()
  running = false
  turn()
  return longest
}

const ms = (x: number) => `${x.toFixed(0)} ms`

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const { addresses, bytes, file, peers } = await shared30k()
  compileChild()
  const fresh = freshFigures(file, peers, quick)
  const cold = coldFigures(file, peers, quick)
  const timing = { samples: quick ? 3 : 9, iterations: 1, warmup: quick ? 1 : 2 }
  const split = decodeSplit(file, timing)

  // A warm start's view of the load: head, background decode, then one outcome replayed onto the table.
  const warm = Effect.scoped(Effect.gen(function*() {
    const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, readOnly: true })
    yield* store.head
    yield* store.snapshot
    yield* store.recordSuccess(addresses[addresses.length - 1]!, { rttMs: 5 })
    return PeerTable.addressCount(yield* store.snapshot)
  }))
  const blocks: Array<number> = []
  for (let i = 0; i < (quick ? 2 : 5); i++) blocks.push(await longestBlock(() => runNode(warm)))
  const blockMs = median(blocks.slice(1))

  const base = fresh.baseline
  const baselineName = "JSON.parse(readFileSync) of the same file (CPU ms, fresh processes, interleaved, each after a full collection)"
  const figures = (v: keyof typeof fresh) => `CPU ${ms(fresh[v].cpu)}, wall ${ms(fresh[v].wall)}, of it garbage collection ${ms(fresh[v].gc)}`
  const row = (name: string, v: keyof typeof fresh, what: string): Result => ({
    name,
    value: fresh[v].cpu,
    unit: "ms",
    baseline: base.cpu,
    baselineName,
    ratio: fresh[v].cpu / base.cpu,
    note: `${what}; ${figures(v)}`
  })
  const ratio = fresh["store-open"].cpu / base.cpu
  const parts = `read ${split.read.toFixed(0)}, sha256 ${split.sha256.toFixed(0)}, split ${split.split.toFixed(0)}, ` +
    `JSON.parse of the lines ${split.parse.toFixed(0)}, PeerAddress.parse ${split.addresses.toFixed(0)}, PeerTable.fromRecords ${split.table.toFixed(0)} ms`
  return [{
    ...row("load-30k", "store-open", `CacheStore.make (read-only) + snapshot on ${peers} peers, file ${(bytes / 1e6).toFixed(1)} MB`),
    target: "ratio ≤ 2",
    met: ratio <= 2,
    note: `CacheStore.make (read-only) + snapshot on ${peers} peers, file ${(bytes / 1e6).toFixed(1)} MB: ${figures("store-open")}; ` +
      `the baseline ${figures("baseline")}. In this process (wall, each part timed alone): CacheFile.decode ${split.decode.toFixed(0)} ms, its parts ${parts}`
  }, row("load-30k-decode", "decode", "CacheFile.decode of the text read, alone"),
    row("load-30k-floor-parse", "floor-parse", "read, checksum, the peer lines parsed in runs of 256 as the decoder parses them (values dropped)"),
    row("load-30k-floor-objects", "floor-objects", "floor-parse + every peer as objects of the public records' shape, kept in a plain array, nothing checked"),
    row("load-30k-floor-table", "floor-table", "floor-objects with the records in a persistent HashMap instead of the array"),
    row("load-30k-floor-validate", "floor-validate", "floor-table + every address through PeerAddress.parse, every count checked"), {
    name: "load-30k-cold",
    value: cold.store,
    unit: "ms",
    baseline: cold.baseline,
    baselineName: "JSON.parse(readFileSync) as the first work of a fresh process (CPU ms)",
    ratio: cold.store / cold.baseline,
    note: `the store's open as the first work of a fresh process after its modules load (JIT cold), CPU ms; median of ${cold.runs} processes each, alternating`
  }, {
    name: "load-30k-longest-block",
    value: blockMs,
    unit: "ms",
    baseline: split.decode,
    baselineName: "CacheFile.decode of the file at once (one block)",
    ratio: blockMs / split.decode,
    note: `longest event-loop gap while a store opens from the head, decodes ${peers} peers in the background ` +
      `(${CacheFile.LINES_PER_STEP} lines a slice) and replays one outcome; median of ${blocks.length - 1} runs after a warm-up, each its longest gap (all: ${blocks.slice(1).map((b) => b.toFixed(0)).join(", ")} ms)`
  }]
}
