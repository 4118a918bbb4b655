/**
 * `load-30k`: opening the store on a 30,000-peer cache file that the store itself wrote — the real
 * load a node does at start (read, `node:crypto` SHA-256 checksum, decode of every record into a
 * `PeerTable`), through `CacheStore.make` (what `CacheStore.layer` runs) in a fresh scope each time,
 * read-only so closing it writes nothing. Baseline: `JSON.parse(readFileSync(file))` of the same file.
 * Target: ratio ≤ 2.
 */
import { CacheFile, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { keep, type Result, timeAsync, timeSync } from "./harness.js"
import { runNode, shared30k } from "./storeFiles.js"

export const run = async (quick: boolean): Promise<Array<Result>> => {
  const { file, peers, bytes } = await shared30k()
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
  // The decode alone (no file system, no Effect runtime), for the note.
  const decodeMs = timeSync(() => keep(CacheFile.decode(readFileSync(file, "utf8"), { hash: CacheStore.sha256 })), timing)

  const ratio = storeMs / baselineMs
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
      `of which readFileSync + CacheFile.decode (sha256, records → PeerTable) ${decodeMs.toFixed(0)} ms`
  }]
}
