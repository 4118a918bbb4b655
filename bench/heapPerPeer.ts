/**
 * `heap-per-peer`: bytes of heap per cached peer in a 30,000-peer table (retained size, measured as the
 * heap difference after full collections). Baseline: the same peers as plain JSON objects, as
 * `JSON.parse` of the cache file would hold them.
 *
 * `heap-per-peer-decoded`: the same, for the table as a store holds it after opening its file
 * (`CacheFile.decode` of the version 2 file), with its address index built; same baseline. Every
 * object it holds survives the decode's young-generation collections, which copy it: the bytes a
 * decode keeps are most of what its garbage collection costs. `heap-per-peer-decoded-ids`: the same
 * peers with a peer id each, named by their addresses (`/p2p/<id>`, as a libp2p node's cache holds
 * them); baseline the plain JSON of those peers.
 */
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import type { PeerRecord } from "@bootstrap-cache/core"
import { LoopbackNetwork } from "@bootstrap-cache/testkit"
import * as Option from "effect/Option"
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

/** The table's peers, each given a distinct peer id that its addresses name. */
const withPeerIds = (table: PeerTable.PeerTable): PeerTable.PeerTable =>
  PeerTable.fromRecords(PeerTable.toRecords(table).map((r: PeerRecord.PeerRecord, i): PeerRecord.PeerRecord => {
    const id = LoopbackNetwork.peerIdFor(i)
    return { ...r, peerId: Option.some(id), addresses: r.addresses.map((a) => ({ ...a, address: PeerAddress.withPeerId(a.address, id) })) }
  }))

/** Bytes per peer the table `CacheFile.decode` builds from the version 2 file of `table` keeps, its index built. */
const decodedBytes = (table: PeerTable.PeerTable): { readonly bytes: number; readonly peers: number; readonly fileBytes: number } => {
  const text = CacheFile.encodeCompact(table, { lastUpdated: Date.now(), hash: sha256 })
  const before = heapUsed()
  const decoded = Either.getOrThrow(CacheFile.decode(text, { hash: sha256 })).table
  keep(decoded.index)
  const after = heapUsed()
  keep(decoded)
  const peers = PeerTable.size(decoded)
  keep(undefined)
  return { bytes: (after - before) / peers, peers, fileBytes: text.length }
}

/** Bytes per peer of the plain `JSON.parse` of a table's named encoding. */
const plainBytes = (table: PeerTable.PeerTable): number => {
  const json = JSON.stringify(Schema.encodeSync(PeerTable.PeerTableFromRecords)(table))
  const before = heapUsed()
  const plain = JSON.parse(json) as unknown
  const after = heapUsed()
  keep(plain)
  keep(undefined)
  return (after - before) / PeerTable.size(table)
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

  const decoded_ = decodedBytes(built.table)
  const identified = withPeerIds(built.table)
  const decodedIds = decodedBytes(identified)
  const baselineIds = plainBytes(identified)
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
    value: Math.round(decoded_.bytes),
    unit: "bytes",
    baseline: Math.round(baselineBytes),
    baselineName: "the same peers as plain parsed JSON",
    ratio: decoded_.bytes / baselineBytes,
    note: `CacheFile.decode of the version 2 file (${(decoded_.fileBytes / 1e6).toFixed(1)} MB), ${decoded_.peers} peers; with the address index built`
  }, {
    name: "heap-per-peer-decoded-ids",
    value: Math.round(decodedIds.bytes),
    unit: "bytes",
    baseline: Math.round(baselineIds),
    baselineName: "the same peers as plain parsed JSON",
    ratio: decodedIds.bytes / baselineIds,
    note: `the same, every peer with a peer id its addresses name (${(decodedIds.fileBytes / 1e6).toFixed(1)} MB file), ${decodedIds.peers} peers`
  }]
}
