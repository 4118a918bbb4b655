/**
 * `heap-per-peer`: bytes of heap per cached peer in a 30,000-peer table (retained size, measured as the
 * heap difference after full collections). Baseline: the same peers as plain JSON objects, as
 * `JSON.parse` of the cache file would hold them.
 *
 * `heap-per-peer-decoded`: the same, for the table as a store holds it after opening its file
 * (`CacheFile.decode` of the version 2 file), with its address index built; same baseline. Every
 * object it holds survives the decode's young-generation collections, which copy it: the bytes a
 * decode keeps are most of what its garbage collection costs.
 */
import { CacheFile, PeerTable } from "@bootstrap-cache/core"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { tableOf } from "./fixtures.js"
import { gc, keep, type Result } from "./harness.js"

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

const heapUsed = () => {
  gc()
  return process.memoryUsage().heapUsed
}

export const run = (_quick: boolean): Array<Result> => {
  const n = 30_000
  if (!gc()) {
    return [{ name: "heap-per-peer", value: Number.NaN, unit: "bytes", baseline: null, ratio: null, baselineName: "", note: "needs node --expose-gc" }]
  }
  const built = tableOf(n)
  const json = JSON.stringify(Schema.encodeSync(PeerTable.PeerTableFromRecords)(built.table))
  const peers = PeerTable.size(built.table)
  keep(undefined)

  const before = heapUsed()
  const plain = JSON.parse(json) as unknown
  const afterPlain = heapUsed()
  keep(plain)
  const baselineBytes = (afterPlain - before) / peers
  keep(undefined)

  const start = heapUsed()
  const decoded = Schema.decodeUnknownSync(PeerTable.PeerTableFromRecords)(JSON.parse(json))
  // A table in use: its address index built (a decoded table builds it at its first read).
  keep(decoded.index)
  const end = heapUsed()
  keep(decoded)
  const bytes = (end - start) / peers
  keep(undefined)

  const text = CacheFile.encodeCompact(built.table, { lastUpdated: Date.now(), hash: sha256 })
  const beforeDecode = heapUsed()
  const table = Either.getOrThrow(CacheFile.decode(text, { hash: sha256 })).table
  keep(table.index)
  const afterDecode = heapUsed()
  keep(table)
  const decodedBytes = (afterDecode - beforeDecode) / peers
  return [{
    name: "heap-per-peer",
    value: Math.round(bytes),
    unit: "bytes",
    baseline: Math.round(baselineBytes),
    baselineName: "the same peers as plain parsed JSON",
    ratio: bytes / baselineBytes,
    note: `${peers} peers, ${PeerTable.addressCount(decoded)} addresses, file ${(json.length / 1e6).toFixed(1)} MB; with the address index built`
  }, {
    name: "heap-per-peer-decoded",
    value: Math.round(decodedBytes),
    unit: "bytes",
    baseline: Math.round(baselineBytes),
    baselineName: "the same peers as plain parsed JSON",
    ratio: decodedBytes / baselineBytes,
    note: `CacheFile.decode of the version 2 file (${(text.length / 1e6).toFixed(1)} MB), ${PeerTable.size(table)} peers; with the address index built`
  }]
}
