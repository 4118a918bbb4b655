/**
 * `fast-path-*`: whether each hand-written fast path pays at 30,000 peers, against the library path it
 * stands in for (each has a differential test against that path):
 *
 * - `fast-path-multiaddr-30k`: `PeerAddress.parse` (the fast path, `internal/multiaddrFast`) against
 *   `PeerAddress.parseFull` (`@multiformats/multiaddr` + `ipaddr.js`) on the same 30k strings.
 * - `fast-path-record-decode-30k`: `CacheFile.decode` of a version 2 file (compact records decoded by
 *   hand) against decoding the same records, expanded to named fields, with the `PeerRecord` Schema.
 * - `fast-path-record-encode-30k`: `CacheFile.encodePeerDirect` against `Schema.encodeSync(PeerRecord)`.
 *
 * A ratio below 1 means the fast path pays.
 */
import { CacheFile, PeerAddress, PeerRecord, PeerTable } from "@bootstrap-cache/core"
import { CacheStore } from "@bootstrap-cache/node"
import * as Schema from "effect/Schema"
import { addressesFor, healthyTableOf } from "./fixtures.js"
import { type Result, timeSync } from "./harness.js"

export const run = (quick: boolean): Array<Result> => {
  const n = 30_000
  const timing = { samples: quick ? 3 : 7, iterations: 1, warmup: 1 }
  const texts = addressesFor(n, 5).map((a) => a.multiaddr)
  const fastParse = timeSync(() => texts.map(PeerAddress.parse), timing)
  const fullParse = timeSync(() => texts.map((t) => PeerAddress.parseFull(t)), timing)

  const now = Date.now()
  const { table } = healthyTableOf(n, 9, now)
  const records = PeerTable.toRecords(table)
  const text = CacheFile.encodeCompact(table, { lastUpdated: now, hash: CacheStore.sha256 })
  const named = records.map((r) => JSON.parse(JSON.stringify(Schema.encodeSync(PeerRecord.PeerRecord)(r))))
  const schemaDecode = Schema.decodeUnknownSync(PeerRecord.PeerRecord)
  const fastDecode = timeSync(() => CacheFile.decode(text, { hash: CacheStore.sha256 }), timing)
  const slowDecode = timeSync(() => PeerTable.fromRecords(named.map((r) => schemaDecode(r))), timing)
  const schemaEncode = Schema.encodeSync(PeerRecord.PeerRecord)
  const fastEncode = timeSync(() => records.map(CacheFile.encodePeerDirect), timing)
  const slowEncode = timeSync(() => records.map((r) => schemaEncode(r)), timing)
  return [
    {
      name: "fast-path-multiaddr-30k",
      value: fastParse,
      unit: "ms",
      baseline: fullParse,
      baselineName: "PeerAddress.parseFull (the multiaddr library) on the same 30k strings",
      ratio: fastParse / fullParse
    },
    {
      name: "fast-path-record-decode-30k",
      value: fastDecode,
      unit: "ms",
      baseline: slowDecode,
      baselineName: "the PeerRecord Schema on the same records (named fields), then PeerTable.fromRecords",
      ratio: fastDecode / slowDecode,
      note: "the fast side is the whole CacheFile.decode (parse and checksum included); the Schema side starts from parsed records"
    },
    {
      name: "fast-path-record-encode-30k",
      value: fastEncode,
      unit: "ms",
      baseline: slowEncode,
      baselineName: "Schema.encodeSync(PeerRecord) on the same records",
      ratio: fastEncode / slowEncode
    }
  ]
}
