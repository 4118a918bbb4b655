/**
 * `scale-*`: how load, save, the first select and prune grow with the table, at 1k, 10k, 30k and 100k
 * peers (`--quick`: 1k and 10k), in this process on the core's functions (no store, no lock):
 *
 * - `scale-load-<n>`: `CacheFile.decode` of a version 2 file (parse, checksum, records, table);
 *   baseline `JSON.parse` of the same text.
 * - `scale-save-<n>`: one change, `CacheFile.encodeCompact` (memoised lines), write + `fsync` of the
 *   result; baseline write + `fsync` of the same bytes.
 * - `scale-select-<n>`: the first `Selection.select` of 10 on a table that shares nothing with one
 *   scored before (what a freshly decoded table costs: a full pass); baseline the same select's cost
 *   per peer at the smallest size times n (linear growth).
 * - `scale-prune-<n>`: `Prune.prune` with the defaults; baseline as for select.
 *
 * The note of each row gives µs per peer: flat across sizes means linear, never quadratic. Prune's
 * default capacity (ADR-002's 30,000 peers) makes it remove peers at 100k, as a node would.
 */
import { CacheFile, PeerTable, Prune, Selection } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import { healthyTableOf } from "./fixtures.js"
import { type Result, seeded, timeSync } from "./harness.js"
import { tempDir } from "./storeFiles.js"

const hash = CacheStore.sha256

const writeSynced = (file: string, text: string) => {
  const fd = openSync(file, "w")
  writeSync(fd, text)
  fsyncSync(fd)
  closeSync(fd)
}

export const run = (quick: boolean): Array<Result> => {
  const sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 30_000, 100_000]
  const { dir, dispose } = tempDir("scale")
  const rand = seeded(3)
  const draws = () => Array.from({ length: Selection.drawsNeeded(10) }, rand)
  const rows: Array<Result> = []
  const perPeer: Record<string, Array<string>> = { load: [], save: [], select: [], prune: [] }
  let selectUnit = 0
  let pruneUnit = 0
  try {
    for (const n of sizes) {
      const now = Date.now()
      const { addresses, table } = healthyTableOf(n, 11, now)
      const text = CacheFile.encodeCompact(table, { lastUpdated: now, hash })
      const samples = n >= 30_000 ? (quick ? 2 : 5) : quick ? 3 : 7
      const timing = { samples, iterations: 1, warmup: 1 }
      const label = n >= 1000 ? `${n / 1000}k` : String(n)

      const parseMs = timeSync(() => JSON.parse(text), timing)
      let decoded = table
      const loadMs = timeSync(() => {
        const d = CacheFile.decode(text, { hash })
        if (d._tag === "Left") throw d.left
        decoded = d.right.table
      }, timing)

      const file = join(dir, `scale-${n}.json`)
      let i = 0
      let current = decoded
      CacheFile.encodeCompact(current, { lastUpdated: now, hash }) // memoises the lines, as the store's first save does
      const saveMs = timeSync(() => {
        current = PeerTable.recordSuccess(current, addresses[(i++ * 7919) % addresses.length]!, now + i, { rttMs: 20 })
        writeSynced(file, CacheFile.encodeCompact(current, { lastUpdated: now + i, hash }))
      }, timing)
      const bytes = CacheFile.encodeCompact(current, { lastUpdated: now + i, hash })
      const writeMs = timeSync(() => writeSynced(file, bytes), timing)
      rmSync(file, { force: true })

      // First select on tables that share nothing with one scored before (a select memoises per table
      // and derives from the pool of the table a table was made from): the full pass of a fresh decode.
      const records = PeerTable.toRecords(decoded)
      const fresh = Array.from({ length: timing.samples + timing.warmup }, () => PeerTable.fromRecords(records))
      let k = 0
      const selectMs = timeSync(() => Selection.select(fresh[k++]!, { now, count: 10, draws: draws() }), timing)
      const pruneMs = timeSync(() => Prune.prune(decoded, now), timing)
      if (selectUnit === 0) selectUnit = selectMs / n
      if (pruneUnit === 0) pruneUnit = pruneMs / n

      const us = (ms: number) => `${label}: ${((ms * 1000) / n).toFixed(2)}`
      perPeer.load!.push(us(loadMs))
      perPeer.save!.push(us(saveMs))
      perPeer.select!.push(us(selectMs))
      perPeer.prune!.push(us(pruneMs))
      rows.push(
        { name: `scale-load-${label}`, value: loadMs, unit: "ms", baseline: parseMs, baselineName: "JSON.parse of the same text", ratio: loadMs / parseMs },
        { name: `scale-save-${label}`, value: saveMs, unit: "ms", baseline: writeMs, baselineName: "write + fsync of the same bytes", ratio: saveMs / writeMs },
        {
          name: `scale-select-${label}`,
          value: selectMs,
          unit: "ms",
          baseline: selectUnit * n,
          baselineName: `linear growth from ${sizes[0]! / 1000}k`,
          ratio: selectMs / (selectUnit * n)
        },
        {
          name: `scale-prune-${label}`,
          value: pruneMs,
          unit: "ms",
          baseline: pruneUnit * n,
          baselineName: `linear growth from ${sizes[0]! / 1000}k`,
          ratio: pruneMs / (pruneUnit * n)
        }
      )
    }
  } finally {
    dispose()
  }
  const last = rows.length - 4
  for (const [j, what] of (["load", "save", "select", "prune"] as const).entries()) {
    rows[last + j] = { ...rows[last + j]!, note: `µs per peer, ${perPeer[what]!.join(", ")}` }
  }
  return rows
}
