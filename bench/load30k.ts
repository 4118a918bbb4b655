/**
 * `load-30k`: opening the store on a 30,000-peer cache file that the store itself wrote — the real
 * load a node does at start (read, `node:crypto` SHA-256 checksum, decode of every record into a
 * `PeerTable`), through `CacheStore.make` (what `CacheStore.layer` runs) in a fresh scope each time,
 * read-only so closing it writes nothing. Baseline: `JSON.parse(readFileSync(file))` of the same file.
 * Target: ratio ≤ 2. The note splits a decode into its parts (each timed alone, with the core's public
 * functions where it has them).
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
import { readFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { keep, median, type Result, timeAsync, timeSync } from "./harness.js"
import { runNode, shared30k } from "./storeFiles.js"

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

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const { addresses, bytes, file, peers } = await shared30k()
  const samples = quick ? 3 : 9
  const timing = { samples, iterations: 1, warmup: quick ? 1 : 2 }

  const baselineMs = timeSync(() => JSON.parse(readFileSync(file, "utf8")), timing)
  let loaded = 0
  const open = Effect.scoped(Effect.gen(function*() {
    const store = yield* CacheStore.make({ path: file, flushInterval: Duration.infinity, readOnly: true })
    return PeerTable.size(yield* store.snapshot)
  }))
  const storeMs = await timeAsync(async () => {
    loaded = await runNode(open)
  }, timing)
  if (loaded !== peers) throw new Error(`the store loaded ${loaded} peers of ${peers}`)
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

  const ratio = storeMs / baselineMs
  const parts = `read ${split.read.toFixed(0)}, sha256 ${split.sha256.toFixed(0)}, split ${split.split.toFixed(0)}, ` +
    `JSON.parse of the lines ${split.parse.toFixed(0)}, PeerAddress.parse ${split.addresses.toFixed(0)}, PeerTable.fromRecords ${split.table.toFixed(0)} ms`
  return [{
    name: "load-30k",
    value: storeMs,
    unit: "ms",
    baseline: baselineMs,
    baselineName: "JSON.parse(readFileSync) of the same file",
    ratio,
    target: "ratio ≤ 2",
    met: ratio <= 2,
    note: `CacheStore.make (read-only) + snapshot on ${peers} peers, file ${(bytes / 1e6).toFixed(1)} MB; ` +
      `CacheFile.decode alone ${split.decode.toFixed(0)} ms (its parts alone: ${parts}; the rest is building the records)`
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
