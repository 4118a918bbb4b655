import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { CacheFile, PeerAddress, PeerTable } from "@bootstrap-cache/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as NodeFs from "node:fs"
import * as NodePathModule from "node:path"
import * as CacheStore from "../src/CacheStore.js"
import { loadableRecords } from "../src/internal/cacheStore/boundary.js"
import { open, T0 } from "./storeHelpers.js"

// What the store journals is what its loader reads back: nothing is accepted, then dropped at load.
const Real = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const A = PeerAddress.unsafeParse("/ip4/1.2.3.4/tcp/4001")
const B = PeerAddress.unsafeParse("/ip4/5.6.7.8/tcp/4001")

const start = Effect.gen(function*() {
  yield* TestClock.setTime(T0)
  const dir = yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "bc-boundary-" }))
  return NodePathModule.join(dir, "peers.json")
})
const reload = (file: string) => Either.getOrThrow(CacheFile.decode(NodeFs.readFileSync(file, "utf8"), { hash: CacheStore.sha256 })).table

describe("CacheStore record boundary", () => {
  it.scoped("an RTT or byte count the file cannot hold is left out; the outcome itself is kept and loads again", () =>
    Effect.gen(function*() {
      const file = yield* start
      const { close, store } = yield* open({ path: file, prune: (t) => t })
      yield* store.recordSuccess(A, { rttMs: Number.POSITIVE_INFINITY, bytes: 1e300 })
      yield* store.recordSuccess(B, { rttMs: -5, bytes: Number.NaN })
      yield* store.recordSuccess(B, { rttMs: 12, bytes: 10.7 })
      expect((yield* store.flush)._tag).toBe("Written")
      yield* close
      const table = reload(file)
      const a = Option.getOrThrow(PeerTable.lookupAddress(table, A)).record
      const b = Option.getOrThrow(PeerTable.lookupAddress(table, B)).record
      expect(a.successes).toBe(1)
      expect(Option.isNone(a.rttMs)).toBe(true)
      expect(a.bytesTransferred).toBe(Number.MAX_SAFE_INTEGER)
      expect(b.successes).toBe(2)
      expect(b.rttMs).toEqual(Option.some(12))
      expect(b.bytesTransferred).toBe(10)
    }).pipe(Effect.provide(Real)))

  it("an imported record the cache file could not hold is split off as a bad entry, the others kept as they load", () => {
    const good = PeerTable.toRecords(PeerTable.add(PeerTable.empty, B, { now: T0, source: { _tag: "connection" } }))[0]!
    const bad = (patch: object) => ({ ...good, addresses: [{ ...good.addresses[0]!, ...patch }] })
    const split = loadableRecords([good, bad({ successes: 1e308 }), bad({ lastSeen: Option.some(2 ** 60) }), bad({ rttMs: Option.some(Number.POSITIVE_INFINITY) })])
    expect(split.records).toEqual([good])
    expect(split.bad.map((b) => b.location)).toEqual(["records[1]", "records[2]", "records[3]"])
  })
})
